// Mistake: availableCount also moves lastAvail up to idx, "they are counted,
// so they are taken": availHead then reads the slots after them, and the
// chains counted are never taken.
// Source: none.
// Must fail: "availableCount is idx - lastAvail over the whole 16-bit plane" [2.7.6/D1]

import { availableCount as count } from "../correct/linux_style.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  const n = count(ring);
  ring.lastAvail = (ring.lastAvail + n) & 0xffff;
  return n;
}
