// Mistake: the device sets the used ring's flags with a 32-bit store; flags
// is 16 bits and the used idx sits right after it, so every disable also
// writes 0 into the used idx, taking returned chains back from the driver.
// Source: none
// Must fail: "without event idx, the device sets and clears VIRTQ_USED_F_NO_NOTIFY, and only that" [2.7.10.2/1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  enableNotifications,
  needsKick,
  queueNotifyTarget,
  vringNeedEvent,
} from "../correct/linux_names.ts";

export function disableNotifications(ring: SplitDeviceRing): void {
  ring.notifications = false;
  if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
  else ring.memory.writeU32(ring.usedAddr, 1);
}
