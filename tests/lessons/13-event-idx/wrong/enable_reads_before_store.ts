// Mistake: enableCallbacks reads the used idx first and stores used_event after it: an entry the
// device returns between the two, seeing the old used_event, comes with no interrupt,
// and the driver already decided nothing was waiting.
// Source: Cloud Hypervisor PR #2179 (January 2021) is this order on the device's side (avail_event,
// then avail idx, without a full barrier between): virtio-net with EVENT_IDX hung under iperf
// Must fail: "no used buffer is stranded when notifications come back on" [2.7.14/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
export {
  disableCallbacks,
  needsInterrupt,
  updateAvailEvent,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  const empty = ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
  ring.callbacks = true;
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  return empty;
}
