// Mistake: needsInterrupt tests old <= used_event < new on plain numbers: right until a batch
// crosses 0xffff to 0, then no interrupt comes.
// Source: none (the compare rcore's should_notify gets wrong on the available side)
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
  const old = ring.signalledUsed;
  ring.signalledUsed = ring.usedIdx;
  const event = ring.memory.readU16(ring.usedEventAddr);
  return old <= event && event < ring.usedIdx;
}
