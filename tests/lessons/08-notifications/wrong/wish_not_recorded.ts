// Mistake: the suppression pair writes the ring fields but leaves
// ring.notifications as it was, so the rest of the device half (with event
// idx, taking a chain moves avail_event by it) goes on as if notifications
// were wanted, and undoes the suppression at the next chain it takes.
// Source: none
// Must fail: "without event idx, the device sets and clears VIRTQ_USED_F_NO_NOTIFY, and only that" [2.7.10.2/1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { needsKick, queueNotifyTarget, vringNeedEvent } from "../correct/linux_names.ts";

export function disableNotifications(ring: SplitDeviceRing): void {
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
  else ring.memory.writeU16(ring.usedAddr, 1);
}

export function enableNotifications(ring: SplitDeviceRing): boolean {
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  else ring.memory.writeU16(ring.usedAddr, 0);
  return ring.memory.readU16(ring.availAddr + 2) !== ring.lastAvail;
}
