// Mistake: needsInterrupt honours VIRTQ_AVAIL_F_NO_INTERRUPT with event idx as well, before it
// looks at used_event.
// Source: none
// Must fail: "with event idx, the available ring's flags decide nothing" [2.7.7.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
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
  if ((ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET) & 1) !== 0) return false;
  return vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), ring.usedIdx, old);
}
