// Mistake: needsInterrupt reads ring.availEventAddr (the device's own field, after the used ring)
// instead of used_event (the driver's, after the available ring).
// Source: none
// Must fail: "with event idx, the device notifies exactly when it returned the entry at used_event" [2.7.7.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
export {
  disableCallbacks,
  enableCallbacks,
  updateAvailEvent,
  updateUsedEvent,
} from "../correct/linux_style.ts";
import { needsInterrupt as withoutEventIdx } from "../correct/linux_style.ts";

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (!ring.eventIdx) return withoutEventIdx(ring); // as before the feature
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  const old = ring.signalledUsed;
  ring.signalledUsed = ring.usedIdx;
  return vringNeedEvent(ring.memory.readU16(ring.availEventAddr), ring.usedIdx, old);
}
