// Mistake: used_event set to the entry just reaped (lastUsed - 1), not the next one: the device
// would have to return that entry again before it notifies.
// Source: none
// Must fail: "after a reap, used_event names the next entry the driver has not reaped" [2.7.7/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
} from "../correct/linux_style.ts";

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (ring.eventIdx && ring.callbacks) {
    ring.memory.writeU16(ring.usedEventAddr, (ring.lastUsed - 1) & 0xffff);
  }
}
