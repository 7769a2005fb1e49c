/**
 * The packed ring (virtio v1.2 §2.8) on trial: one queue's two state
 * records over a small snooped RAM, placed at any ring position and wrap
 * counter, with raw writers for the other side's descriptors, and the
 * observations a grader compares: what a part returned or threw, what it
 * reported, what it stored and in which order, and the record afterwards.
 *
 * Cases are data (lists of descriptor specs, completions), so a grader's
 * rows are a filter and a verdict each. Everything runs on a non-strict log
 * under a read budget: "never throw, never hang, report the id" is what the
 * rows see.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog } from "../../conformance/log.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../virtqueue/constants.ts";
import {
  PVIRTQ_DESC_ADDR,
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_ID,
  PVIRTQ_DESC_LEN,
  PVIRTQ_DESC_SIZE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../virtqueue/packed/constants.ts";
import {
  createPackedDeviceRing,
  type PackedChainRecord,
  type PackedDeviceRing,
} from "../../virtqueue/packed/device_ring.ts";
import {
  createPackedDriverRing,
  type PackedDriverRing,
} from "../../virtqueue/packed/driver_ring.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { PackedQueueDriver } from "../../virtqueue/packed/driver_queue.ts";
import { PackedQueueDevice } from "../../virtqueue/packed/device_queue.ts";
import type { PackedRingDeviceParts, PackedRingDriverParts } from "../../virtqueue/packed/parts.ts";
import { type MemoryAccess, SnoopingMemory } from "./snoop.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { readBudget } from "./budget.ts";
import { descFlags, value } from "./format.ts";

/** Where the fixture's Descriptor Ring starts. */
export const PACKED_DESC = 0x1000;
/** The Driver Event Suppression structure. */
export const PACKED_DRIVER_EVENT = 0x2000;
/** The Device Event Suppression structure. */
export const PACKED_DEVICE_EVENT = 0x2004;
/** Buffers start here; RAM ends at {@linkcode PACKED_RAM}. */
export const PACKED_BUFFERS = 0x4000;
/** Bytes of RAM (from guest-physical 0). */
export const PACKED_RAM = 0x10000;

/** A ring position and the wrap counter that goes with it. */
export interface RingPosition {
  /** Slot, 0 to size - 1. */
  readonly pos: number;
  /** Wrap counter, 0 or 1. */
  readonly wrap: number;
}

/** One queue, both records, over snooped RAM. */
export interface PackedFixture {
  /** RAM, snooped. */
  readonly memory: SnoopingMemory;
  /** Where both records report. */
  readonly log: ConformanceLog;
  /** The device's record. */
  readonly device: PackedDeviceRing;
  /** The driver's record (tokens are numbers). */
  readonly driver: PackedDriverRing<number>;
}

/** Options for {@linkcode packedFixture}. */
export interface PackedFixtureOptions {
  /** Queue Size (default 4). */
  readonly size?: number;
  /** VIRTIO_F_INDIRECT_DESC negotiated (default false). */
  readonly indirect?: boolean;
  /** Where both sides' avail positions start (default slot 0, wrap 1). */
  readonly avail?: RingPosition;
  /** Where both sides' used positions start (default: as `avail`). */
  readonly used?: RingPosition;
}

/** Builds a fixture: both records at the positions asked for, nothing in flight, RAM zero. */
export function packedFixture(options: PackedFixtureOptions = {}): PackedFixture {
  const memory = new SnoopingMemory(PACKED_RAM);
  const log = new ConformanceLog();
  const config = {
    memory,
    index: 0,
    size: options.size ?? 4,
    eventIdx: false,
    indirect: options.indirect ?? false,
    descAddr: PACKED_DESC,
    availAddr: PACKED_DRIVER_EVENT,
    usedAddr: PACKED_DEVICE_EVENT,
  };
  const device = createPackedDeviceRing({ ...config, reporter: log.scoped("device") });
  const driver = createPackedDriverRing<number>({ ...config, reporter: log.scoped("driver") });
  const avail = options.avail ?? { pos: 0, wrap: 1 };
  const used = options.used ?? avail;
  device.nextAvail = driver.nextAvail = avail.pos;
  device.availWrap = driver.availWrap = avail.wrap;
  device.nextUsed = driver.nextUsed = used.pos;
  device.usedWrap = driver.usedWrap = used.wrap;
  return { memory, log, device, driver };
}

/** The position `n` slots after `at`, with its wrap counter. */
export function advance(at: RingPosition, n: number, size: number): RingPosition {
  let pos = at.pos + n;
  let wrap = at.wrap;
  while (pos >= size) {
    pos -= size;
    wrap ^= 1;
  }
  return { pos, wrap };
}

/** How a descriptor's AVAIL/USED bits are set against the wrap counter of its slot. */
export type Mark = "avail" | "used" | "stale" | "both" | "zero";

/** AVAIL/USED bits for a mark on wrap `w`: available, used, last lap's available, both = w, none. */
export function markBits(mark: Mark, w: number): number {
  const a = VIRTQ_DESC_F_AVAIL;
  const u = VIRTQ_DESC_F_USED;
  switch (mark) {
    case "avail":
      return w ? a : u;
    case "stale":
      return w ? u : a;
    case "used":
    case "both":
      return w ? a | u : 0;
    case "zero":
      return 0;
  }
}

/** One descriptor a hostile or honest driver writes. */
export interface DescSpec {
  /** Element address (default: a fresh buffer). */
  readonly addr?: number;
  /** Element length (default 16). */
  readonly len?: number;
  /** Buffer ID (default 0). */
  readonly id?: number;
  /** VIRTQ_DESC_F_NEXT. */
  readonly n?: boolean;
  /** VIRTQ_DESC_F_WRITE. */
  readonly w?: boolean;
  /** VIRTQ_DESC_F_INDIRECT. */
  readonly i?: boolean;
  /** AVAIL/USED against the slot's wrap counter (default `"avail"`). */
  readonly mark?: Mark;
  /** Take the mark against this wrap counter instead of the slot's. */
  readonly onWrap?: number;
}

