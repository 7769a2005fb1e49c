// Mistake: availableCount subtracts the two indices as plain numbers: across
// the wrap (idx 0x0001, lastAvail 0xfffe) the distance is negative, and the
// device takes a driver that keeps every rule for one that moved idx back.
// Source: none; the arcboxlabs/arcbox PR #210 review found a device loop that never terminated at the same wrap.
// Must fail: "availableCount is idx - lastAvail over the whole 16-bit plane" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const pending = idx - ring.lastAvail;
  if (pending < 0) {
    breakDeviceRing(ring, "2.7.6.1/1", `idx went back from ${ring.lastAvail} to ${idx}`, { idx });
    return 0;
  }
  if (pending > ring.size) {
    breakDeviceRing(ring, "2.7.6/D1", `idx ${idx} is ${pending} ahead`, { idx });
    return 0;
  }
  return pending;
}
