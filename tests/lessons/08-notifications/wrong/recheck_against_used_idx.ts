// Mistake: the re-check compares the available idx with the used idx, as if
// every chain taken had been returned: with chains in flight it says "more"
// when the device has taken everything.
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
  return ring.memory.readU16(ring.availAddr + 2) !== ring.usedIdx;
}