/** Writes descriptors from `at` on, each slot's AVAIL/USED from its own wrap; unobserved. */
export function writeList(f: PackedFixture, at: RingPosition, list: readonly DescSpec[]): void {
  const size = f.device.size;
  f.memory.quietly(() => {
    let buf = PACKED_BUFFERS;
    list.forEach((d, k) => {
      const p = advance(at, k, size);
      const desc = PACKED_DESC + p.pos * PVIRTQ_DESC_SIZE;
      const len = d.len ?? 16;
      const addr = d.addr ?? buf;
      buf += 0x100;
      const flags = (d.n ? VIRTQ_DESC_F_NEXT : 0) | (d.w ? VIRTQ_DESC_F_WRITE : 0) |
        (d.i ? VIRTQ_DESC_F_INDIRECT : 0) | markBits(d.mark ?? "avail", d.onWrap ?? p.wrap);
      f.memory.writeU64(desc + PVIRTQ_DESC_ADDR, addr);
      f.memory.writeU32(desc + PVIRTQ_DESC_LEN, len);
      f.memory.writeU16(desc + PVIRTQ_DESC_ID, d.id ?? 0);
      f.memory.writeU16(desc + PVIRTQ_DESC_FLAGS, flags);
    });
  });
}

/** Marks Buffer IDs in flight on the device side, each taking `slots` slots. */
export function holdIds(f: PackedFixture, ids: readonly number[], slots = 1): void {
  for (const id of ids) {
    f.device.chains.set(id, {
      head: id,
      readable: [],
      writable: [{ addr: PACKED_BUFFERS, len: 64 }],
      readableLength: 0,
      writableLength: 64,
      descriptorCount: slots,
      indirect: false,
      slots,
      inUse: true,
    });
  }
}

/** What a part did on a fixture: returned or threw, the ids reported, its stores. */
export interface PackedRun<R> {
  /** What it returned, or the thrown error's name and fields. */
  readonly outcome: { readonly returned: R } | { readonly threw: Record<string, unknown> };
  /** Requirement ids reported to the log, in order. */
  readonly ids: readonly string[];
  /** Whether the record it ran on is broken afterwards. */
  readonly broken: boolean;
  /** Stores it made, in order: the field of the descriptor (or the address) and the value. */
  readonly stores: readonly { readonly at: string; readonly value: number | bigint | null }[];
}

/** `"desc 3 flags"` for a store into the ring, else the address in hex. */
export function storePlace(a: MemoryAccess, size: number): string {
  const off = a.address - PACKED_DESC;
  if (off >= 0 && off < size * PVIRTQ_DESC_SIZE) {
    const field = ["addr", "", "", "", "", "", "", "", "len", "", "", "", "id", "", "flags"][
      off % PVIRTQ_DESC_SIZE
    ];
    return `desc ${Math.floor(off / PVIRTQ_DESC_SIZE)} ${field || `+${off % PVIRTQ_DESC_SIZE}`}`;
  }
  return `0x${a.address.toString(16)}`;
}

/** The errors ring parts throw by contract. */
const CONTRACT_ERRORS = new Set(["VirtqueueChainError", "VirtqueueFullError"]);

/**
 * Runs `fn` on a fixture: stores recorded, reads budgeted (a runaway loop
 * becomes an error), what it threw kept as its name and own fields (a stub's
 * `todo()` passes through, for the grader to explain).
 */
export function runPacked<R>(
  f: PackedFixture,
  record: { broken: unknown },
  fn: () => R,
): PackedRun<R> {
  const stores: { at: string; value: number | bigint | null }[] = [];
  const stop = f.memory.onStore((a) =>
    stores.push({ at: storePlace(a, f.device.size), value: a.value })
  );
  const budget = readBudget(f.memory, 20_000);
  let outcome: PackedRun<R>["outcome"];
  try {
    outcome = { returned: fn() };
  } catch (e) {
    // Only the errors a ring part's contract names are outcomes; anything
    // else (a stub's todo(), a runaway loop, a bug) is the grader's to explain.
    if (!(e instanceof Error) || !CONTRACT_ERRORS.has(e.name)) throw e;
    const fields: Record<string, unknown> = { name: e.name };
    for (const [k, v] of Object.entries(e)) if (k !== "stack" && k !== "message") fields[k] = v;
    outcome = { threw: fields };
  } finally {
    stop();
    budget.stop();
  }
  return {
    outcome,
    ids: f.log.entries.map((v) => v.id),
    broken: record.broken !== null,
    stores,
  };
}

/** A chain record as plain data (elements as `[addr, len]`), for comparing. */
export function recordData(r: PackedChainRecord) {
  return {
    head: r.head,
    readable: r.readable.map((s) => [s.addr, s.len]),
    writable: r.writable.map((s) => [s.addr, s.len]),
    readableLength: r.readableLength,
    writableLength: r.writableLength,
    descriptorCount: r.descriptorCount,
    slots: r.slots,
    indirect: r.indirect,
    inUse: r.inUse,
  };
}

// ------------------------------------------------------------ the device: lists

/** A list a driver wrote at the device's `nextAvail`, valid or breaking one rule. */
export interface PackedList {
  /** What it is, for the failure message. */
  readonly name: string;
  /** The rule it breaks, or `null` for a valid list. */
  readonly rule: string | null;
  /** Other ids a device may fairly report for it. */
  readonly fair?: readonly string[];
  /** Queue Size (default 4). */
  readonly size?: number;
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  readonly indirect?: boolean;
  /** Where the list starts (default slot 0, wrap 1). */
  readonly at?: RingPosition;
  /** Its descriptors, in ring order from `at`. */
  readonly list: readonly DescSpec[];
  /** Buffer IDs in flight already. */
  readonly held?: readonly number[];
  /** Buffer IDs used before, whose records the ring keeps (not in flight). */
  readonly returned?: readonly number[];
}

