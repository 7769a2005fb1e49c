// Mistake: updateAvailEvent writes avail_event without checking VIRTIO_F_EVENT_IDX, into the
// bytes after the used ring, which are the driver's when the feature is off.
// Source: cloud-hypervisor/rust-hypervisor-firmware PR #34 (March 2020): the vhost-user-blk backend
// wrote avail_event the firmware had not negotiated and overwrote its next_head
// Must fail: "without event idx, the device never writes avail_event" [2.7.10/D3]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (ring.broken !== null) return;
  const event = ring.notifications ? ring.lastAvail : (ring.lastAvail - 1) & 0xffff;
  ring.memory.writeU16(ring.availEventAddr, event);
}
