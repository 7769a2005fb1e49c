/**
 * A picture of a split virtqueue for the REPL (`Deno.customInspect`) and
 * Jupyter (`Symbol.for("Jupyter.display")`): the descriptor table (addr,
 * len, flags by name, next), the available ring with its `idx`, the used
 * ring with its `idx`, the event fields, and what the side whose state it
 * is knows on top: the driver's free list and chains in flight, the
 * device's chains in flight.
 *
 * A snapshot reads guest memory through the memory's accessors and never
 * writes; a ring part outside RAM shows as such instead of throwing.
 *
 * @module
 */

import { escapeHtml, htmlTable } from "../format/html.ts";
import type { GuestMemory } from "../memory/guest_memory.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from "./constants.ts";
import {
  availRingEntryOffset,
  descOffset,
  usedElemOffset,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "./layout.ts";
import type { SplitDriverRing } from "./driver/ring.ts";
import type { SplitDeviceRing } from "./device/ring.ts";

const INSPECT = Symbol.for("Deno.customInspect");
const JUPYTER = Symbol.for("Jupyter.display");

/** Rings up to this size are shown slot by slot; larger ones show only what is live. */
const FULL_RING_MAX = 16;
/** At most this many entries of each ring are listed for a large ring. */
const WINDOW_MAX = 16;
/** At most this many free descriptors are listed. */
const FREE_LIST_MAX = 32;

/** One row of the descriptor table, as read from guest memory. */
export interface DescriptorRow {
  /** Descriptor index, or the first index of a run of unused descriptors. */
  readonly index: number;
  /** Last index of the run (equal to `index` for a single descriptor). */
  readonly last: number;
  /** `addr` (`Infinity` above 2^53), or `null` for a run of unused descriptors or one outside RAM. */
  readonly addr: number | null;
  /** `len`. */
  readonly len: number;
  /** `flags`. */
  readonly flags: number;
  /** `next`. */
  readonly next: number;
  /** What the side knows about it: `"head 3 (published)"`, `"in chain 3"`, `"free"`, `""`. */
  readonly note: string;
}

/** One entry of the available ring. */
export interface AvailEntryRow {
  /** The free-running index of the live entry in this slot, or `null` if it holds none. */
  readonly entry: number | null;
  /** Slot in `ring[]`. */
  readonly slot: number;
  /** The head in the slot. */
  readonly head: number;
  /** `"placed"` or `"published"` (driver), `"available"` (device); empty for no live entry. */
  readonly status: string;
}

/** One entry of the used ring. */
export interface UsedEntryRow {
  /** The free-running index of the live entry in this slot, or `null` if it holds none. */
  readonly entry: number | null;
  /** Slot in `ring[]`. */
  readonly slot: number;
  /** `id`: the head of the returned chain. */
  readonly id: number;
  /** `len`: bytes the device wrote. */
  readonly len: number;
  /** `"to reap"` (driver), `"pushed, not signalled"` (device); empty for no live entry. */
  readonly status: string;
}

/** One chain posted (driver) or popped (device) and not returned yet. */
export interface ChainRow {
  /** Head descriptor. */
  readonly head: number;
  /** `"placed"` or `"published"` on the driver side, `"with the device model"` on the device side. */
  readonly state: string;
  /** Descriptors it takes in the table (driver side; 0 when unknown). */
  readonly descriptors: number;
  /** Device-writable bytes. */
  readonly writable: number;
  /** Address of its indirect table, or `null`. */
  readonly table: number | null;
  /** The token, formatted (driver side; empty on the device side). */
  readonly token: string;
}

/** Everything a {@linkcode SplitRingSnapshot} shows. */
export interface SplitRingSnapshotData {
  /** Whose state this is. */
  readonly side: "driver" | "device";
  /** Queue index. */
  readonly index: number;
  /** Queue Size. */
  readonly size: number;
  /** `VIRTIO_F_EVENT_IDX` negotiated. */
  readonly eventIdx: boolean;
  /** `VIRTIO_F_INDIRECT_DESC` negotiated. */
  readonly indirect: boolean;
  /** The three part addresses. */
  readonly descAddr: number;
  /** Driver Area address. */
  readonly availAddr: number;
  /** Device Area address. */
  readonly usedAddr: number;
  /** `"§2.7.8/D1: …"` when broken, else `null`. */
  readonly broken: string | null;
  /** One line of the side's own indices and counters. */
  readonly summary: string;
  /** The descriptor table, runs of unused descriptors collapsed. */
  readonly descriptors: readonly DescriptorRow[];
  /** Available ring `flags`, or `null` outside RAM. */
  readonly availFlags: number | null;
  /** Available ring `idx`, or `null` outside RAM. */
  readonly availIdx: number | null;
  /** Entries of the available ring shown. */
  readonly avail: readonly AvailEntryRow[];
  /** Used ring `flags`, or `null` outside RAM. */
  readonly usedFlags: number | null;
  /** Used ring `idx`, or `null` outside RAM. */
  readonly usedIdx: number | null;
  /** Entries of the used ring shown. */
  readonly used: readonly UsedEntryRow[];
  /** `used_event` with event idx (`null` without it or outside RAM). */
  readonly usedEvent: number | null;
  /** `avail_event` with event idx (`null` without it or outside RAM). */
  readonly availEvent: number | null;
  /** The driver's free list in order (`null` on the device side); at most 32 entries. */
  readonly freeList: readonly number[] | null;
  /** Free descriptors in all (driver side). */
  readonly numFree: number | null;
  /** Chains in flight. */
  readonly inFlight: readonly ChainRow[];
}

/**
 * A side-effect-free picture of one split virtqueue, from the driver's or
 * the device's state record, with a text table (`format()`, the REPL form)
 * and an HTML one (`display()`, the Jupyter form).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { GuestAllocator } from "../memory/allocator.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { SplitQueueDriver } from "./driver_queue.ts";
 * import { inspectRing } from "./inspect.ts";
 *
 * const memory = new GuestMemory(1 << 16);
 * const allocator = new GuestAllocator(memory);
 * const vq = SplitQueueDriver.create<string>({
 *   memory, allocator, index: 0, size: 4, eventIdx: false, indirect: false,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * vq.add([{ addr: allocator.alloc(16), len: 16 }], [], "hello");
 * const text = inspectRing(vq.ring).format();
 * assert.match(text, /head 0 \(placed\)/);
 * assert.match(text, /free list \(3\): 1 → 2 → 3/);
 * ```
 */
export class SplitRingSnapshot implements SplitRingSnapshotData {
  readonly side!: "driver" | "device";
  readonly index!: number;
  readonly size!: number;
  readonly eventIdx!: boolean;
  readonly indirect!: boolean;
  readonly descAddr!: number;
  readonly availAddr!: number;
  readonly usedAddr!: number;
  readonly broken!: string | null;
  readonly summary!: string;
  readonly descriptors!: readonly DescriptorRow[];
  readonly availFlags!: number | null;
  readonly availIdx!: number | null;
  readonly avail!: readonly AvailEntryRow[];
  readonly usedFlags!: number | null;
  readonly usedIdx!: number | null;
  readonly used!: readonly UsedEntryRow[];
  readonly usedEvent!: number | null;
  readonly availEvent!: number | null;
  readonly freeList!: readonly number[] | null;
  readonly numFree!: number | null;
  readonly inFlight!: readonly ChainRow[];

  /**
   * Wraps the collected data (see {@linkcode inspectRing}).
   *
   * @param data What to show.
   */
  constructor(data: SplitRingSnapshotData) {
    Object.assign(this, data);
  }

  /** The title line, e.g. `"split virtqueue 0, driver side: 8 descriptors, event idx off, indirect on"`. */
  get title(): string {
    return `split virtqueue ${this.index}, ${this.side} side: ${this.size} descriptors, ` +
      `event idx ${this.eventIdx ? "on" : "off"}, indirect ${this.indirect ? "on" : "off"}`;
  }

  #sections(): Section[] {
    const sections: Section[] = [];
    sections.push({
      title: `descriptor table at ${hex(this.descAddr)}`,
      head: ["#", "addr", "len", "flags", "next", "chain"],
      rows: this.descriptors.map((d) =>
        d.addr === null
          ? [d.index === d.last ? `${d.index}` : `${d.index}-${d.last}`, "", "", "", "", d.note]
          : [
            String(d.index),
            hex(d.addr),
            String(d.len),
            descFlagNames(d.flags),
            String(d.next),
            d.note,
          ]
      ),
    });
    sections.push({
      title:
        `available ring at ${hex(this.availAddr)}: flags ${
          flagWord(this.availFlags, VIRTQ_AVAIL_F_NO_INTERRUPT, "NO_INTERRUPT")
        }, idx ${this.availIdx ?? "outside RAM"}` +
        (this.usedEvent !== null ? `, used_event ${this.usedEvent}` : ""),
      head: ["slot", "head", "entry", ""],
      rows: this.avail.map((
        e,
      ) => [String(e.slot), String(e.head), String(e.entry ?? ""), e.status]),
    });
    sections.push({
      title:
        `used ring at ${hex(this.usedAddr)}: flags ${
          flagWord(this.usedFlags, VIRTQ_USED_F_NO_NOTIFY, "NO_NOTIFY")
        }, idx ${this.usedIdx ?? "outside RAM"}` +
        (this.availEvent !== null ? `, avail_event ${this.availEvent}` : ""),
      head: ["slot", "id", "len", "entry", ""],
      rows: this.used.map((e) => [
        String(e.slot),
        String(e.id),
        String(e.len),
        String(e.entry ?? ""),
        e.status,
      ]),
    });
    sections.push({
      title: `in flight (${this.inFlight.length})`,
      head: this.side === "driver"
        ? ["head", "state", "descriptors", "writable", "table", "token"]
        : ["head", "state", "writable"],
      rows: this.inFlight.map((c) =>
        this.side === "driver"
          ? [
            String(c.head),
            c.state,
            String(c.descriptors),
            String(c.writable),
            c.table === null ? "" : hex(c.table),
            c.token,
          ]
          : [String(c.head), c.state, String(c.writable)]
      ),
    });
    return sections;
  }

  #freeListLine(): string | null {
    if (this.freeList === null || this.numFree === null) return null;
    const more = this.numFree > this.freeList.length ? " → …" : "";
    const list = this.freeList.length > 0 ? `: ${this.freeList.join(" → ")}${more}` : "";
    return `free list (${this.numFree})${list}`;
  }

  /** The text form: title, summary, then one left-aligned table per part. */
  format(): string {
    const lines = [this.title, `  ${this.summary}`];
    if (this.broken !== null) lines.push(`  broken by ${this.broken}`);
    for (const s of this.#sections()) {
      lines.push("", s.title);
      if (s.rows.length === 0) {
        lines.push("  (none)");
        continue;
      }
      const widths = s.head.map((h, c) => Math.max(h.length, ...s.rows.map((r) => r[c].length)));
      const line = (cells: string[]) =>
        `  ${cells.map((x, c) => x.padEnd(widths[c])).join("  ")}`.trimEnd();
      lines.push(line(s.head));
      for (const r of s.rows) lines.push(line(r));
    }
    const free = this.#freeListLine();
    if (free !== null) lines.push("", free);
    return lines.join("\n");
  }

  /** The HTML form: the same tables, left-aligned. */
  html(): string {
    const parts = [
      `<div><b>${escapeHtml(this.title)}</b><br>${escapeHtml(this.summary)}`,
      this.broken !== null
        ? `<br><b style="color:#c62828">broken by ${escapeHtml(this.broken)}</b>`
        : "",
      "</div>",
    ];
    for (const s of this.#sections()) {
      parts.push(htmlTable({
        kind: "ring",
        caption: s.title,
        head: s.head,
        rows: s.rows.map((r) => r.map((x) => ({ code: x }))),
      }));
    }
    const free = this.#freeListLine();
    if (free !== null) parts.push(`<p>${escapeHtml(free)}</p>`);
    return parts.join("");
  }

  /** The MIME bundle Jupyter shows: `text/plain` and `text/html`. */
  display(): Record<string, string> {
    return { "text/plain": this.format(), "text/html": this.html() };
  }

  /** Text form for the REPL. */
  [INSPECT](): string {
    return this.format();
  }

  /** Rich form for Jupyter. */
  [JUPYTER](): Record<string, string> {
    return this.display();
  }
}

