// Mistake: the next descriptor is looked at before the stores that turn notifications on, leaving the race window open.
// Source: none
// Must fail: "turning used buffer notifications on: a look at the next descriptor after the stores" [2.8.22/D2]

import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_SIZE,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableNotificationsPacked,
  needsInterruptPacked,
  needsKickPacked,
} from "../correct/need_event.ts";

const flagsAt = (ring: { descAddr: number }, pos: number) =>
  ring.descAddr + pos * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS;
const bits = (flags: number) => [
  (flags & VIRTQ_DESC_F_AVAIL) ? 1 : 0,
  (flags & VIRTQ_DESC_F_USED) ? 1 : 0,
];

export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  const [a, u] = bits(ring.memory.readU16(flagsAt(ring, ring.nextUsed)));
  const want = ring.eventIdx ? RING_EVENT_FLAGS_DESC : RING_EVENT_FLAGS_ENABLE;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.driverEventAddr, (ring.usedWrap << 15) | ring.nextUsed);
  }
  if (ring.eventFlagsShadow !== want) {
    ring.memory.writeU16(ring.driverEventAddr + 2, want);
    ring.eventFlagsShadow = want;
  }
  return a !== ring.usedWrap || u !== ring.usedWrap;
}
