// Mistake: enableCallbacks asks for lastUsed + 1 ('the entry after the next'): the next entry the
// device returns alone brings no interrupt.
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
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, (ring.lastUsed + 1) & 0xffff);
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
}
