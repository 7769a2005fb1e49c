// Mistake: updateAvailEvent always asks for the next entry, also while the device drains with
// notifications off: every take turns them back on.
// Source: none
// Must fail: "with notifications off, a take keeps the driver's publishes quiet" [2.7.10.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (ring.eventIdx && ring.broken === null) {
    ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  }
}
