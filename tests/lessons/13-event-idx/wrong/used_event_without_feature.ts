// Mistake: updateUsedEvent writes used_event whether or not VIRTIO_F_EVENT_IDX was negotiated, past
// the end of an available ring laid out without it.
// Source: none (the driver-side twin of rust-hypervisor-firmware PR #34)
// Must fail: "without event idx, the driver never writes used_event" [2.7.7/D2]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
} from "../correct/linux_style.ts";

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (ring.callbacks) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
}
