// Mistake: disableCallbacks writes used_event = lastUsed, the value that asks for the very next
// entry: notifications stay on.
// Source: none
// Must fail: "with event idx, disableCallbacks moves used_event and keeps flags 0" [2.7.7.1/2]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
export {
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.callbacks = false;
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 1);
}
