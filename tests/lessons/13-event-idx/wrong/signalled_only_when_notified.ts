// Mistake: needsInterrupt moves signalledUsed only when it says yes: the next decision looks at
// old entries again, and notifies for an entry long returned.
// Source: none
// Must fail: "every decision consumes what was pushed; with nothing new there is nothing to say" [2.7.7.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
export {
  disableCallbacks,
  enableCallbacks,
  updateAvailEvent,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  const yes = ring.eventIdx
    ? vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), ring.usedIdx, ring.signalledUsed)
    : (ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET) & 1) === 0;
  if (yes) ring.signalledUsed = ring.usedIdx;
  return yes;
}
