// Correct: no library helpers. The event test is spelled out as "is
// used_event one of the entries just returned?", counting distances from the
// old index modulo 65536; the flags check reports in its own words; the
// suppression fields are chosen in one function per side.

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

const U16 = 0x1_0000;
const AVAIL_FLAGS = 0;
const USED_IDX = 2;

/** How far `to` is ahead of `from`, as 16-bit ring indices. */
const ahead = (from: number, to: number) => (to - from + U16) % U16;

/** The entry index a side should be told about next, or one it will never reach. */
const nextWanted = (next: number, wanted: boolean) => (wanted ? next : (next + U16 - 1) % U16);

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (ring.eventIdx && ring.broken === null) {
    ring.memory.writeU16(ring.availEventAddr, nextWanted(ring.lastAvail, ring.notifications));
  }
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  const from = ring.signalledUsed;
  const returned = ahead(from, ring.usedIdx);
  ring.signalledUsed = ring.usedIdx;
  if (ring.eventIdx) {
    const event = ring.memory.readU16(ring.usedEventAddr);
    return ahead(from, event) < returned; // the entry at used_event is one of them
  }
  const flags = ring.memory.readU16(ring.availAddr + AVAIL_FLAGS);
  if (flags > 1) {
    ring.reporter.report(
      "2.7.7.1/1",
      `The driver put ${flags} in the available ring's flags, which may only be 0 or 1`,
      { flags },
      "only bit 0 is honoured",
    );
  }
  return (flags & 1) === 0;
}

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (!ring.eventIdx || !ring.callbacks) return;
  ring.memory.writeU16(ring.usedEventAddr, nextWanted(ring.lastUsed, true));
}

function setCallbacks(ring: SplitDriverRing<unknown>, on: boolean): void {
  ring.callbacks = on;
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, nextWanted(ring.lastUsed, on));
  else ring.memory.writeU16(ring.availAddr + AVAIL_FLAGS, on ? 0 : 1);
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  setCallbacks(ring, false);
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  setCallbacks(ring, true);
  return ring.memory.readU16(ring.usedAddr + USED_IDX) === ring.lastUsed;
}
