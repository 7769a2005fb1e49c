// Mistake: avail_event set to the entry just taken (lastAvail - 1) while notifications are on: the
// driver's next publish, at lastAvail, does not cross it, and the device sleeps on it.
// Source: none
// Must fail: "with notifications on, avail_event names the next entry the device has not taken" [2.7.10/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (!ring.eventIdx || ring.broken !== null) return;
  ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
}
