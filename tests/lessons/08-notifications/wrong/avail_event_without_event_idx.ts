// Mistake: the device writes avail_event whatever was negotiated ("the
// driver ignores it anyway"): without VIRTIO_F_EVENT_IDX the driver need not
// have room for it after the used ring, and the store lands on whatever the
// driver keeps there.
// Source: cloud-hypervisor/rust-hypervisor-firmware issue #33 and PR #34: the vhost-user-blk backend
// updated avail_event although the firmware had negotiated only VIRTIO_F_VERSION_1, overwriting the
// field the firmware kept right after its used ring, and the guest failed to boot
// Must fail: "without event idx, the device sets and clears VIRTQ_USED_F_NO_NOTIFY, and only that" [2.7.10.2/1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { needsKick, queueNotifyTarget, vringNeedEvent } from "../correct/linux_names.ts";

export function disableNotifications(ring: SplitDeviceRing): void {
  ring.notifications = false;
  ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
  if (!ring.eventIdx) ring.memory.writeU16(ring.usedAddr, 1);
}

export function enableNotifications(ring: SplitDeviceRing): boolean {
  ring.notifications = true;
  ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  if (!ring.eventIdx) ring.memory.writeU16(ring.usedAddr, 0);
  return ring.memory.readU16(ring.availAddr + 2) !== ring.lastAvail;
}
