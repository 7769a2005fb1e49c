// Correct: Linux's shape: one 32-bit read of the structure, vring_need_event in 16-bit arithmetic
// with the event taken back by Queue Size when its wrap is not the current one, and the flags store
// skipped when the shadow already holds it.

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_SIZE,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../../virtqueue/packed/constants.ts";

const needEvent = (event: number, next: number, old: number) =>
  ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);

function should(
  word: number,
  eventIdx: boolean,
  size: number,
  next: number,
  wrap: number,
  moved: number,
  report: (flags: number) => void,
): boolean {
  const flags = word >>> 16;
  const valid = flags === RING_EVENT_FLAGS_ENABLE || flags === RING_EVENT_FLAGS_DISABLE ||
    (flags === RING_EVENT_FLAGS_DESC && eventIdx);
  if (!valid) {
    report(flags);
    return true;
  }
  if (flags !== RING_EVENT_FLAGS_DESC) return flags === RING_EVENT_FLAGS_ENABLE;
  if (moved >= size) return true;
  let event = word & 0x7fff;
  if ((word >>> 15 & 1) !== wrap) event -= size;
  return needEvent(event, next, next - moved);
}

export function needsKickPacked(ring: PackedDriverRing<unknown>): boolean {
  if (ring.numAdded === 0) return false;
  const moved = ring.numAdded;
  ring.numAdded = 0;
  const word = ring.memory.readU32(ring.deviceEventAddr);
  return should(word, ring.eventIdx, ring.size, ring.nextAvail, ring.availWrap, moved, (flags) => {
    if (ring.lastBadDeviceFlags === flags) return;
    ring.lastBadDeviceFlags = flags;
    ring.reporter.report("2.8.14/D2", `device event flags ${flags}`, { flags }, "as ENABLE");
  });
}

export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  if (ring.usedSinceSignal === 0) return false;
  const moved = ring.usedSinceSignal;
  ring.usedSinceSignal = 0;
  const word = ring.memory.readU32(ring.driverEventAddr);
  return should(word, ring.eventIdx, ring.size, ring.nextUsed, ring.usedWrap, moved, (flags) => {
    if (ring.lastBadDriverFlags === flags) return;
    ring.lastBadDriverFlags = flags;
    ring.reporter.report("2.8.14/D1", `driver event flags ${flags}`, { flags }, "as ENABLE");
  });
}

const flagsAt = (ring: { descAddr: number }, pos: number) =>
  ring.descAddr + pos * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS;
const bits = (flags: number) => [
  (flags & VIRTQ_DESC_F_AVAIL) ? 1 : 0,
  (flags & VIRTQ_DESC_F_USED) ? 1 : 0,
];

export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  const want = ring.eventIdx ? RING_EVENT_FLAGS_DESC : RING_EVENT_FLAGS_ENABLE;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.driverEventAddr, (ring.usedWrap << 15) | ring.nextUsed);
  }
  if (ring.eventFlagsShadow !== want) {
    ring.memory.writeU16(ring.driverEventAddr + 2, want);
    ring.eventFlagsShadow = want;
  }
  const [a, u] = bits(ring.memory.readU16(flagsAt(ring, ring.nextUsed)));
  return a !== ring.usedWrap || u !== ring.usedWrap;
}

export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  ring.notifications = true;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.deviceEventAddr, (ring.availWrap << 15) | ring.nextAvail);
    ring.memory.writeU16(ring.deviceEventAddr + 2, RING_EVENT_FLAGS_DESC);
  } else {
    ring.memory.writeU16(ring.deviceEventAddr + 2, RING_EVENT_FLAGS_ENABLE);
  }
  const [a, u] = bits(ring.memory.readU16(flagsAt(ring, ring.nextAvail)));
  return a === ring.availWrap && u !== ring.availWrap;
}