const END = PACKED_RAM;
/** The lists: every refusal of a walk, and the valid lists at each rule's edge. */
export const PACKED_LISTS: readonly PackedList[] = [
  { name: "one writable element", rule: null, list: [{ w: true, id: 3 }] },
  {
    name: "header, data and status",
    rule: null,
    list: [{ n: true, id: 9 }, { n: true, w: true, len: 512, id: 9 }, { w: true, len: 1, id: 9 }],
  },
  {
    name: "ids that differ before the last descriptor",
    rule: null,
    list: [{ n: true, id: 7 }, { w: true, id: 2 }],
  },
  {
    name: "a list that goes round the ring's end",
    rule: null,
    at: { pos: 3, wrap: 1 },
    list: [{ n: true, id: 1 }, { n: true, w: true, id: 1 }, { w: true, id: 1 }],
  },
  {
    name: "a list of exactly Queue Size descriptors from slot 0",
    rule: null,
    list: [{ n: true }, { n: true }, { n: true, w: true }, { w: true, id: 2 }],
  },
  {
    name: "a list of exactly Queue Size descriptors from slot 2 on wrap 0",
    rule: null,
    at: { pos: 2, wrap: 0 },
    list: [{ n: true }, { n: true }, { n: true }, { id: 3 }],
  },
  {
    name: "a list on a wrap-0 lap",
    rule: null,
    at: { pos: 1, wrap: 0 },
    list: [{ n: true }, { w: true, id: 1 }],
  },
  {
    name: "an element ending on RAM's last byte",
    rule: null,
    list: [{ addr: END - 16, len: 16, w: true }],
  },
  {
    name: "a Buffer ID used before and returned",
    rule: null,
    returned: [5],
    list: [{ w: true, id: 5 }],
  },
  {
    name: "a Queue Size of 5",
    rule: null,
    size: 5,
    at: { pos: 4, wrap: 1 },
    list: [{ n: true }, { w: true, id: 4 }],
  },
  {
    name: "a lone indirect descriptor",
    rule: null,
    indirect: true,
    list: [{ i: true, addr: 0x8000, len: 48, id: 6 }],
  },
  {
    name: "a later descriptor not made available yet",
    rule: "2.8.17/6",
    list: [{ n: true }, { mark: "zero" }],
  },
  {
    name: "a later descriptor left from the last lap",
    rule: "2.8.17/6",
    list: [{ n: true }, { mark: "stale" }],
  },
  {
    name: "a descriptor past the ring's end marked with the old wrap counter",
    rule: "2.8.17/6",
    at: { pos: 3, wrap: 1 },
    list: [{ n: true }, { w: true, onWrap: 1 }],
  },
  {
    name: "VIRTQ_DESC_F_NEXT on every descriptor of the ring",
    rule: "2.8.17/2",
    fair: ["2.8.17/6"],
    list: [{ n: true }, { n: true }, { n: true }, { n: true }],
  },
  {
    name: "a readable element after a writable one",
    rule: "2.8.17/3",
    list: [{ n: true, w: true }, {}],
  },
  { name: "an element past RAM's end", rule: "2.8.4/D1", list: [{ addr: END - 8, len: 16 }] },
  {
    name: "a second element far outside RAM",
    rule: "2.8.4/D1",
    list: [{ n: true }, { addr: 0xffff_0000, w: true }],
  },
  {
    name: "VIRTQ_DESC_F_INDIRECT without the feature",
    rule: "2.8.19/1",
    list: [{ i: true, len: 32 }],
  },
  {
    name: "VIRTQ_DESC_F_INDIRECT with VIRTQ_DESC_F_NEXT",
    rule: "2.8.19/4",
    indirect: true,
    list: [{ i: true, n: true, len: 32 }, {}],
  },
  {
    name: "an indirect descriptor after a VIRTQ_DESC_F_NEXT one",
    rule: "2.8.19/4",
    indirect: true,
    list: [{ n: true }, { i: true, len: 32 }],
  },
  { name: "a Buffer ID still in flight", rule: "2.8.6/D1", held: [4], list: [{ w: true, id: 4 }] },
  {
    name: "a Buffer ID in flight, on a longer list",
    rule: "2.8.6/D1",
    held: [2],
    list: [{ n: true, id: 0 }, { w: true, id: 2 }],
  },
];

/** What a walk did with a list. */
export interface WalkRun extends PackedRun<ReturnType<typeof recordData> | null> {
  /** Whether `ring.chains` holds the returned record under its Buffer ID. */
  readonly kept: boolean;
  /** `nextAvail` and `availWrap` afterwards. */
  readonly after: RingPosition;
  /** `ring.indirectDesc` afterwards. */
  readonly indirectDesc: { readonly position: number; readonly addr: number; readonly len: number };
}

/** Writes a list and runs a walk on it. */
export function runWalk(
  c: PackedList,
  walk: (ring: PackedDeviceRing) => PackedChainRecord | null,
): WalkRun {
  const at = c.at ?? { pos: 0, wrap: 1 };
  const f = packedFixture({ size: c.size, indirect: c.indirect, avail: at });
  writeList(f, at, c.list);
  holdIds(f, c.held ?? []);
  holdIds(f, c.returned ?? []);
  for (const id of c.returned ?? []) f.device.chains.get(id)!.inUse = false;
  let got: PackedChainRecord | null = null;
  const run = runPacked(f, f.device, () => {
    got = walk(f.device);
    return got === null ? null : recordData(got);
  });
  const rec = got as PackedChainRecord | null;
  return {
    ...run,
    kept: rec !== null && f.device.chains.get(rec.head) === rec,
    after: { pos: f.device.nextAvail, wrap: f.device.availWrap },
    indirectDesc: { ...f.device.indirectDesc },
  };
}

// ------------------------------------------------------------ the device: used descriptors

/** A used descriptor to write: where, with which wrap counter, for a buffer of how many slots. */
export type PushCase = [size: number, at: RingPosition, slots: number, len: number];

/** Pushes, at the edges: the ring's end, a buffer of every slot, len 0. */
export const PUSH_CASES: readonly PushCase[] = [
  [4, { pos: 0, wrap: 1 }, 1, 0],
  [4, { pos: 0, wrap: 1 }, 1, 100],
  [4, { pos: 1, wrap: 0 }, 2, 0],
  [4, { pos: 1, wrap: 0 }, 2, 7],
  [4, { pos: 3, wrap: 1 }, 1, 5],
  [4, { pos: 2, wrap: 1 }, 3, 64],
  [4, { pos: 0, wrap: 0 }, 4, 9],
  [4, { pos: 0, wrap: 1 }, 4, 0],
  [5, { pos: 4, wrap: 0 }, 1, 1],
];

/** What a push did: its stores, and the record's positions afterwards. */
export interface PushRun extends PackedRun<void> {
  /** `nextUsed`, `usedWrap` afterwards. */
  readonly after: RingPosition;
  /** `usedSinceSignal` afterwards. */
  readonly usedSinceSignal: number;
}

