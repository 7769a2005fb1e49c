/**
 * A text picture of a packed virtqueue (virtio v1.2 §2.8), for the REPL,
 * notebooks and test failures: each slot of the Descriptor Ring with its
 * `addr`, `len`, `id` and flags, read from guest memory, and what the ring's
 * owner makes of it (available or used on the wrap it expects), plus both
 * Event Suppression structures.
 *
 * @module
 */

import type { GuestMemory } from "../../memory/guest_memory.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../constants.ts";
import {
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_ID,
  PVIRTQ_DESC_LEN,
  PVIRTQ_DESC_SIZE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "./constants.ts";

/** What {@linkcode formatPackedRing} needs of either half's state record. */
export interface PackedRingView {
  /** `"driver"` or `"device"`. */
  readonly side: "driver" | "device";
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** Queue index. */
  readonly index: number;
  /** Queue Size. */
  readonly size: number;
  /** Descriptor Ring address. */
  readonly descAddr: number;
  /** Driver Event Suppression address. */
  readonly driverEventAddr: number;
  /** Device Event Suppression address. */
  readonly deviceEventAddr: number;
  /** Next position to make available (driver) or to look at for an available buffer (device). */
  readonly nextAvail: number;
  /** The wrap counter that goes with `nextAvail`. */
  readonly availWrap: number;
  /** Next position to read (driver) or write (device) a used descriptor at. */
  readonly nextUsed: number;
  /** The wrap counter that goes with `nextUsed`. */
  readonly usedWrap: number;
}

const EVENT_NAMES = ["ENABLE", "DISABLE", "DESC", "0x3 (reserved)"];

/** Flag names of a packed descriptor: `A`, `U`, `W`, `N`, `I` (AVAIL, USED, WRITE, NEXT, INDIRECT). */
export function packedFlagNames(flags: number): string {
  return [
    (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? "A" : "-",
    (flags & VIRTQ_DESC_F_USED) !== 0 ? "U" : "-",
    (flags & VIRTQ_DESC_F_WRITE) !== 0 ? "W" : "-",
    (flags & VIRTQ_DESC_F_NEXT) !== 0 ? "N" : "-",
    (flags & VIRTQ_DESC_F_INDIRECT) !== 0 ? "I" : "-",
  ].join("");
}

function eventText(memory: GuestMemory, addr: number): string {
  const offWrap = memory.readU16(addr);
  const flags = memory.readU16(addr + 2);
  const name = EVENT_NAMES[flags & 3] + (flags > 3 ? ` +0x${(flags & ~3).toString(16)}` : "");
  return `flags ${name}, off ${offWrap & 0x7fff} wrap ${offWrap >>> 15}`;
}

/**
 * The ring as text: a header with both positions and wrap counters, one line
 * per slot (`A`/`U`: AVAIL and USED bits; `W`, `N`, `I`: WRITE, NEXT,
 * INDIRECT), marking the slots at `nextAvail` and `nextUsed`, then both
 * Event Suppression structures.
 *
 * @param ring Either half's state (`PackedDriverRing` or `PackedDeviceRing`).
 * @param maxSlots Slots shown at most (default 16); the rest are counted.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { formatPackedRing } from "./inspect.ts";
 * const text = formatPackedRing({
 *   side: "driver", memory: new GuestMemory(0x1000), index: 0, size: 2, descAddr: 0,
 *   driverEventAddr: 0x100, deviceEventAddr: 0x104, nextAvail: 0, availWrap: 1, nextUsed: 0, usedWrap: 1,
 * });
 * assert.match(text, /packed queue 0 \(driver\), size 2/);
 * ```
 */
export function formatPackedRing(ring: PackedRingView, maxSlots = 16): string {
  const { memory } = ring;
  const lines = [
    `packed queue ${ring.index} (${ring.side}), size ${ring.size}: next avail ${ring.nextAvail} ` +
    `wrap ${ring.availWrap}, next used ${ring.nextUsed} wrap ${ring.usedWrap}`,
  ];
  const shown = Math.min(ring.size, maxSlots);
  for (let pos = 0; pos < shown; pos++) {
    const desc = ring.descAddr + pos * PVIRTQ_DESC_SIZE;
    const flags = memory.readU16(desc + PVIRTQ_DESC_FLAGS);
    const marks = (pos === ring.nextAvail ? " <- next avail" : "") +
      (pos === ring.nextUsed ? " <- next used" : "");
    lines.push(
      `  [${String(pos).padStart(3)}] ${packedFlagNames(flags)} id ${
        String(memory.readU16(desc + PVIRTQ_DESC_ID)).padStart(5)
      } len ${String(memory.readU32(desc + PVIRTQ_DESC_LEN)).padStart(10)} addr 0x${
        memory.readU64(desc).toString(16)
      }${marks}`,
    );
  }
  if (shown < ring.size) lines.push(`  ... ${ring.size - shown} more slot(s)`);
  lines.push(`  driver event: ${eventText(memory, ring.driverEventAddr)}`);
  lines.push(`  device event: ${eventText(memory, ring.deviceEventAddr)}`);
  return lines.join("\n");
}
