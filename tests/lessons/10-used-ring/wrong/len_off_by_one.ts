// Mistake: "len must be less than the buffer" instead of "at most": a device
// that fills the buffer exactly is refused, and the queue breaks on a good
// completion.
// Source: the same off-by-one as Firecracker #1296 (a buffer ending exactly at the edge refused).
// Must fail: "a used len above the writable bytes posted is refused" [2.7.8.2/2]

import { breakDriverRing, HEAD_PUBLISHED } from "../../../../virtqueue/driver/ring.ts";
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
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(ring, "2.7.8/D1", `bad used id ${id}`, { id });
  }
  if (len >= ring.writable[id] && len > 0) {
    return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  }
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}