/** Runs a push of Buffer ID 2 (held with `slots` slots) on a fixture. */
export function runPush(
  c: PushCase,
  push: (ring: PackedDeviceRing, id: number, len: number) => void,
): PushRun {
  const [size, at, slots, len] = c;
  const f = packedFixture({ size, used: at });
  holdIds(f, [2], slots);
  const run = runPacked(f, f.device, () => push(f.device, 2, len));
  return {
    ...run,
    after: { pos: f.device.nextUsed, wrap: f.device.usedWrap },
    usedSinceSignal: f.device.usedSinceSignal,
  };
}

// ------------------------------------------------------------ the driver: making buffers available

/** A buffer to make available, on a ring in some state; `bad` puts one element outside the rules. */
export interface AddCase {
  /** What it is. */
  readonly name: string;
  /** Queue Size (default 4). */
  readonly size?: number;
  /** Where `nextAvail` starts. */
  readonly at?: RingPosition;
  /** The free Buffer IDs, head first (default 0, 1, ... size - 1). */
  readonly free?: readonly number[];
  /** `numFree` (default the ring's size). */
  readonly numFree?: number;
  /** Lengths of the readable and writable elements. */
  readonly r: readonly number[];
  readonly w: readonly number[];
  /** Element k placed outside RAM. */
  readonly outside?: number;
}

/** Buffers at the ring's end and edges, and one per refusal of the contract. */
export const ADD_CASES: readonly AddCase[] = [
  { name: "one readable element", r: [16], w: [] },
  { name: "header, data and status", r: [16], w: [512, 1] },
  { name: "a list that goes round the ring's end", at: { pos: 2, wrap: 1 }, r: [16], w: [64, 1] },
  { name: "one element in the last slot", at: { pos: 3, wrap: 0 }, r: [], w: [8] },
  { name: "exactly Queue Size elements", r: [], w: [1, 1, 1, 1] },
  { name: "a Queue Size of 5, from slot 4", size: 5, at: { pos: 4, wrap: 1 }, r: [8, 8], w: [] },
  {
    name: "free Buffer IDs in another order",
    free: [2, 0, 3],
    numFree: 3,
    at: { pos: 1, wrap: 1 },
    r: [4],
    w: [4],
  },
  { name: "a wrap-0 lap", at: { pos: 0, wrap: 0 }, r: [32], w: [32] },
  { name: "no elements", r: [], w: [] },
  { name: "more elements than Queue Size", r: [1, 1, 1], w: [1, 1] },
  { name: "more elements than free slots", free: [1], numFree: 1, r: [16], w: [1] },
  { name: "an element of length 0", r: [16, 0], w: [1] },
  { name: "an element longer than 0xffff_ffff", r: [2 ** 32], w: [] },
  { name: "an element outside RAM", r: [16], w: [8, 1], outside: 2 },
];

/** Where {@linkcode runAdd} puts element k. */
export function elementAddr(c: AddCase, k: number): number {
  return c.outside === k ? PACKED_RAM : PACKED_BUFFERS + 0x1000 * k;
}

