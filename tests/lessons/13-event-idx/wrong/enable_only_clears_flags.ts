// Mistake: enableCallbacks clears the flags as it did without event idx and leaves used_event
// where disableCallbacks put it: notifications stay off for 65535 entries.
// Source: none
// Must fail: "with event idx, enableCallbacks sets used_event to lastUsed and keeps flags 0" [2.7.7/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
export {
  disableCallbacks,
  needsInterrupt,
  updateAvailEvent,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.callbacks = true;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
}
