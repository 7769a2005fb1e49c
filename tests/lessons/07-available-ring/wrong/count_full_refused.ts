// Mistake: availableCount refuses a distance of Queue Size as too far ahead
// (">=" for ">"): a driver that fills the whole ring in one batch, which the
// spec allows, gets its queue broken.
// Source: none; the kit's corpus keeps "an available idx exactly Queue Size entries ahead" as a valid edge.
// Must fail: "availableCount is idx - lastAvail over the whole 16-bit plane" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const distance = (idx - ring.lastAvail) & 0xffff;
  if (distance < ring.size) return distance;
  const back = distance > 0x8000;
  breakDeviceRing(ring, back ? "2.7.6.1/1" : "2.7.6/D1", `idx ${idx} is impossible`, { idx });
  return 0;
}