interface Section {
  title: string;
  head: string[];
  rows: string[][];
}

/**
 * Takes a {@linkcode SplitRingSnapshot} of a driver-side or device-side
 * ring record: reads the rings from guest memory (never writing) and adds
 * what the record knows.
 *
 * @param ring A driver or device ring record.
 * @returns The snapshot.
 */
export function inspectRing(ring: SplitDriverRing<unknown> | SplitDeviceRing): SplitRingSnapshot {
  const memory = ring.memory;
  const size = ring.size;
  const availFlags = peek16(memory, ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  const availIdx = peek16(memory, ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const usedFlags = peek16(memory, ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET);
  const usedIdx = peek16(memory, ring.usedAddr + VIRTQ_USED_IDX_OFFSET);
  const common = {
    side: ring.side,
    index: ring.index,
    size,
    eventIdx: ring.eventIdx,
    indirect: ring.indirect,
    descAddr: ring.descAddr,
    availAddr: ring.availAddr,
    usedAddr: ring.usedAddr,
    broken: ring.broken === null ? null : `§${ring.broken.id}: ${ring.broken.message}`,
    availFlags,
    availIdx,
    usedFlags,
    usedIdx,
    usedEvent: ring.eventIdx ? peek16(memory, ring.usedEventAddr) : null,
    availEvent: ring.eventIdx ? peek16(memory, ring.availEventAddr) : null,
  };
  if (ring.side === "driver") {
    const notes = driverNotes(ring);
    const availEnd = (ring.availIdx + ring.added) & 0xffff;
    return new SplitRingSnapshot({
      ...common,
      summary: `avail idx ${ring.availIdx} (${ring.added} placed, not published), last used ` +
        `${ring.lastUsed}; ${ring.numFree} free, ${ring.inFlight} in flight ` +
        `(${ring.published} published); callbacks ${ring.callbacks ? "on" : "off"}`,
      descriptors: descriptorRows(ring, notes),
      avail: availRows(
        ring,
        availEnd,
        ring.added + ring.published,
        (entry) => ((availEnd - 1 - entry) & 0xffff) < ring.added ? "placed" : "published",
      ),
      used: usedIdx === null
        ? []
        : usedRows(ring, usedIdx, Math.min((usedIdx - ring.lastUsed) & 0xffff, size), "to reap"),
      freeList: freeList(ring),
      numFree: ring.numFree,
      inFlight: driverChains(ring),
    });
  }
  const notes = new Map<number, string>();
  const inFlight: ChainRow[] = [];
  for (let head = 0; head < size; head++) {
    if (ring.inUse[head] === 0) continue;
    notes.set(head, "head, with the device model");
    inFlight.push({
      head,
      state: "with the device model",
      descriptors: 0,
      writable: ring.writable[head],
      table: null,
      token: "",
    });
  }
  const ahead = availIdx === null ? 0 : (availIdx - ring.lastAvail) & 0xffff;
  return new SplitRingSnapshot({
    ...common,
    summary:
      `last avail idx ${ring.lastAvail} (${ahead <= size ? ahead : "?"} available), used idx ` +
      `${ring.usedIdx}, signalled at ${ring.signalledUsed}; ${ring.inFlight} in flight; ` +
      `notifications ${ring.notifications ? "on" : "off"}`,
    descriptors: descriptorRows(ring, notes),
    avail: availIdx === null
      ? []
      : availRows(ring, availIdx, ahead <= size ? ahead : 0, () => "available"),
    used: usedRows(
      ring,
      ring.usedIdx,
      Math.min((ring.usedIdx - ring.signalledUsed) & 0xffff, size),
      "pushed, not signalled",
    ),
    freeList: null,
    numFree: null,
    inFlight,
  });
}

/** What the driver's shadow says about each descriptor of a posted chain. */
function driverNotes(ring: SplitDriverRing<unknown>): Map<number, string> {
  const notes = new Map<number, string>();
  for (let head = 0; head < ring.size; head++) {
    const state = ring.state[head];
    if (state === 0) continue;
    notes.set(head, `head ${head} (${state === 1 ? "placed" : "published"})`);
    let i = head;
    for (let k = 1; k < ring.count[head]; k++) {
      i = ring.next[i];
      notes.set(i, `in chain ${head}`);
    }
  }
  for (const i of freeList(ring, ring.size)) if (!notes.has(i)) notes.set(i, "free");
  return notes;
}

function driverChains(ring: SplitDriverRing<unknown>): ChainRow[] {
  const rows: ChainRow[] = [];
  for (let head = 0; head < ring.size; head++) {
    const state = ring.state[head];
    if (state === 0) continue;
    const table = ring.tables[head];
    rows.push({
      head,
      state: state === 1 ? "placed" : "published",
      descriptors: ring.count[head],
      writable: ring.writable[head],
      table: table < 0 ? null : table,
      token: formatToken(ring.tokens[head]),
    });
  }
  return rows;
}

/** The free list from `freeHead`, through the shadow links, at most `max` entries. */
function freeList(ring: SplitDriverRing<unknown>, max = FREE_LIST_MAX): number[] {
  const list: number[] = [];
  let i = ring.freeHead;
  const n = Math.min(ring.numFree, max);
  for (let k = 0; k < n && i < ring.size; k++) {
    list.push(i);
    i = ring.next[i];
  }
  return list;
}

/**
 * The descriptor table: every descriptor of a small ring; of a large one,
 * only those with a note or non-zero contents, the others collapsed into runs.
 */
function descriptorRows(
  ring: SplitDriverRing<unknown> | SplitDeviceRing,
  notes: Map<number, string>,
): DescriptorRow[] {
  const rows: DescriptorRow[] = [];
  const memory = ring.memory;
  let runStart = -1;
  const endRun = (last: number) => {
    if (runStart < 0) return;
    rows.push({
      index: runStart,
      last,
      addr: null,
      len: 0,
      flags: 0,
      next: 0,
      note: ring.side === "driver" ? "unused, free" : "unused",
    });
    runStart = -1;
  };
  for (let i = 0; i < ring.size; i++) {
    const at = ring.descAddr + descOffset(i);
    if (!memory.contains(at, 16)) {
      endRun(i - 1);
      rows.push({
        index: i,
        last: ring.size - 1,
        addr: null,
        len: 0,
        flags: 0,
        next: 0,
        note: "outside RAM",
      });
      return rows;
    }
    const addr = memory.readU64Number(at);
    const len = memory.readU32(at + 8);
    const flags = memory.readU16(at + 12);
    const next = memory.readU16(at + 14);
    const note = notes.get(i) ?? "";
    const empty = addr === 0 && len === 0 && flags === 0 && next === 0;
    if (ring.size > FULL_RING_MAX && empty && (note === "" || note === "free")) {
      if (runStart < 0) runStart = i;
      continue;
    }
    endRun(i - 1);
    rows.push({ index: i, last: i, addr, len, flags, next, note });
  }
  endRun(ring.size - 1);
  return rows;
}

/**
 * Which ring entries to show, as `[slot, entry]` pairs: every slot of a small
 * ring in slot order (`entry` is the live entry the slot holds, or `null`),
 * else only the `live` entries just before `end`, in entry order.
 */
function ringSlots(
  ring: SplitDriverRing<unknown> | SplitDeviceRing,
  end: number,
  live: number,
): [number, number | null][] {
  const out: [number, number | null][] = [];
  if (ring.size <= FULL_RING_MAX) {
    for (let slot = 0; slot < ring.size; slot++) {
      const age = (end - 1 - slot) & ring.mask; // entries since the latest one in this slot
      out.push([slot, age < live ? (end - 1 - age) & 0xffff : null]);
    }
    return out;
  }
  for (let k = Math.min(live, WINDOW_MAX); k > 0; k--) {
    const entry = (end - k) & 0xffff;
    out.push([entry & ring.mask, entry]);
  }
  return out;
}

/** Rows of the available ring; `status` labels a live entry. */
function availRows(
  ring: SplitDriverRing<unknown> | SplitDeviceRing,
  end: number,
  live: number,
  status: (entry: number) => string,
): AvailEntryRow[] {
  const rows: AvailEntryRow[] = [];
  for (const [slot, entry] of ringSlots(ring, end, live)) {
    const head = peek16(ring.memory, ring.availAddr + availRingEntryOffset(slot));
    if (head === null) break;
    rows.push({ entry, slot, head, status: entry === null ? "" : status(entry) });
  }
  return rows;
}

/** Rows of the used ring; `status` labels the live entries. */
function usedRows(
  ring: SplitDriverRing<unknown> | SplitDeviceRing,
  end: number,
  live: number,
  status: string,
): UsedEntryRow[] {
  const rows: UsedEntryRow[] = [];
  for (const [slot, entry] of ringSlots(ring, end, live)) {
    const at = ring.usedAddr + usedElemOffset(slot);
    if (!ring.memory.contains(at, 8)) break;
    rows.push({
      entry,
      slot,
      id: ring.memory.readU32(at),
      len: ring.memory.readU32(at + 4),
      status: entry === null ? "" : status,
    });
  }
  return rows;
}

function peek16(memory: GuestMemory, address: number): number | null {
  return memory.contains(address, 2) ? memory.readU16(address) : null;
}

/** Descriptor flags by name: `"WRITE|NEXT"`, `"INDIRECT"`, `"-"`; unknown bits in hex. */
export function descFlagNames(flags: number): string {
  const names: string[] = [];
  if (flags & VIRTQ_DESC_F_NEXT) names.push("NEXT");
  if (flags & VIRTQ_DESC_F_WRITE) names.push("WRITE");
  if (flags & VIRTQ_DESC_F_INDIRECT) names.push("INDIRECT");
  const other = flags & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT);
  if (other) names.push(`0x${other.toString(16)}`);
  return names.length ? names.join("|") : "-";
}

function flagWord(flags: number | null, bit: number, name: string): string {
  if (flags === null) return "outside RAM";
  const word = `0x${flags.toString(16).padStart(4, "0")}`;
  return (flags & bit) !== 0 ? `${word} (${name})` : word;
}

function hex(n: number): string {
  return Number.isFinite(n) ? `0x${n.toString(16).padStart(8, "0")}` : "beyond 2^53";
}

/** A token, short: strings quoted, objects by `Deno.inspect` on one line, at most 40 characters. */
function formatToken(token: unknown): string {
  const text = typeof token === "string"
    ? JSON.stringify(token)
    : Deno.inspect(token, { depth: 1, breakLength: Infinity, colors: false });
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/**
 * Gives a ring record its REPL and Jupyter displays (as non-enumerable
 * properties, so the record still compares, spreads and copies as plain data).
 *
 * @param ring A driver or device ring record.
 */
export function attachRingDisplay(ring: SplitDriverRing<unknown> | SplitDeviceRing): void {
  Object.defineProperty(ring, INSPECT, {
    value: () => inspectRing(ring).format(),
  });
  Object.defineProperty(ring, JUPYTER, {
    value: () => inspectRing(ring).display(),
  });
}
