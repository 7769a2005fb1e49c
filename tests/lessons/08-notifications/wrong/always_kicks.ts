// Mistake: the driver notifies after every publish and never looks at what
// the device asked for (a notification is never wrong, only slow: but the
// busy device asked for none, and each one is a trap into the hypervisor).
// Source: none
// Must fail: "without event idx, the driver kicks unless the device set VIRTQ_USED_F_NO_NOTIFY" [2.7.10.1/2]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { vringNeedEvent } from "../correct/linux_names.ts";

export {
  disableNotifications,
  enableNotifications,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  if (ring.eventIdx) {
    return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), ring.availIdx, oldIdx);
  }
  return true;
}
