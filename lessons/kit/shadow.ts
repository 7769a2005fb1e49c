/**
 * The driver's record of a ring as a grader sees it: a `SplitDriverRing` in
 * any state a case needs, the free list and the chains it records walked
 * with bounds (a corrupt `next` array can loop), the first invariant that
 * does not hold, in a sentence a learner can act on, and random runs of adds
 * and frees that check it after every step. Graders of the parts that keep
 * the record (placing and freeing chains, reaping used entries, indirect
 * tables) check it however the learner's code and the reference's are
 * mixed.
 *
 * The invariants are those `virtqueue/driver/ring.ts` states for the record:
 * every descriptor is on the free list or in exactly one chain the driver
 * posted; a chain is `count[head]` descriptors from its head along `next`;
 * `state[h]` is `HEAD_FREE`, and `tokens[h]` is `undefined`, exactly for
 * descriptors that head no posted chain; `numFree` and `inFlight` count them.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import fc from "fast-check";
import { ConformanceLog } from "../../conformance/log.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../virtqueue/constants.ts";
import {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} from "../../virtqueue/layout.ts";
import { addChain, addIndirectChain } from "../../virtqueue/driver/add.ts";
import { detachChain } from "../../virtqueue/driver/detach.ts";
import { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
import {
  createSplitDriverRing,
  HEAD_FREE,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../virtqueue/driver/ring.ts";
import { type BufferSegment, VirtqueueFullError } from "../../virtqueue/types.ts";
import { descriptor, memoryAccess, outcome as showOutcome, ringPlace, value } from "./format.ts";
import { readBudget } from "./budget.ts";
import { RING_RAM_BASE } from "./ring.ts";
import { attempt, type Outcome, thrown } from "./rules.ts";
import { SnoopingMemory } from "./snoop.ts";

/** A chain the driver posted, as the grader remembers it (not as the record says). */
export interface RecordedChain<T = unknown> {
  /** Its head. */
  readonly head: number;
  /** The token it was added with. */
  readonly token: T;
  /** Its device-readable buffers. */
  readonly readable: readonly BufferSegment[];
  /** Its device-writable buffers. */
  readonly writable: readonly BufferSegment[];
  /** The address of its indirect table, if it was placed in one (it then takes one descriptor). */
  readonly table?: number;
}

/** What {@linkcode driverRingStage} builds a ring from; everything is optional. */
export interface DriverRingStage {
  /** Queue Size (default 8). */
  readonly size?: number;
  /** Chains of that many 16-byte readable buffers, placed first by the reference `addChain`. */
  readonly busy?: readonly number[];
  /** Which of the `busy` chains the reference then frees again (this shuffles the free list). */
  readonly freed?: readonly number[];
  /** Which of the `busy` chains goes into an indirect table (`VIRTIO_F_INDIRECT_DESC` is on). */
  readonly indirectAt?: number;
  /** RAM size in bytes (default 64 KiB). */
  readonly ram?: number;
  /** Where RAM starts (default {@linkcode RING_RAM_BASE}; 2^32 puts it above 4 GiB). */
  readonly base?: number;
}

/** A driver ring in the state a case asked for: see {@linkcode driverRingStage}. */
export interface StagedDriverRing {
  /** Its memory (the descriptor table's free entries hold 0xa5 bytes: stale, visible). */
  readonly memory: SnoopingMemory;
  /** The allocator the areas and buffers come from. */
  readonly allocator: GuestAllocator;
  /** The record. */
  readonly ring: SplitDriverRing<string>;
  /** The chains posted and not freed, by head (tokens `"busy 0"`, `"busy 1"`...). */
  readonly posted: Map<number, RecordedChain<string>>;
  /** The heads of the `busy` chains, in order (freed ones included). */
  readonly heads: readonly number[];
  /**
   * A fresh buffer of `len` bytes from the allocator.
   *
   * @param len Its length (0 gives a buffer of length 0 at a real address).
   */
  buffer(len: number): BufferSegment;
}

