// Mistake: "the device is ahead" is written as usedIdx > lastUsed: true
// until the device's idx wraps to 0 while the driver's is still near
// 0xffff, then false with entries waiting.
// Source: none (the comparison every free-running counter tempts).
// Must fail: "moreUsed sees every entry waiting, Queue Size of them too, across the wrap" [2.7.8/D2]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { getBuf, pushUsed } from "../correct/straight_line.ts";

export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return ring.memory.readU16(ring.usedAddr + 2) > ring.lastUsed;
}