/** What a driver's add did: the descriptors it wrote, its stores in order, the record after. */
export interface AddRun extends PackedRun<void> {
  /** Per element: the slot's addr, len and flags, and the id of the last one (others -1). */
  readonly descs: readonly { addr: number; len: number; flags: number; id: number }[];
  /** The record's fields the contract fixes, afterwards. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** Runs an add of a case (token 77) on a fresh driver record. */
export function runAdd(
  c: AddCase,
  add: (
    ring: PackedDriverRing<number>,
    r: BufferSegment[],
    w: BufferSegment[],
    token: number,
  ) => void,
): AddRun {
  const size = c.size ?? 4;
  const at = c.at ?? { pos: 0, wrap: 1 };
  const f = packedFixture({ size, avail: at });
  const ring = f.driver;
  const free = c.free ?? Array.from({ length: size }, (_, i) => i);
  ring.freeHead = free[0] ?? -1;
  free.forEach((id, k) => (ring.nextId[id] = free[k + 1] ?? -1));
  ring.numFree = c.numFree ?? size;
  const seg = (len: number, k: number) => ({ addr: elementAddr(c, k), len });
  const r = c.r.map((len, k) => seg(len, k));
  const w = c.w.map((len, k) => seg(len, c.r.length + k));
  const run = runPacked(f, ring, () => add(ring, r, w, 77));
  const n = r.length + w.length;
  const descs = f.memory.quietly(() =>
    "returned" in run.outcome
      ? Array.from({ length: n }, (_, k) => {
        const d = PACKED_DESC + advance(at, k, size).pos * PVIRTQ_DESC_SIZE;
        return {
          addr: f.memory.readU64Number(d + PVIRTQ_DESC_ADDR),
          len: f.memory.readU32(d + PVIRTQ_DESC_LEN),
          flags: f.memory.readU16(d + PVIRTQ_DESC_FLAGS),
          id: k === n - 1 ? f.memory.readU16(d + PVIRTQ_DESC_ID) : -1,
        };
      })
      : []
  );
  const id = free[0];
  return {
    ...run,
    descs,
    record: {
      nextAvail: ring.nextAvail,
      availWrap: ring.availWrap,
      numFree: ring.numFree,
      numAdded: ring.numAdded,
      freeHead: ring.freeHead,
      inFlight: ring.inFlight,
      id: id === undefined ? null : {
        inUse: ring.inUse[id],
        descCount: ring.descCount[id],
        writable: ring.writable[id],
        table: ring.table[id],
        token: ring.tokens[id] ?? null,
      },
    },
  };
}

/**
 * Whether each descriptor's `flags` store comes after its `addr`, `len`
 * (and, for the last, `id`) stores, and which store came last.
 */
export function addOrder(run: AddRun, n: number, at: RingPosition, size: number) {
  const slots = Array.from({ length: n }, (_, k) => advance(at, k, size).pos);
  const index = (place: string) => run.stores.findIndex((s) => s.at === place);
  const lastIndex = (place: string) => run.stores.findLastIndex((s) => s.at === place);
  const flagsAfter = slots.every((p, k) => {
    const flags = lastIndex(`desc ${p} flags`);
    const fields = [`desc ${p} addr`, `desc ${p} len`, ...(k === n - 1 ? [`desc ${p} id`] : [])];
    return fields.every((x) => index(x) >= 0 && lastIndex(x) < flags);
  });
  return {
    flagsAfterFields: flagsAfter,
    lastStore: run.stores.at(-1)?.at ?? "none",
    firstFlagsStores: run.stores.filter((s) => s.at === `desc ${slots[0]} flags`).length,
  };
}

// ------------------------------------------------------------ the driver: reaping

/** The descriptor at the driver's `nextUsed`, and the buffers in flight. */
export interface ReapCase {
  /** What it is. */
  readonly name: string;
  /** Queue Size (default 4). */
  readonly size?: number;
  /** Where `nextUsed` is. */
  readonly at?: RingPosition;
  /** Buffers in flight: id, slots, writable bytes (default one: id 1, 1 slot, 64 bytes). */
  readonly inFlight?: readonly (readonly [id: number, slots: number, writable: number])[];
  /** The descriptor at `nextUsed`: how it is marked, its id, len and WRITE. */
  readonly mark: "used" | "avail" | "oldused" | "half";
  readonly id: number;
  readonly len: number;
  readonly write: boolean;
}

/** Used, not yet used, and hostile used descriptors. */
export const REAP_CASES: readonly ReapCase[] = [
  { name: "a used descriptor with 10 bytes written", mark: "used", id: 1, len: 10, write: true },
  { name: "exactly the buffer's writable bytes", mark: "used", id: 1, len: 64, write: true },
  {
    name: "a used descriptor without VIRTQ_DESC_F_WRITE",
    mark: "used",
    id: 1,
    len: 99,
    write: false,
  },
  {
    name: "a buffer of 3 slots that goes round the end",
    at: { pos: 2, wrap: 1 },
    inFlight: [[0, 3, 8]],
    mark: "used",
    id: 0,
    len: 8,
    write: true,
  },
  {
    name: "a buffer of Queue Size slots",
    inFlight: [[3, 4, 4]],
    mark: "used",
    id: 3,
    len: 4,
    write: true,
  },
  {
    name: "a used descriptor on a wrap-0 lap",
    at: { pos: 1, wrap: 0 },
    mark: "used",
    id: 1,
    len: 1,
    write: true,
  },
  {
    name: "the driver's own descriptor, not used yet",
    mark: "avail",
    id: 1,
    len: 16,
    write: false,
  },
  { name: "a used descriptor left from the last lap", mark: "oldused", id: 1, len: 4, write: true },
  { name: "AVAIL of the last lap, USED of this one", mark: "half", id: 1, len: 4, write: true },
  { name: "a Buffer ID of Queue Size", mark: "used", id: 4, len: 0, write: false },
  { name: "a Buffer ID not in flight", mark: "used", id: 2, len: 0, write: false },
  { name: "more bytes than the buffer can take", mark: "used", id: 1, len: 65, write: true },
];

/** What a reap did: what it returned, the ids it detached, the positions afterwards. */
export interface ReapRun extends PackedRun<{ token: number; len: number } | null> {
  /** Buffer IDs passed to `detach`, in order. */
  readonly detached: readonly number[];
  /** `nextUsed`, `usedWrap` afterwards. */
  readonly after: RingPosition;
}

/** Runs a reap of a case; `detach` returns the id + 100 as the token. */
export function runReap(
  c: ReapCase,
  reap: (ring: PackedDriverRing<number>, detach: (id: number) => number) => unknown,
): ReapRun {
  const size = c.size ?? 4;
  const at = c.at ?? { pos: 0, wrap: 1 };
  const f = packedFixture({ size, used: at });
  const ring = f.driver;
  for (const [id, slots, writable] of c.inFlight ?? [[1, 1, 64]]) {
    ring.inUse[id] = 1;
    ring.descCount[id] = slots;
    ring.writable[id] = writable;
    ring.tokens[id] = id + 100;
    ring.inFlight++;
  }
  const w = at.wrap;
  const bits = {
    used: markBits("used", w),
    avail: markBits("avail", w),
    oldused: markBits("used", w ^ 1),
    half: markBits("stale", w),
  }[c.mark];
  f.memory.quietly(() => {
    const d = PACKED_DESC + at.pos * PVIRTQ_DESC_SIZE;
    f.memory.writeU32(d + PVIRTQ_DESC_LEN, c.len);
    f.memory.writeU16(d + PVIRTQ_DESC_ID, c.id);
    f.memory.writeU16(d + PVIRTQ_DESC_FLAGS, bits | (c.write ? VIRTQ_DESC_F_WRITE : 0));
  });
  const detached: number[] = [];
  const run = runPacked(f, ring, () => {
    const got = reap(ring, (id) => {
      detached.push(id);
      return id + 100;
    }) as { token: number; len: number } | null;
    return got === null ? null : { token: got.token, len: got.len };
  });
  return { ...run, detached, after: { pos: ring.nextUsed, wrap: ring.usedWrap } };
}

// ------------------------------------------------------------ both halves, many laps

/** What {@linkcode packedRoundTrips} saw: the buffers back at the driver, in order, and the log. */
export interface RoundTripRun {
  /** `token:len` of each buffer reaped, in order. */
  readonly reaped: readonly string[];
  /** Ids reported by either side. */
  readonly ids: readonly string[];
}

/**
 * A seeded workload on a queue of 5 (not a power of two): lists of 1 to 3
 * elements, several made available at a time, the device completing a
 * random subset of what it holds in a random order (out of order, 2.8.12/2),
 * the driver reaping everything used; 150 buffers, around 60 laps of the
 * ring. Either half may be the learner's parts.
 *
 * @param device Device-side parts (the rest are the reference's).
 * @param driver Driver-side parts.
 * @param seed The schedule's seed.
 */
export function packedRoundTrips(
  device: Partial<PackedRingDeviceParts>,
  driver: Partial<PackedRingDriverParts>,
  seed = 0x5eed,
): RoundTripRun {
  const memory = new GuestMemory(1 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: 5, eventIdx: false, indirect: false };
  const drv = PackedQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("driver"),
    parts: driver,
  });
  const dev = new PackedQueueDevice(
    { ...common, ...drv.addresses, reporter: log.scoped("device") },
    () => {},
    { parts: device },
  );
  let state = seed >>> 0;
  const next = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const buf = allocator.alloc(4096);
  const held: { head: number; writable: number }[] = [];
  const reaped: string[] = [];
  let sent = 0;
  for (let step = 0; step < 2000 && reaped.length < 150 && !drv.broken && !dev.broken; step++) {
    for (let k = next(3); k >= 0 && sent < 150; k--) {
      const n = 1 + next(3);
      if (n > drv.numFree) break;
      const split = next(n + 1);
      const seg = (i: number) => ({ addr: buf + 64 * i, len: 8 + i });
      const all = Array.from({ length: n }, (_, i) => seg(i));
      drv.add(all.slice(0, split), all.slice(split), sent++);
    }
    drv.kickPrepare();
    for (let c = dev.pop(); c !== null; c = dev.pop()) {
      held.push({ head: c.head, writable: c.writableLength });
    }
    for (let k = next(held.length + 1); k > 0; k--) {
      const [{ head, writable }] = held.splice(next(held.length), 1);
      dev.push(head, writable === 0 ? 0 : 1 + next(writable));
    }
    dev.needsInterrupt();
    for (let u = drv.getBuf(); u !== null; u = drv.getBuf()) reaped.push(`${u.token}:${u.len}`);
  }
  return { reaped, ids: log.entries.map((v) => v.id) };
}

