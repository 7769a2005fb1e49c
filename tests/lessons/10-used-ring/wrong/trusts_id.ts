// Mistake: the id is checked against the Queue Size only, not against the
// chains in flight: an id the driver never posted, a mid-chain descriptor or
// the same head twice frees descriptors that are not the device's to give.
// Source: intel/MigTD PR #986 (used ids trusted); xv6-riscv trusted used ids throughout.
// Must fail: "a used id that is not the head of an outstanding chain is refused" [2.7.8/D1]

import { breakDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export { moreUsed, pushUsed } from "../correct/straight_line.ts";

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  const idx = ring.memory.readU16(ring.usedAddr + 2);
  if (idx === ring.lastUsed) return null;
  if (((idx - ring.lastUsed) & 0xffff) > ring.published) {
    return breakDriverRing(ring, "2.7.8/D2", `used idx ${idx} too far`, { idx });
  }
  const elem = ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask);
  const id = ring.memory.readU32(elem);
  const len = ring.memory.readU32(elem + 4);
  if (id >= ring.size) return breakDriverRing(ring, "2.7.8/D1", `used id ${id}`, { id });
  if (len > ring.writable[id]) return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
