// Mistake: the device sets VIRTQ_USED_F_NO_NOTIFY whatever was negotiated,
// and moves avail_event too: with VIRTIO_F_EVENT_IDX the used ring's flags
// must stay 0 (2.7.10.2/2).
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
  ring.memory.writeU16(ring.usedAddr, 1);
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
}