// ------------------------------------------------------------ showing cases and runs

/** `slot 3 wrap 1`. */
export function showPosition(p: RingPosition): string {
  return `slot ${p.pos} wrap ${p.wrap}`;
}

/** What a part returned or threw. */
export function showOutcome(o: PackedRun<unknown>): string {
  return "returned" in o.outcome
    ? `returned ${value(o.outcome.returned)}`
    : `threw ${value(o.outcome.threw)}`;
}

/** What a part reported, and whether the ring broke. */
export function showLogged(o: PackedRun<unknown>): string {
  return `${o.ids.length ? `reported ${o.ids.join(", ")}` : "reported nothing"}${
    o.broken ? ", ring broken" : ""
  }`;
}

/** A descriptor's `flags` poll: AVAIL and USED bits, the wrap counter, other bits. */
export type FlagCase = [avail: number, used: number, wrap: number, extra: number];

/** Every AVAIL/USED pair on both wrap counters, with and without other flag bits. */
export const FLAG_CASES: readonly FlagCase[] = [0, 1].flatMap((a) =>
  [0, 1].flatMap((u) =>
    [1, 0].flatMap((w) =>
      [0, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_INDIRECT].map(
        (x) => [a, u, w, x] as FlagCase,
      )
    )
  )
);

/** Runs a poll of slot 2 with the flags of a case. */
export function runPoll(
  c: FlagCase,
  poll: (ring: PackedDeviceRing) => boolean,
): PackedRun<boolean> {
  const [a, u, w, x] = c;
  const f = packedFixture({ avail: { pos: 2, wrap: w } });
  const flags = (a ? VIRTQ_DESC_F_AVAIL : 0) | (u ? VIRTQ_DESC_F_USED : 0) | x;
  f.memory.quietly(() =>
    f.memory.writeU16(PACKED_DESC + 2 * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS, flags)
  );
  return runPacked(f, f.device, () => poll(f.device));
}

/** The call a poll case makes. */
export function showPoll([a, u, w, x]: FlagCase): string {
  return `descAvailablePacked(ring) with nextAvail 2, availWrap ${w}, flags ${
    descFlags(x)
  } AVAIL=${a} USED=${u}`;
}

/** The call a walk case makes. */
export function showWalk(c: PackedList): string {
  return `walkPackedChain(ring) on ${c.name} (from ${
    showPosition(c.at ?? { pos: 0, wrap: 1 })
  }, Queue Size ${c.size ?? 4}${c.indirect ? ", VIRTIO_F_INDIRECT_DESC" : ""})`;
}

/** What a walk did. */
export function showWalkRun(o: WalkRun): string {
  return `${showOutcome(o)}, ${showLogged(o)}; ring.chains holds it: ${o.kept}; then nextAvail ` +
    `at ${showPosition(o.after)}; ring.indirectDesc ${value(o.indirectDesc)}`;
}

/** The call a push case makes. */
export function showPush([size, at, slots, len]: PushCase): string {
  return `pushUsedPacked(ring, 2, ${len}) with nextUsed at ${showPosition(at)}, Queue Size ` +
    `${size}, a buffer of ${slots} slot(s)`;
}

/** What a push did. */
export function showPushRun(o: PushRun): string {
  return `stored ${o.stores.map((s) => `${s.at} = ${value(s.value)}`).join(", ") || "nothing"}; ` +
    `then nextUsed at ${showPosition(o.after)}, usedSinceSignal ${o.usedSinceSignal}`;
}

/** The call an add case makes. */
export function showAdd(c: AddCase): string {
  return `addPacked(ring, [${c.r.join(", ")}], [${c.w.join(", ")}], 77) on ${c.name} (nextAvail ` +
    `at ${showPosition(c.at ?? { pos: 0, wrap: 1 })}, freeHead ${(c.free ?? [0])[0]})`;
}

/** What an add did. */
export function showAddRun(o: AddRun): string {
  const descs = o.descs.map((d) =>
    `{0x${d.addr.toString(16)}, ${d.len}, ${descFlags(d.flags)}${d.id >= 0 ? `, id ${d.id}` : ""}}`
  );
  return `${showOutcome(o)}; descriptors ${descs.join(" ") || "none"}; ${o.stores.length} ` +
    `store(s), the last ${o.stores.at(-1)?.at ?? "none"}; record ${value(o.record)}`;
}

/** The call a reap case makes. */
export function showReap(c: ReapCase): string {
  return `getBufPacked(ring, detach) on ${c.name} (nextUsed at ${
    showPosition(c.at ?? { pos: 0, wrap: 1 })
  }; id ${c.id}, len ${c.len}${c.write ? ", WRITE" : ""})`;
}

/** What a reap did. */
export function showReapRun(o: ReapRun): string {
  return `${showOutcome(o)}, ${showLogged(o)}; detach called for [${o.detached.join(", ")}]; ` +
    `then nextUsed at ${showPosition(o.after)}`;
}

/** The stores of a push as sorted `place = value` lines (id and len may come in either order). */
export function pushFields(o: PushRun, withWrite = true): string[] {
  return o.stores.map((s) =>
    `${s.at} = ${
      !withWrite && s.at.endsWith("flags") ? Number(s.value) & ~VIRTQ_DESC_F_WRITE : s.value
    }`
  ).sort();
}

