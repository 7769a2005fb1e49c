// Mistake: used buffer notifications are turned on and nothing is looked at: a buffer used just before waits for an interrupt that already passed.
// Source: Linux virtqueue_enable_cb_prepare/virtqueue_poll exist to close this race
// Must fail: "turning used buffer notifications on: a look at the next descriptor after the stores" [2.8.22/D2]

import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_ENABLE,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableNotificationsPacked,
  needsInterruptPacked,
  needsKickPacked,
} from "../correct/need_event.ts";

export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  const want = ring.eventIdx ? RING_EVENT_FLAGS_DESC : RING_EVENT_FLAGS_ENABLE;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.driverEventAddr, (ring.usedWrap << 15) | ring.nextUsed);
  }
  if (ring.eventFlagsShadow !== want) {
    ring.memory.writeU16(ring.driverEventAddr + 2, want);
    ring.eventFlagsShadow = want;
  }
  return true;
}
