// Mistake: the driver looks at VIRTQ_USED_F_NO_NOTIFY first whatever was
// negotiated; with VIRTIO_F_EVENT_IDX the device may leave that bit as it
// likes and speaks through avail_event only, so a wished-for notification is
// skipped.
// Source: none
// Must fail: "with event idx, the driver kicks exactly when it published the entry at avail_event" [2.7.10.1/3]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { vringNeedEvent } from "../correct/linux_names.ts";

export {
  disableNotifications,
  enableNotifications,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  const flags = ring.memory.readU16(ring.usedAddr);
  if (flags & 1) return false;
  if (!ring.eventIdx) return true;
  return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), ring.availIdx, oldIdx);
}
