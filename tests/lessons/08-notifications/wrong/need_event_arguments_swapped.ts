// Mistake: the event-index test called with the old and new idx swapped, as
// if its parameters were (event, old, new): a batch that published the entry
// at avail_event is not notified, and an empty one is.
// Source: none
// Must fail: "with event idx, the driver kicks exactly when it published the entry at avail_event" [2.7.10.1/3]

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
    return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), oldIdx, ring.availIdx);
  }
  const flags = ring.memory.readU16(ring.usedAddr);
  checkUsedFlags(ring, flags);
  return (flags & 1) === 0;
}
