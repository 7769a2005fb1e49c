// Mistake: the chain is detached as soon as its id checks out, and the len
// is checked afterwards: a device that lies about len gets the chain's
// descriptors freed on its word, and the driver reuses them while the device
// may still be writing.
// Source: none (the order of "free" and "check" looks free).
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
  const writable = ring.writable[id];
  const token = detach(id);
  if (len > writable) return breakDriverRing(ring, "2.7.8.2/2", `len ${len}`, { len });
  ring.lastUsed = (ring.lastUsed + 1) & 0xffff;
  ring.published--;
  return { token, len };
}
