// Mistake: re-enabling notifications without looking at the ring again
// (the device "will be told" about new chains): chains published while
// notifications were off came with no notification, and stay where they are.
// Source: none
// Must fail: "enableNotifications says whether chains are waiting" [2.7.10/D1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  disableNotifications,
  needsKick,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function enableNotifications(ring: SplitDeviceRing): boolean {
  ring.notifications = true;
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
  else ring.memory.writeU16(ring.usedAddr, 0);
  return false;
}
