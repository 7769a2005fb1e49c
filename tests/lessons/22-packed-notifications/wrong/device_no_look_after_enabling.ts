// Mistake: the device turns kicks on and goes to sleep without a last look: a buffer made available just before waits for a kick that already passed.
// Source: none
// Must fail: "turning available buffer notifications on: a look at the next descriptor after the stores" [2.8.10/D3]

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import {
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_ENABLE,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableCallbacksPacked,
  needsInterruptPacked,
  needsKickPacked,
} from "../correct/need_event.ts";

export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  ring.notifications = true;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.deviceEventAddr, (ring.availWrap << 15) | ring.nextAvail);
    ring.memory.writeU16(ring.deviceEventAddr + 2, RING_EVENT_FLAGS_DESC);
  } else {
    ring.memory.writeU16(ring.deviceEventAddr + 2, RING_EVENT_FLAGS_ENABLE);
  }
  return false;
}
