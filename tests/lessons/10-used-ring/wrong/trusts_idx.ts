// Mistake: every element up to the used idx is taken at its word: the idx
// is never compared with the chains outstanding, so a device that runs idx
// ahead makes the driver read elements nobody wrote.
// Source: none for the driver (the device-side twin is QEMU's "Guest moved used index" check).
// Must fail: "a used idx beyond what is outstanding is refused, across the wrap too" [2.7.8/D2]

import { breakDriverRing, HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export { moreUsed, pushUsed } from "../correct/straight_line.ts";

export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  if (ring.memory.readU16(ring.usedAddr + 2) === ring.lastUsed) return null;
  const elem = ring.usedAddr + 4 + 8 * (ring.lastUsed & ring.mask);
  const id = ring.memory.readU32(elem);
  const len = ring.memory.readU32(elem + 4);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(ring, "2.7.8/D1", `bad used id ${id}`, { id });
  }
  if (len > ring.writable[id]) return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
