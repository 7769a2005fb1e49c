// Mistake: the device looks at the available idx first and clears
// VIRTQ_USED_F_NO_NOTIFY after: a driver that publishes between the two
// sees notifications off and does not notify, and the device has already
// decided there is nothing to do. The chain waits for a kick that never
// comes.
// Source: none
// Must fail: "no chain is stranded by a driver publishing as the device re-enables" [2.7.10/D1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  disableNotifications,
  needsKick,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function enableNotifications(ring: SplitDeviceRing): boolean {
  const waiting = ring.memory.readU16(ring.availAddr + 2) !== ring.lastAvail;
  ring.notifications = true;
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  else ring.memory.writeU16(ring.usedAddr, 0);
  return waiting;
}
