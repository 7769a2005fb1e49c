// Mistake: availableCount takes the distance modulo Queue Size, "the ring has
// only size slots": a ring the driver filled completely counts as empty, and
// the device waits for a notification that already came.
// Source: none; xv6-riscv compared used indices % NUM the same way until aeaf610.
// Must fail: "availableCount is idx - lastAvail over the whole 16-bit plane" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const distance = (idx - ring.lastAvail) & 0xffff;
  if (distance > 0x8000) {
    breakDeviceRing(ring, "2.7.6.1/1", `idx went back to ${idx}`, { idx });
    return 0;
  }
  if (distance > ring.size) {
    breakDeviceRing(ring, "2.7.6/D1", `idx ${idx} is ${distance} ahead`, { idx });
    return 0;
  }
  return distance % ring.size;
}