// ------------------------------------------------------------ notifications

/**
 * One notification decision: the other side's Event Suppression structure
 * (`flags`, `off`, `wrap`), the deciding side's position and wrap counter,
 * and how many slots it moved since its last decision (`moved`).
 */
export interface NotifyCase {
  /** VIRTIO_F_EVENT_IDX negotiated. */
  readonly eventIdx: boolean;
  /** The structure's flags word as the other side wrote it (0x3 and above are bad). */
  readonly flags: number;
  /** `desc_event_off`. */
  readonly off: number;
  /** `desc_event_wrap`. */
  readonly wrap: number;
  /** The deciding side's position after the slots it moved. */
  readonly at: RingPosition;
  /** Slots made available (driver) or used (device) since the last decision. */
  readonly moved: number;
}

/** Every flags value (bad ones too), event offsets around and across the wrap, on a ring of 4. */
export function notifyCases(): NotifyCase[] {
  const out: NotifyCase[] = [];
  for (const eventIdx of [false, true]) {
    for (const flags of [0, 1, 2, 3, 6]) {
      for (const at of [{ pos: 2, wrap: 1 }, { pos: 1, wrap: 0 }, { pos: 0, wrap: 1 }]) {
        for (const moved of [0, 1, 2, 4]) {
          for (let off = 0; off < 4; off++) {
            for (const wrap of [0, 1]) {
              if (flags !== 2 && (off > 0 || wrap > 0)) continue; // the offset matters only for DESC
              out.push({ eventIdx, flags, off, wrap, at, moved });
            }
          }
        }
      }
    }
  }
  return out;
}

/** A decision a side made: what it returned, reported, read, stored, and the count it left. */
export interface NotifyRun extends PackedRun<boolean> {
  /** `numAdded` (driver) or `usedSinceSignal` (device) afterwards. */
  readonly left: number;
}

/** Writes a case's structure into the other side's area, unobserved. */
function writeEvent(f: PackedFixture, addr: number, c: NotifyCase): void {
  f.memory.quietly(() => {
    f.memory.writeU16(addr, c.off | (c.wrap << 15));
    f.memory.writeU16(addr + 2, c.flags);
  });
}

/** Runs the driver's kick decision on a case. */
export function runKick(
  c: NotifyCase,
  kick: (ring: PackedDriverRing<number>) => boolean,
): NotifyRun {
  const f = packedFixture({ avail: c.at });
  const ring = eventRing(f.driver, c.eventIdx);
  ring.numAdded = c.moved;
  writeEvent(f, PACKED_DEVICE_EVENT, c);
  const run = runPacked(f, ring, () => kick(ring));
  return { ...run, left: ring.numAdded };
}

/** Runs the device's interrupt decision on a case. */
export function runInterrupt(
  c: NotifyCase,
  interrupt: (ring: PackedDeviceRing) => boolean,
): NotifyRun {
  const f = packedFixture({ used: c.at });
  const ring = eventRing(f.device, c.eventIdx);
  ring.usedSinceSignal = c.moved;
  writeEvent(f, PACKED_DRIVER_EVENT, c);
  const run = runPacked(f, ring, () => interrupt(ring));
  return { ...run, left: ring.usedSinceSignal };
}

/** The same record with `eventIdx` as a case says (the fixture makes it false). */
function eventRing<R extends { eventIdx: boolean }>(ring: R, eventIdx: boolean): R {
  (ring as { eventIdx: boolean }).eventIdx = eventIdx;
  return ring;
}

/** The call a notify case makes. */
export function showNotify(part: string, c: NotifyCase): string {
  const names = ["ENABLE", "DISABLE", "DESC", "0x3"];
  return `${part}(ring) ${c.eventIdx ? "with" : "without"} VIRTIO_F_EVENT_IDX, at ${
    showPosition(c.at)
  } after ${c.moved} slot(s), the other side's structure flags ${
    names[c.flags] ?? `0x${c.flags.toString(16)}`
  }, off ${c.off} wrap ${c.wrap}`;
}

/** What a decision did. */
export function showNotifyRun(o: NotifyRun): string {
  return `${showOutcome(o)}, ${showLogged(o)}, ${o.stores.length} store(s); count left ${o.left}`;
}

/** Turning notifications on: a side's position, its old flags, and whether work waits at it. */
export type EnableCase = [eventIdx: boolean, at: RingPosition, shadow: number, waiting: boolean];

/** Enable cases on both wraps, from every old flags value, with and without work waiting. */
export const ENABLE_CASES: readonly EnableCase[] = [false, true].flatMap((e) =>
  [{ pos: 0, wrap: 1 }, { pos: 3, wrap: 0 }].flatMap((at) =>
    [0, 1, 2].flatMap((shadow) => [false, true].map((w) => [e, at, shadow, w] as EnableCase))
  )
);

/** What turning notifications on did: its stores in order, what it returned, and where it looked. */
export interface EnableRun extends PackedRun<boolean> {
  /** Whether the side read the descriptor at its position after its last store. */
  readonly lookedAfter: boolean;
  /** The side's own structure afterwards: desc word and flags. */
  readonly event: { readonly desc: number; readonly flags: number };
  /** Whether the desc word was stored before the last flags store (true when either is missing). */
  readonly descFirst: boolean;
  /** `eventFlagsShadow` (driver) or `notifications` (device) afterwards. */
  readonly state: number | boolean;
}

function runEnable(
  f: PackedFixture,
  record: { broken: unknown },
  lookAt: number,
  eventAddr: number,
  state: () => number | boolean,
  fn: () => boolean,
): EnableRun {
  let lastStore = -1;
  let lastLook = -1;
  const stopS = f.memory.onStore((a) => (lastStore = a.seq));
  const stopL = f.memory.onLoad((a) => {
    if (a.address === lookAt) lastLook = a.seq;
  });
  try {
    const run = runPacked(f, record, fn);
    const at = `0x${eventAddr.toString(16)}`;
    const flagsAt = `0x${(eventAddr + 2).toString(16)}`;
    const descStore = run.stores.findLastIndex((x) => x.at === at);
    const flagsStore = run.stores.findLastIndex((x) => x.at === flagsAt);
    const event = f.memory.quietly(() => ({
      desc: f.memory.readU16(eventAddr),
      flags: f.memory.readU16(eventAddr + 2),
    }));
    return {
      ...run,
      lookedAfter: lastLook > lastStore,
      event,
      descFirst: descStore < 0 || flagsStore < 0 || descStore < flagsStore,
      state: state(),
    };
  } finally {
    stopS();
    stopL();
  }
}

