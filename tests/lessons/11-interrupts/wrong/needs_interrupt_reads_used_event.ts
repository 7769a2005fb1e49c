// Mistake: the device decides with vring_need_event(used_event, ...) even
// though VIRTIO_F_EVENT_IDX was not negotiated: used_event is whatever the
// driver left after the ring, and the flag the driver did set is ignored.
// Source: none (2.7.7.2/1: without event idx, used_event must be ignored).
// Must fail: "a push is notified unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT" [2.7.7.2/1]

import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  drainUsed,
  enableCallbacks,
  handleInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  const old = ring.signalledUsed;
  ring.signalledUsed = ring.usedIdx;
  return vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), ring.usedIdx, old);
}
