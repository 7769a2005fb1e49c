// Mistake: updateUsedEvent does nothing: the driver negotiates VIRTIO_F_EVENT_IDX and never moves
// used_event, so the device, honouring it, interrupts only when it returns the entry at 0.
// Source: rcore-os/virtio-drivers PR #121 (December 2023), the fix of exactly this
// Must fail: "after a reap, used_event names the next entry the driver has not reaped" [2.7.7/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateAvailEvent,
} from "../correct/linux_style.ts";

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  // used_event was set up with the queue; the device knows where we are.
  void ring;
}
