// Mistake: updateUsedEvent moves used_event after every reap, callbacks on or off: a drain that
// turned notifications off turns them back on with its first reap.
// Source: none
// Must fail: "a reap with notifications off keeps them off" [2.7.7.1/2]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
} from "../correct/linux_style.ts";

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
}
