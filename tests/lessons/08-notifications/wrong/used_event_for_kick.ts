// Mistake: the driver decides its kick on used_event, its own field at the
// end of the available ring, instead of avail_event, the device's field at
// the end of the used ring: the two event fields swapped.
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
    return vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), ring.availIdx, oldIdx);
  }
  const flags = ring.memory.readU16(ring.usedAddr);
  checkUsedFlags(ring, flags);
  return (flags & 1) === 0;
}
