// Mistake: availableCount checks one read of idx and returns another: a
// driver on another CPU moves idx in between, and the device takes an
// unchecked number of entries.
// Source: FreeBSD-SA-24:17.bhyve (a length read twice from guest memory, checked once).
// Must fail: "availableCount reads idx once" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

const availIdx = (ring: SplitDeviceRing) =>
  ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const distance = (availIdx(ring) - ring.lastAvail) & 0xffff;
  if (distance > ring.size) {
    const back = distance > 0x8000;
    breakDeviceRing(ring, back ? "2.7.6.1/1" : "2.7.6/D1", "impossible idx", { distance });
    return 0;
  }
  return (availIdx(ring) - ring.lastAvail) & 0xffff;
}
