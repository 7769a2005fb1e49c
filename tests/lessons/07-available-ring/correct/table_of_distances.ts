// Correct: arithmetic with % on non-negative values and a table of
// distances. idx is advanced with (x + n) % 65536, slots with % Queue Size,
// and the device classifies a distance by the first row of a table it falls
// in; the reporter is called directly, and the ring broken by hand.

import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";

const U16 = 65536;
const avail = (ring: { availAddr: number }, field: "flags" | "idx" | number) =>
  ring.availAddr + (field === "flags" ? 0 : field === "idx" ? 2 : 4 + 2 * field);

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  ring.pending[ring.added] = head;
  ring.memory.writeU16(avail(ring, (ring.availIdx + ring.added) % ring.size), head);
  ring.added += 1;
}

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const heads = Array.from(ring.pending.subarray(0, ring.added));
  if (heads.length === 0) return 0;
  heads.forEach((h) => (ring.state[h] = HEAD_PUBLISHED));
  ring.availIdx = (ring.availIdx + heads.length) % U16;
  ring.published += heads.length;
  ring.added = 0;
  ring.memory.writeU16(avail(ring, "idx"), ring.availIdx);
  return heads.length;
}

function refuse(ring: SplitDeviceRing, id: RequirementId, message: string): void {
  const violation = ring.reporter.report(
    id,
    message,
    { lastAvail: ring.lastAvail },
    "queue broken",
  );
  if (ring.broken === null) {
    ring.broken = violation;
    ring.onBroken(violation);
  }
}

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken) return 0;
  const idx = ring.memory.readU16(avail(ring, "idx"));
  const distance = (idx + U16 - ring.lastAvail) % U16;
  const rows: [number, number, RequirementId | null][] = [
    [0, ring.size, null],
    [ring.size + 1, 0x8000, "2.7.6/D1"],
    [0x8001, 0xffff, "2.7.6.1/1"],
  ];
  const [, , id] = rows.find(([lo, hi]) => distance >= lo && distance <= hi)!;
  if (id === null) return distance;
  refuse(ring, id, `Available idx ${idx} is ${distance} past lastAvail ${ring.lastAvail}`);
  return 0;
}

const BAD_FLAGS = ~1;

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken) return -1;
  const flags = ring.memory.readU16(avail(ring, "flags"));
  if ((flags & BAD_FLAGS) === 0) {
    ring.lastBadAvailFlags = -1;
  } else if (flags !== ring.lastBadAvailFlags) {
    ring.lastBadAvailFlags = flags;
    ring.reporter.report("2.7.7.1/1", `Available ring flags ${flags}`, { flags }, "logged");
  }
  const head = ring.memory.readU16(avail(ring, ring.lastAvail % ring.size));
  if (head >= ring.size) return refuse(ring, "2.7.5/D1", `Head ${head} is no descriptor`), -1;
  if (ring.inUse[head] === 1) return refuse(ring, "2.7.6/D2", `Head ${head} is in use`), -1;
  ring.lastAvail = (ring.lastAvail + 1) % U16;
  return head;
}