/**
 * A driver ring (`createSplitDriverRing`) in its own memory, brought to a
 * state with the reference parts: `busy` chains placed, `freed` ones taken
 * back. Nothing of the building is observed (the memory's counters start at
 * 0), and the free descriptors are filled with 0xa5 bytes, so that a store
 * into one shows.
 *
 * @param s The state.
 * @returns The ring, its memory and allocator, and what is posted.
 * @throws {RangeError} If the state does not fit its RAM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { driverRingStage, shadowProblem } from "./shadow.ts";
 *
 * const s = driverRingStage({ size: 8, busy: [2, 3, 1], freed: [0] });
 * assert.equal(s.ring.numFree, 4);
 * assert.equal(shadowProblem(s.ring, s.posted), null);
 * ```
 */
export function driverRingStage(s: DriverRingStage = {}): StagedDriverRing {
  const memory = new SnoopingMemory(s.ram ?? 0x10000, { base: s.base ?? RING_RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const size = s.size ?? 8;
  const ring = createSplitDriverRing<string>({
    memory,
    index: 0,
    size,
    eventIdx: false,
    indirect: s.indirectAt !== undefined,
    ...allocateQueueAreas(allocator, size),
    reporter: new ConformanceLog().scoped("driver"),
  });
  const buffer = (len: number) => ({ addr: allocator.alloc(Math.max(len, 1), 8), len });
  const posted = new Map<number, RecordedChain<string>>();
  const heads = (s.busy ?? []).map((n, i) => {
    const token = `busy ${i}`;
    const readable = Array.from({ length: n }, () => buffer(16));
    const table = (bytes: number) => allocator.alloc(bytes, 16);
    const head = i === s.indirectAt
      ? addIndirectChain(ring, readable, [], token, table)
      : addChain(ring, readable, [], token);
    const t = i === s.indirectAt ? ring.tables[head] : undefined;
    posted.set(head, { head, token, readable, writable: [], table: t });
    return head;
  });
  for (const i of s.freed ?? []) {
    detachChain(ring, heads[i], () => {});
    posted.delete(heads[i]);
  }
  for (const d of freeListOf(ring) as number[]) {
    memory.fill(ring.descAddr + descOffset(d), 16, 0xa5);
  }
  memory.resetCounts();
  return { memory, allocator, ring, posted, heads, buffer };
}

/**
 * A ring state in words: `a fresh ring of 8`, `a ring of 4 holding chains
 * of 2, 2`, `a ring of 2048 in 8 MiB of RAM`.
 *
 * @param s The state.
 */
export function describeStage(s: DriverRingStage): string {
  const busy = s.busy?.length ? ` holding chains of ${s.busy.join(", ")}` : "";
  const ram = s.ram ? ` in ${s.ram / 2 ** 20} MiB of RAM` : "";
  return `a ${busy ? "" : "fresh "}ring of ${s.size ?? 8}${busy}${ram}`;
}

/** A descriptor as read from a table. */
export interface TableDescriptor {
  /** Its index in the table. */
  readonly index: number;
  /** `addr`. */
  readonly addr: number;
  /** `len`. */
  readonly len: number;
  /** `flags`. */
  readonly flags: number;
  /** `next`, or 0 when `flags` lack `VIRTQ_DESC_F_NEXT` (the field then means nothing). */
  readonly next: number;
}

/**
 * A chain as a device finds it in the descriptor table: from `head`, along
 * `VIRTQ_DESC_F_NEXT` and `next`, at most Queue Size descriptors, read
 * unobserved.
 *
 * @param ring The driver record (for the table's address and size).
 * @param head Where to start.
 */
export function chainInTable(ring: SplitDriverRing<unknown>, head: number): TableDescriptor[] {
  const m = ring.memory;
  const quiet = <R>(fn: () => R) => (m instanceof SnoopingMemory ? m.quietly(fn) : fn());
  const out: TableDescriptor[] = [];
  for (let i = head; out.length < ring.size && Number.isInteger(i) && i >= 0 && i < ring.size;) {
    const at = ring.descAddr + descOffset(i);
    const d = quiet(() => ({
      index: i,
      addr: m.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET),
      len: m.readU32(at + VIRTQ_DESC_LEN_OFFSET),
      flags: m.readU16(at + VIRTQ_DESC_FLAGS_OFFSET),
      next: m.readU16(at + VIRTQ_DESC_NEXT_OFFSET),
    }));
    const more = (d.flags & VIRTQ_DESC_F_NEXT) !== 0;
    out.push(more ? d : { ...d, next: 0 });
    if (!more) break;
    i = d.next;
  }
  return out;
}

/**
 * The fields of the record a driver part may change, as plain data (for a
 * verdict, or to tell whether a refusal changed anything).
 *
 * @param ring The driver record.
 */
export function driverRecord(ring: SplitDriverRing<unknown>) {
  return {
    numFree: ring.numFree,
    freeHead: ring.numFree > 0 ? ring.freeHead : null,
    inFlight: ring.inFlight,
    added: ring.added,
    availIdx: ring.availIdx,
    published: ring.published,
    state: [...ring.state],
    tokens: [...ring.tokens],
    count: [...ring.count],
    writable: [...ring.writable],
    tables: [...ring.tables],
  };
}

/**
 * The free list, walked from `freeHead` for `numFree` descriptors, or what
 * is wrong with it (a link out of the table, a descriptor met twice).
 *
 * @param ring The driver record.
 * @returns The descriptors in free-list order, or a sentence.
 */
export function freeListOf(ring: SplitDriverRing<unknown>): number[] | string {
  const { size, numFree } = ring;
  if (!Number.isInteger(numFree) || numFree < 0 || numFree > size) {
    return `numFree is ${numFree}, not a count from 0 to ${size}`;
  }
  const out: number[] = [];
  const seen = new Uint8Array(size);
  for (let d = ring.freeHead, k = 0; k < numFree; k++, d = ring.next[d]) {
    if (!Number.isInteger(d) || d < 0 || d >= size) {
      return `the free list leads to ${d} after ${k} descriptor(s), outside the table of ${size}`;
    }
    if (seen[d]) return `the free list meets descriptor ${d} twice: its next links loop`;
    seen[d] = 1;
    out.push(d);
  }
  return out;
}

/**
 * The descriptors of the chain at `head` by the record: `count[head]` of
 * them from `head` along `next`, bounded by the table.
 *
 * @param ring The driver record.
 * @param head A head.
 */
export function shadowChainOf(ring: SplitDriverRing<unknown>, head: number): number[] {
  const out: number[] = [];
  for (let d = head, k = 0; k < ring.count[head] && k < ring.size; k++, d = ring.next[d]) {
    out.push(d);
  }
  return out;
}

/**
 * The first invariant of the record that does not hold, given the chains
 * the grader knows are posted, or `null` when the record is sound. With
 * `memory: true`, each posted direct chain's descriptors in guest memory must
 * also still describe its buffers (another chain placed over them shows there).
 *
 * @param ring The driver record.
 * @param posted The chains posted and not taken back, by head.
 * @param options Whether to compare the descriptor table too.
 * @returns A sentence, or `null`.
 */
export function shadowProblem<T>(
  ring: SplitDriverRing<T>,
  posted: ReadonlyMap<number, RecordedChain<T>>,
  options: { readonly memory?: boolean } = {},
): string | null {
  const size = ring.size;
  const owner = new Int32Array(size).fill(-2); // -2 nobody, -1 the free list, else a head
  const free = freeListOf(ring);
  if (typeof free === "string") return free;
  for (const d of free) owner[d] = -1;
  const name = (o: number) => (o === -1 ? "on the free list" : `in the chain at head ${o}`);
  for (const [head, c] of posted) {
    const n = c.table === undefined ? c.readable.length + c.writable.length : 1;
    if (ring.state[head] === HEAD_FREE) {
      return `head ${head} heads a chain the driver still holds, but state[${head}] is HEAD_FREE`;
    }
    if (ring.tokens[head] !== c.token) {
      return `tokens[${head}] is ${String(ring.tokens[head])}, not the token ${String(c.token)}`;
    }
    if (ring.count[head] !== n) return `count[${head}] is ${ring.count[head]}, not ${n}`;
    const table = c.table ?? NO_INDIRECT_TABLE;
    if (ring.tables[head] !== table) {
      return `tables[${head}] is ${ring.tables[head]}, not ${
        table === NO_INDIRECT_TABLE ? "NO_INDIRECT_TABLE (a direct chain)" : `its table ${table}`
      }`;
    }
    const writable = c.writable.reduce((s, b) => s + b.len, 0);
    if (ring.writable[head] !== writable) {
      return `writable[${head}] is ${ring.writable[head]}, not the chain's ${writable} bytes`;
    }
    const descs = shadowChainOf(ring, head);
    for (const d of descs) {
      if (!Number.isInteger(d) || d < 0 || d >= size) {
        return `the chain at head ${head} leads to ${d}, outside the table`;
      }
      if (owner[d] !== -2) {
        return `descriptor ${d} is in the chain at head ${head} and also ${name(owner[d])}`;
      }
      owner[d] = head;
    }
    if (options.memory && c.table === undefined) {
      const wrong = tableProblem(ring, descs, c);
      if (wrong) return wrong;
    }
  }
  const lost = owner.indexOf(-2);
  if (lost >= 0) return `descriptor ${lost} is neither on the free list nor in a posted chain`;
  for (let d = 0; d < size; d++) {
    if (posted.has(d)) continue;
    if (ring.state[d] !== HEAD_FREE) {
      return `state[${d}] is ${ring.state[d]}, but no chain the driver holds starts at ${d}`;
    }
    if (ring.tokens[d] !== undefined) {
      return `tokens[${d}] still holds ${String(ring.tokens[d])}, but no chain starts at ${d}`;
    }
  }
  if (ring.inFlight !== posted.size) {
    return `inFlight is ${ring.inFlight}, but ${posted.size} chain(s) are posted`;
  }
  return null;
}

function tableProblem<T>(
  ring: SplitDriverRing<T>,
  descs: readonly number[],
  c: RecordedChain<T>,
): string | null {
  const found = chainInTable(ring, c.head);
  const buffers = [...c.readable, ...c.writable];
  for (let k = 0; k < descs.length; k++) {
    const d = found[k];
    const last = k === descs.length - 1;
    const flags = (k >= c.readable.length ? VIRTQ_DESC_F_WRITE : 0) |
      (last ? 0 : VIRTQ_DESC_F_NEXT);
    if (
      d === undefined || d.index !== descs[k] || d.addr !== buffers[k].addr ||
      d.len !== buffers[k].len || (d.flags & ~VIRTQ_DESC_F_INDIRECT) !== flags
    ) {
      return `descriptor ${descs[k]} of the chain at head ${c.head} no longer describes its ` +
        `buffer ${k}: something was placed over it`;
    }
  }
  return null;
}

/** One step of a random run: add a chain of (readable, writable, bytes each), or free one. */
export type AddFreeOp =
  | { readonly add: readonly [readable: number, writable: number, len: number] }
  | { readonly free: number };

/**
 * Random runs of 1 to 250 steps for {@linkcode addFreeRun}, as a fast-check
 * case (about as many adds as frees). A function: `fc.array` keeps state
 * while it generates long lists, so each run builds its own (see `sample`).
 */
export function addFreeOps(): fc.Arbitrary<[AddFreeOp[]]> {
  const op = fc.tuple(
    fc.boolean(),
    fc.nat(3),
    fc.nat(3),
    fc.integer({ min: 1, max: 64 }),
    fc.nat(15),
  )
    .map(([add, r, w, len, pick]): AddFreeOp => (add ? { add: [r, w, len] } : { free: pick }));
  return fc.tuple(fc.array(op, { minLength: 1, maxLength: 250 }));
}

/**
 * A step of a random run, in words: `add 2+1` (readable + writable), `free #3`.
 *
 * @param op The step.
 */
export function showAddFreeOp(op: AddFreeOp): string {
  return "add" in op
    ? `add ${Math.max(op.add[0], op.add[1] ? 0 : 1)}+${op.add[1]}`
    : `free #${op.free}`;
}

/**
 * Runs random adds and frees ({@linkcode addFreeOps}) on a fresh ring of 8 with the given parts and
 * checks the record after every step ({@linkcode shadowProblem}; the
 * descriptor table too after the last one): an add must place what fits (a chain of n buffers, at least one
 * readable when it has no writable one) and throw `VirtqueueFullError` for
 * what does not; a free takes back the posted chain the step picks (its
 * number modulo the chains posted) and must return its token.
 *
 * @param add The `addChain` to use.
 * @param free The `detachChain` to use.
 * @param ops The steps.
 * @returns The first problem, with the step that caused it, or `null`.
 */
export function addFreeRun(
  add: typeof addChain,
  free: typeof detachChain,
  ops: readonly AddFreeOp[],
): string | null {
  const { ring, buffer, posted } = driverRingStage({ size: 8 });
  let used = 0;
  for (const [i, op] of ops.entries()) {
    const step = `at step ${i + 1} (${showAddFreeOp(op)})`;
    if ("add" in op) {
      const [nr, nw, len] = op.add;
      const r = Array.from({ length: Math.max(nr, nw ? 0 : 1) }, () => buffer(len));
      const w = Array.from({ length: nw }, () => buffer(len));
      const token = `chain ${i}`;
      const o = attempt(() => add(ring, r, w, token));
      const left = `with ${ring.size - used} free, addChain ${showOutcome(o)}`;
      if (used + r.length + w.length > ring.size) {
        if ("threw" in o && o.threw instanceof VirtqueueFullError) continue;
        return `${step}, ${left}, not VirtqueueFullError`;
      }
      if ("threw" in o) return `${step}, ${left}`;
      if (posted.has(o.returned)) return `${step}, ${left}: a head already in use`;
      posted.set(o.returned, { head: o.returned, token, readable: r, writable: w });
      used += r.length + w.length;
    } else if (posted.size > 0) {
      const c = [...posted.values()][op.free % posted.size];
      posted.delete(c.head);
      used -= c.readable.length + c.writable.length;
      const o = attempt(() => free(ring, c.head, () => {}));
      if (!("returned" in o) || o.returned !== c.token) {
        return `${step}, detachChain of head ${c.head} ${showOutcome(o)}, not ${c.token}`;
      }
    }
    const problem = shadowProblem(ring, posted, { memory: i === ops.length - 1 });
    if (problem) return `${step}, ${problem}`;
  }
  return null;
}

/**
 * A buffer of a placement case: a length (a fresh buffer from the
 * allocator), or a length at an edge of RAM: ending on its last byte
 * (`"end"`), one byte past it (`"past"`), starting one byte below it
 * (`"below"`), far above it (`"far"`, 2^50), or at its first byte (`"base"`).
 */
export type CaseBuffer = number | {
  readonly len: number;
  readonly at: "end" | "past" | "below" | "far" | "base";
};

/** A placement case: a ring state and the chain to place on it. */
export interface PlacementCase extends DriverRingStage {
  /** The ring, in words (default: {@linkcode describeStage} says it). */
  readonly on?: string;
  /** The device-readable buffers. */
  readonly r: readonly CaseBuffer[];
  /** The device-writable buffers. */
  readonly w: readonly CaseBuffer[];
}

/** What a part that places a chain did on one case: see {@linkcode placeChain}. */
export interface ChainPlacement {
  /** What it returned (the head) or threw. */
  readonly outcome: Outcome<number>;
  /** The chain in the table from the returned head, as a device would walk it. */
  readonly chain: readonly TableDescriptor[];
  /** Places it stored into outside that chain's descriptors, in words, each once. */
  readonly elsewhere: readonly string[];
  /** Whether it stored anything at all or changed the record (a refusal must not). */
  readonly stored: boolean;
  /** The record afterwards. */
  readonly record: ReturnType<typeof driverRecord>;
  /** The free list afterwards, or what is wrong with it. */
  readonly free: number[] | string;
}

/**
 * Runs a part that places a chain (`addChain`, or `addIndirectChain` bound
 * to an allocator) on a freshly staged ring and records what it did: its
 * outcome, the chain a device would find from the head it returned, every
 * store outside that chain's descriptors, and the record after.
 *
 * @param place The part, called as `place(ring, readable, writable, "new chain")`.
 * @param c The ring state and the chain.
 */
export function placeChain(
  place: (
    ring: SplitDriverRing<string>,
    readable: readonly BufferSegment[],
    writable: readonly BufferSegment[],
    token: string,
  ) => number,
  c: PlacementCase,
): ChainPlacement {
  const { memory, ring, buffer } = driverRingStage(c);
  const buf = (b: CaseBuffer): BufferSegment => {
    if (typeof b === "number") return buffer(b);
    const { end, base } = memory;
    const at = { end: end - b.len, past: end - b.len + 1, below: base - 1, far: 2 ** 50, base };
    return { addr: at[b.at], len: b.len };
  };
  const [r, w] = [c.r.map(buf), c.w.map(buf)];
  const was = JSON.stringify(driverRecord(ring));
  const log = memory.record();
  const outcome = attempt(() => place(ring, r, w, "new chain"));
  memory.record(false);
  const chain = chainInTable(ring, "returned" in outcome ? outcome.returned : -1);
  const ours = (a: number) => chain.some((d) => (a - ring.descAddr) >> 4 === d.index);
  const places = log.filter((a) => a.kind !== "load" && !ours(a.address))
    .map((a) => ringPlace({ ...ring, tables: [] }, a.address) ?? memoryAccess(a));
  return {
    outcome,
    chain,
    elsewhere: [...new Set(places)],
    stored: log.some((a) => a.kind !== "load") || JSON.stringify(driverRecord(ring)) !== was,
    record: driverRecord(ring),
    free: freeListOf(ring),
  };
}

/**
 * A placement, for a failure message: the error (with its rule), or the head
 * and the first descriptors of the chain, and any store outside it.
 *
 * @param o The placement.
 */
export function showPlacement(o: ChainPlacement): string {
  if ("threw" in o.outcome) {
    const e = (o.outcome.threw ?? {}) as { rule?: string | null; segment?: number };
    const rule = "rule" in e ? ` [rule ${e.rule}, segment ${e.segment}]` : "";
    const stored = o.stored ? ", after storing into guest memory or changing the record" : "";
    return `threw ${thrown(o.outcome.threw)}${rule}${stored}`;
  }
  const shown = o.chain.slice(0, 4).map((d) => descriptor(d)).join(" -> ");
  const more = o.chain.length > 4 ? ` -> ... (${o.chain.length} descriptors)` : "";
  const also = o.elsewhere.length ? `; it also stored into ${o.elsewhere.slice(0, 3)}` : "";
  return `returned ${value(o.outcome.returned)}; in memory ${shown || "no chain"}${more}${also}`;
}

/**
 * A placement case's buffers, for the call a failure shows:
 * `16, 512, 64 at RAM end`.
 *
 * @param list The buffers.
 */
export function showCaseBuffers(list: readonly CaseBuffer[]): string {
  if (list.length > 5) {
    const first = list[0];
    return `${list.length} buffers of ${typeof first === "number" ? first : first.len} bytes`;
  }
  return list.map((b) => (typeof b === "number" ? b : `${b.len} at RAM ${b.at}`)).join(", ");
}

/** A freeing case: a ring state, which chain comes back, and what the device did to the table. */
export interface FreeingCase extends DriverRingStage {
  /** The ring, in words. */
  readonly on: string;
  /** Which `busy` chain the device returns. */
  readonly take: number;
  /** Overwrites the table (unobserved) before the chain is freed, as a hostile device would. */
  readonly scribble?: (ring: SplitDriverRing<string>, heads: readonly number[]) => void;
}

/** What a part that frees a chain did: see {@linkcode freeChain}. */
export interface ChainFreeing {
  /** What it did, in words: `returned "busy 0"`, `threw TypeError: ...`. */
  readonly outcome: string;
  /** The first problem of the record afterwards ({@linkcode shadowProblem}), what it threw, or `null`. */
  readonly problem: string | null;
  /** The tables `freeTable` was called with, in order. */
  readonly freeTable: readonly number[];
}

/**
 * Runs a part that frees a chain (`detachChain`) on a staged ring, under a
 * read budget (a walk of a scribbled table can loop), and checks the record
 * afterwards: the table too, unless the case scribbled over it.
 *
 * @param free The part.
 * @param c The ring state and the chain.
 */
export function freeChain(free: typeof detachChain, c: FreeingCase): ChainFreeing {
  const { ring, memory, posted, heads } = driverRingStage(c);
  if (c.scribble) memory.quietly(() => c.scribble!(ring, heads));
  const head = heads[c.take];
  const token = posted.get(head)!.token;
  posted.delete(head);
  const calls: number[] = [];
  const budget = readBudget(memory, 32 * ring.size, { doing: `freeing the chain at ${head}` });
  const o = attempt(() => free(ring, head, (t) => void calls.push(t)));
  budget.stop();
  if ("threw" in o) return { outcome: showOutcome(o), problem: null, freeTable: calls };
  const back = `returned ${value(o.returned)}${o.returned === token ? "" : `, not "${token}"`}`;
  const problem = shadowProblem(ring, posted, { memory: !c.scribble });
  return { outcome: back, problem, freeTable: calls };
}

/**
 * A freeing, for a failure message.
 *
 * @param o The freeing.
 */
export function showFreeing(o: ChainFreeing): string {
  const record = o.outcome.startsWith("threw") ? "" : `; ${o.problem ?? "the record is sound"}`;
  return `${o.outcome}${record}; freeTable called with [${o.freeTable.map(value).join(", ")}]`;
}
