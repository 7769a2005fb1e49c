// Mistake: the device always writes ENABLE, also with VIRTIO_F_EVENT_IDX, where it should name the slot it wants a kick for.
// Source: none
// Must fail: "turning available buffer notifications on: the desc word first, then DESC with event idx; ENABLE without" [2.8.10/D3]

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import {
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_SIZE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../../virtqueue/packed/constants.ts";

export {
  enableCallbacksPacked,
  needsInterruptPacked,
  needsKickPacked,
} from "../correct/need_event.ts";

const flagsAt = (ring: { descAddr: number }, pos: number) =>
  ring.descAddr + pos * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS;
const bits = (flags: number) => [
  (flags & VIRTQ_DESC_F_AVAIL) ? 1 : 0,
  (flags & VIRTQ_DESC_F_USED) ? 1 : 0,
];

export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  ring.notifications = true;
  ring.memory.writeU16(ring.deviceEventAddr + 2, RING_EVENT_FLAGS_ENABLE);
  const [a, u] = bits(ring.memory.readU16(flagsAt(ring, ring.nextAvail)));
  return a === ring.availWrap && u !== ring.availWrap;
}
