// Mistake: avail_event set to the driver's available idx as read now ('the next new entry'), not
// to the next entry the device has not taken.
// Source: none
// Must fail: "with notifications on, avail_event names the next entry the device has not taken" [2.7.10/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
  updateUsedEvent,
} from "../correct/linux_style.ts";

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (!ring.eventIdx || ring.broken !== null) return;
  const availIdx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  ring.memory.writeU16(
    ring.availEventAddr,
    ring.notifications ? availIdx : (availIdx - 1) & 0xffff,
  );
}
