// Mistake: the driver reads the flags of the available ring, its own field
// (VIRTQ_AVAIL_F_NO_INTERRUPT lives there), instead of the used ring's flags
// the device writes: it never sees VIRTQ_USED_F_NO_NOTIFY.
// Source: none
// Must fail: "without event idx, the driver kicks unless the device set VIRTQ_USED_F_NO_NOTIFY" [2.7.10.1/2]

import { checkUsedFlags } from "../../../../virtqueue/driver/avail.ts";
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
  const flags = ring.memory.readU16(ring.availAddr);
  checkUsedFlags(ring, flags);
  return (flags & 1) === 0;
}