/** Runs the driver's `enableCallbacksPacked` on a case. */
export function runEnableCallbacks(
  c: EnableCase,
  enable: (ring: PackedDriverRing<number>) => boolean,
): EnableRun {
  const [e, at, shadow, waiting] = c;
  // The other position elsewhere, on the other wrap: a field taken from it shows.
  const f = packedFixture({ used: at, avail: advance(at, 1, 4) });
  f.driver.availWrap ^= 1;
  const ring = eventRing(f.driver, e);
  ring.eventFlagsShadow = shadow;
  f.memory.quietly(() => f.memory.writeU16(PACKED_DRIVER_EVENT + 2, shadow));
  if (waiting) writeList(f, at, [{ mark: "used" }]);
  const flags = PACKED_DESC + at.pos * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS;
  return runEnable(
    f,
    ring,
    flags,
    PACKED_DRIVER_EVENT,
    () => ring.eventFlagsShadow,
    () => enable(ring),
  );
}

/** Runs the device's `enableNotificationsPacked` on a case. */
export function runEnableNotifications(
  c: EnableCase,
  enable: (ring: PackedDeviceRing) => boolean,
): EnableRun {
  const [e, at, shadow, waiting] = c;
  const f = packedFixture({ avail: at, used: advance(at, 3, 4) });
  f.device.usedWrap ^= 1;
  const ring = eventRing(f.device, e);
  ring.notifications = shadow !== 1;
  f.memory.quietly(() => f.memory.writeU16(PACKED_DEVICE_EVENT + 2, shadow));
  if (waiting) writeList(f, at, [{ mark: "avail" }]);
  const flags = PACKED_DESC + at.pos * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS;
  return runEnable(
    f,
    ring,
    flags,
    PACKED_DEVICE_EVENT,
    () => ring.notifications,
    () => enable(ring),
  );
}

/** The call an enable case makes. */
export function showEnable(part: string, [e, at, shadow, waiting]: EnableCase): string {
  return `${part}(ring) ${e ? "with" : "without"} VIRTIO_F_EVENT_IDX, at ${showPosition(at)}, ` +
    `flags ${["ENABLE", "DISABLE", "DESC"][shadow]} before, ${
      waiting ? "a buffer waiting there" : "nothing waiting"
    }`;
}

/** What turning notifications on did. */
export function showEnableRun(o: EnableRun): string {
  return `${showOutcome(o)}; stored ${
    o.stores.map((s) => `${s.at} = ${value(s.value)}`).join(", ") || "nothing"
  }; its structure then desc 0x${o.event.desc.toString(16)}, flags ${o.event.flags}; looked at ` +
    `the slot after its stores: ${o.lookedAfter}`;
}

/** What {@linkcode packedGatedTrips} saw. */
export interface GatedRun {
  /** Buffers completed. */
  readonly completed: number;
  /** Kicks and interrupts sent. */
  readonly kicks: number;
  readonly interrupts: number;
  /** Why the ring went quiet with work left, or `null`. */
  readonly stall: string | null;
  /** Ids reported. */
  readonly ids: readonly string[];
}

/**
 * Round trips against peers that notify only as asked, on a packed ring of
 * 5: the device pops only after a kick (or when turning notifications on
 * says work arrived), the driver reaps only after an interrupt, each deciding
 * from the other's Event Suppression structure alone. A wrong decision or a
 * missed store does not slow the ring, it stops it: the run reports where.
 *
 * @param device Device-side parts.
 * @param driver Driver-side parts.
 * @param options Event idx, the number of buffers, the seed.
 */
export function packedGatedTrips(
  device: Partial<PackedRingDeviceParts>,
  driver: Partial<PackedRingDriverParts>,
  options: { eventIdx: boolean; trips?: number; seed?: number },
): GatedRun {
  const trips = options.trips ?? 300;
  const memory = new GuestMemory(1 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: 5, eventIdx: options.eventIdx, indirect: false };
  const drv = PackedQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("driver"),
    parts: driver,
  });
  const dev = new PackedQueueDevice(
    { ...common, ...drv.addresses, reporter: log.scoped("device") },
    () => {},
    { parts: device },
  );
  let state = (options.seed ?? 7) >>> 0;
  const rand = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const buf = allocator.alloc(64);
  const held: number[] = [];
  let completed = 0, posted = 0, kicks = 0, interrupts = 0;
  let awake = false, interrupted = false;
  dev.enableNotifications();
  drv.enableCallbacks();
  for (let turn = 0; completed < trips && turn < trips * 40; turn++) {
    const batch = Math.min(1 + rand(3), drv.numFree, trips - posted);
    if (batch > 0 && rand(4) > 0) {
      for (let k = 0; k < batch; k++) drv.add([], [{ addr: buf, len: 16 }], posted++);
      if (drv.kickPrepare()) {
        kicks++;
        awake = true;
      }
    }
    if (awake) {
      dev.disableNotifications();
      for (let c = dev.pop(); c !== null; c = dev.pop()) held.push(c.head);
      if (!dev.enableNotifications()) awake = false;
    }
    if (held.length > 0 && rand(3) > 0) {
      for (let give = 1 + rand(held.length); give > 0; give--) {
        dev.push(held.splice(rand(held.length), 1)[0], 16);
      }
      if (dev.needsInterrupt()) {
        interrupts++;
        interrupted = true;
      }
    }
    if (interrupted) {
      interrupted = false;
      drv.drainUsed(() => void completed++);
    }
    if (drv.broken || dev.broken) break;
    const quiet = !awake && !interrupted && held.length === 0 &&
      (drv.numFree === 0 || posted === trips);
    if (quiet && completed < trips) {
      const waiting = dev.hasAvailable()
        ? "buffers made available and no kick for them"
        : "used buffers and no interrupt for them";
      return {
        completed,
        kicks,
        interrupts,
        stall: `after ${completed} of ${trips} buffers the ring went quiet: ${waiting}`,
        ids: log.entries.map((v) => v.id),
      };
    }
  }
  return { completed, kicks, interrupts, stall: null, ids: log.entries.map((v) => v.id) };
}
