// Mistake: the driver assumes one chain per publish and takes availIdx - 1
// as the old idx, ignoring the oldIdx it is given: when several chains go out
// at once and avail_event names one of the first ones, the notification is
// lost.
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

export function needsKick(ring: SplitDriverRing<unknown>, _oldIdx: number): boolean {
  if (ring.eventIdx) {
    const availEvent = ring.memory.readU16(ring.availEventAddr);
    return vringNeedEvent(availEvent, ring.availIdx, (ring.availIdx - 1) & 0xffff);
  }
  const flags = ring.memory.readU16(ring.usedAddr);
  checkUsedFlags(ring, flags);
  return (flags & 1) === 0;
}
