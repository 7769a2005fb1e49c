// Mistake: needsInterrupt with event idx looks only at the last entry pushed (used_event ==
// usedIdx - 1): a batch whose first entry was the one asked for brings no interrupt.
// Source: none
// Must fail: "with event idx, the device notifies exactly when it returned the entry at used_event" [2.7.7.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
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
  ring.signalledUsed = ring.usedIdx;
  return ring.memory.readU16(ring.usedEventAddr) === ((ring.usedIdx - 1) & 0xffff);
}
