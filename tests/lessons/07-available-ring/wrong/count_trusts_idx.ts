// Mistake: availableCount returns idx - lastAvail as it is: a driver that
// says 9000 entries are available on a ring of 8 makes the device take the
// same slots again and again.
// Source: rust-vmm/vm-virtio PR #196 and firecracker-microvm/firecracker PR #3156 ("Error out on invalid available ring index"); QEMU CVE-2016-5403.
// Must fail: "an idx more than Queue Size ahead is refused" [2.7.6/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availHead, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  return (idx - ring.lastAvail) & 0xffff;
}
