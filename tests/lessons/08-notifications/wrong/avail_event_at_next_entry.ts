// Mistake: with VIRTIO_F_EVENT_IDX the device "suppresses" by writing the
// driver's current available idx into avail_event: that is the index of the
// very next entry the driver publishes, so the next publish notifies anyway.
// Source: none
// Must fail: "with event idx, the device moves avail_event and keeps flags 0" [2.7.10.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  enableNotifications,
  needsKick,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function disableNotifications(ring: SplitDeviceRing): void {
  ring.notifications = false;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.availEventAddr, ring.memory.readU16(ring.availAddr + 2));
  } else {
    ring.memory.writeU16(ring.usedAddr, 1);
  }
}
