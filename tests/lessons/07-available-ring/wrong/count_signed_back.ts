// Mistake: availableCount reads the distance as a signed 16-bit number and
// calls every negative one "moved back": exactly 0x8000 ahead is -32768, and
// the device blames the wrong rule (2.7.6.1/1 for 2.7.6/D1).
// Source: none.
// Must fail: "an idx more than Queue Size ahead is refused" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const signed = ((idx - ring.lastAvail) << 16) >> 16;
  if (signed < 0) {
    breakDeviceRing(ring, "2.7.6.1/1", `idx moved back by ${-signed}`, { idx });
    return 0;
  }
  if (signed > ring.size) {
    breakDeviceRing(ring, "2.7.6/D1", `idx is ${signed} ahead`, { idx });
    return 0;
  }
  return signed;
}
