// Correct: one shared decision function for both sides (the other side's structure, the slots
// moved, the position and wrap), two 16-bit reads, and "was the event slot moved over" worked out
// as a distance back from the position, in slots.

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import type { ConformanceReporter } from "../../../../conformance/log.ts";

const ENABLE = 0;
const DISABLE = 1;
const DESC = 2;

interface Decision {
  readonly reporter: ConformanceReporter;
  readonly eventAddr: number;
  readonly memory: PackedDeviceRing["memory"];
  readonly size: number;
  readonly eventIdx: boolean;
  readonly pos: number;
  readonly wrap: number;
  readonly moved: number;
  readonly badId: "2.8.14/D1" | "2.8.14/D2";
}

function decide(d: Decision): boolean {
  if (d.moved === 0) return false;
  const flags = d.memory.readU16(d.eventAddr + 2);
  let mode = flags;
  if (flags > DESC || (flags === DESC && !d.eventIdx)) {
    d.reporter.report(d.badId, `event flags 0x${flags.toString(16)}`, { flags }, "read as ENABLE");
    mode = ENABLE;
  }
  if (mode === DISABLE) return false;
  if (mode === ENABLE || d.moved >= d.size) return true;
  const word = d.memory.readU16(d.eventAddr);
  const off = word & 0x7fff;
  const wrap = word >> 15;
  // Slots back from the position to the event slot: 1 means the slot just before it.
  let back = d.pos - off;
  if (wrap !== d.wrap) back += d.size;
  return back >= 1 && back <= d.moved;
}

export function needsKickPacked(ring: PackedDriverRing<unknown>): boolean {
  const moved = ring.numAdded;
  ring.numAdded = 0;
  return decide({
    reporter: ring.reporter,
    eventAddr: ring.deviceEventAddr,
    memory: ring.memory,
    size: ring.size,
    eventIdx: ring.eventIdx,
    pos: ring.nextAvail,
    wrap: ring.availWrap,
    moved,
    badId: "2.8.14/D2",
  });
}

export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  const moved = ring.usedSinceSignal;
  ring.usedSinceSignal = 0;
  return decide({
    reporter: ring.reporter,
    eventAddr: ring.driverEventAddr,
    memory: ring.memory,
    size: ring.size,
    eventIdx: ring.eventIdx,
    pos: ring.nextUsed,
    wrap: ring.usedWrap,
    moved,
    badId: "2.8.14/D1",
  });
}

export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.driverEventAddr, ring.nextUsed | (ring.usedWrap << 15));
  }
  ring.eventFlagsShadow = ring.eventIdx ? DESC : ENABLE;
  ring.memory.writeU16(ring.driverEventAddr + 2, ring.eventFlagsShadow);
  const flags = ring.memory.readU16(ring.descAddr + 16 * ring.nextUsed + 14);
  const a = (flags >> 7) & 1;
  const u = (flags >> 15) & 1;
  return !(a === ring.usedWrap && u === ring.usedWrap);
}

export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  ring.notifications = true;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.deviceEventAddr, ring.nextAvail | (ring.availWrap << 15));
  }
  ring.memory.writeU16(ring.deviceEventAddr + 2, ring.eventIdx ? DESC : ENABLE);
  const flags = ring.memory.readU16(ring.descAddr + 16 * ring.nextAvail + 14);
  const a = (flags >> 7) & 1;
  const u = (flags >> 15) & 1;
  return a === ring.availWrap && u !== ring.availWrap;
}
