// Mistake: availableCount throws on an impossible idx instead of reporting
// it: the exception leaves the device model in the middle of its work, and a
// guest that writes one bad number takes the device (or the whole host
// process) down with it.
// Source: none; "nothing a hostile driver does may crash the process".
// Must fail: "an idx more than Queue Size ahead is refused" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const distance = (idx - ring.lastAvail) & 0xffff;
  if (distance > ring.size) {
    throw new RangeError(`Available idx ${idx} is impossible after ${ring.lastAvail}`);
  }
  return distance;
}
