/**
 * Seeded random hostile peers, many thousands of runs in a fraction of a
 * second: descriptor tables and available rings a hostile driver writes at
 * random, against a device half; used rings a hostile device writes at
 * random, against a driver half. Where `hostile_driver.ts` and
 * `hostile_device.ts` hold one case per rule and compare each against the
 * reference, these check only what must hold for *every* input, whatever
 * the rules say about it, so they need no reference and no expected id:
 *
 * - a device half never throws, never loops (a read budget per pop), never
 *   stores into the descriptor table or the available ring (2.7.5.1/2), and
 *   every chain it hands out has at most Queue Size descriptors
 *   (2.7.5.3.1/3) and lies inside guest RAM (2.7.5/D2);
 * - a driver half never throws, never loops, hands back only tokens it
 *   posted and each of them once (2.7.8/D1), never a length beyond what the
 *   chain's device-writable buffers hold (2.7.8.2/1's `len`, checked as
 *   2.7.8/D2's companion: the driver may clamp or refuse), and never frees more
 *   descriptors than the queue has.
 *
 * Every run starts from a fresh queue on the same memory (cleared first), so
 * a run that breaks a queue does not decide the next one; a failure names
 * the run, the seed and what the hostile side wrote, so it can be replayed
 * with `{ seed, runs: run + 1 }`.
 *
 * This file is course code shared by the graders and `lab fuzz`, not a
 * lesson. (The project's fuzz engine under `fuzz/` is the place for
 * coverage-guided and million-operation runs; these two loops are the fixed,
 * seeded workload a grader can afford.)
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import type { SplitRingDeviceParts, SplitRingDriverParts } from "../../virtqueue/parts.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../virtqueue/constants.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { isNotWrittenYet } from "../../course/grader.ts";
import { readBudget, RunawayReadsError } from "./budget.ts";
import { RING_RAM_BASE, RING_RAM_SIZE, type RingFixture, ringFixture } from "./ring.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { thrown } from "./rules.ts";

/** How a fuzz run is set up. */
export interface FuzzOptions {
  /** How many hostile tables (or used rings) to write (default 10,000). */
  readonly runs?: number;
  /** The pseudo-random seed (default 1): the same seed writes the same tables. */
  readonly seed?: number;
  /** Whether the queue negotiated VIRTIO_F_INDIRECT_DESC (default false: no indirect flags). */
  readonly indirect?: boolean;
}

/** What a fuzz loop found. */
export interface FuzzReport {
  /** Runs made. */
  readonly runs: number;
  /** Chains the half under test took (device) or reaped (driver). */
  readonly taken: number;
  /** How many times each requirement id was reported against the hostile side. */
  readonly reported: Readonly<Record<string, number>>;
  /** The first run that crashed the half under test, or `null`. */
  readonly crash: FuzzCrash | null;
}

/** One run that broke the half under test. */
export interface FuzzCrash {
  /** The run's number (0-based): `{ seed, runs: run + 1 }` replays it. */
  readonly run: number;
  /** The seed of the loop. */
  readonly seed: number;
  /** The rule the half under test broke. */
  readonly requirement: RequirementId;
  /** What it did, in words. */
  readonly what: string;
  /** What the hostile side wrote, in words. */
  readonly input: string;
  /** What it threw, if it threw (a stub's `todo()` is passed through instead). */
  readonly error?: unknown;
}

/** xorshift32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let x = (seed >>> 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

type Random = () => number;
const pick = <T>(r: Random, values: readonly T[]): T => values[Math.floor(r() * values.length)];
const below = (r: Random, n: number): number => Math.floor(r() * n);

/** Queue sizes the loops cycle through: the smallest, a typical one, and a larger one. */
const SIZES = [2, 8, 16] as const;
const RAM_END = RING_RAM_BASE + RING_RAM_SIZE;
/** Buffers each queue layout keeps for the chains a run posts, of 64 bytes each. */
const POOL = 16;

/**
 * One queue's areas on its own memory, laid out once per loop: each run
 * clears them and puts fresh ring state records (new queue objects, cheap)
 * on them, so a run costs its table and its pops, not a whole fixture.
 */
interface Layout {
  readonly f: RingFixture;
  readonly pool: readonly BufferSegment[];
}

function layouts(indirect: boolean): Map<number, Layout> {
  return new Map(SIZES.map((size) => {
    const f = ringFixture({ size, indirect });
    return [size, { f, pool: Array.from({ length: POOL }, () => f.buffer(64)) }];
  }));
}

/** Clears a layout's three areas and sets both indices to `startIdx`; returns a fresh log. */
function startRun(l: Layout, startIdx: number): ConformanceLog {
  const { f } = l;
  f.memory.quietly(() => {
    for (const range of [f.ranges.descTable, f.ranges.availRing, f.ranges.usedRing]) {
      f.memory.fill(range.start, range.bytes, 0);
    }
  });
  f.setAvailIdx(startIdx);
  f.setUsedIdx(startIdx);
  return new ConformanceLog({ strict: false });
}

function queueConfig(l: Layout, log: ConformanceLog, role: "device" | "driver") {
  const { f } = l;
  return {
    memory: f.memory,
    index: 0,
    size: f.size,
    eventIdx: false,
    indirect: f.indirect,
    ...f.addresses,
    reporter: log.scoped(role),
  };
}

/** A descriptor address a hostile driver might write. */
function hostileAddr(r: Random, f: RingFixture, valid: number, len: number): number | bigint {
  return pick<() => number | bigint>(r, [
    () => valid,
    () => valid,
    () => 0,
    () => RAM_END - Math.min(len, RING_RAM_SIZE), // ends on RAM's last byte: valid
    () => RAM_END - Math.min(len, RING_RAM_SIZE) + 1, // one byte past
    () => RAM_END,
    () => RING_RAM_BASE - 1,
    () => f.addresses.descAddr, // the descriptor table itself
    () => 0xffff_ffff_ffff_fff0n, // wraps 2^64
    () => 0x1_0000_0000 + valid,
  ])();
}

/** A descriptor length a hostile driver might write. */
function hostileLen(r: Random): number {
  return pick(r, [16, 16, 64, 512, 0, 1, 0xffff_ffff, 0x8000_0000, RING_RAM_SIZE, 4096]);
}

/** One hostile table: every descriptor, the available ring's entries and idx. */
function writeHostileTable(
  r: Random,
  f: RingFixture,
  buffer: number,
  startIdx: number,
  indirect: boolean,
): string {
  const size = f.size;
  const flagBits = [
    0,
    VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
    VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
  ];
  // How hostile this driver is: each field is a hostile pick with this probability, else
  // what a well-behaved driver writes (a chain of 64-byte buffers, readable ones first).
  const hostility = pick(r, [0, 0.03, 0.1, 0.3, 1]);
  const chainLength = 1 + below(r, size);
  const firstWritable = below(r, chainLength + 1);
  const described: string[] = [];
  for (let i = 0; i < size; i++) {
    const last = i % chainLength === chainLength - 1 || i === size - 1;
    const hostile = () => r() < hostility;
    const len = hostile() ? hostileLen(r) : 64;
    let flags = hostile() ? pick(r, flagBits) : (last ? 0 : VIRTQ_DESC_F_NEXT) |
      (i % chainLength >= firstWritable ? VIRTQ_DESC_F_WRITE : 0);
    if (indirect && hostile() && r() < 0.3) flags |= VIRTQ_DESC_F_INDIRECT;
    if (hostile() && r() < 0.1) flags |= 1 << (3 + below(r, 13)); // a bit the spec does not define
    const next = (hostile() ? pick(r, [i, 0, size, 0xffff, below(r, size)]) : i + 1) & 0xffff;
    const addr = hostile() ? hostileAddr(r, f, buffer, len) : buffer;
    f.writeDescriptor(i, { addr, len, flags, next });
    if (i < 3) {
      described.push(`[${i}] addr ${addr.toString(16)} len ${len} flags ${flags} next ${next}`);
    }
  }
  const ahead = pick(r, [1, 1, 2, 3, size, size + 1, 0x8000, 0xffff]);
  const heads = Array.from(
    { length: Math.min(ahead, size) },
    () => pick(r, [0, 0, below(r, size), size, 0xffff]),
  );
  f.makeAvailable(...heads);
  if (ahead > heads.length) f.setAvailIdx(startIdx + ahead);
  return `queue size ${size}, avail idx ${startIdx} -> ${(startIdx + ahead) & 0xffff}, ` +
    `heads [${heads.slice(0, 4).join(", ")}${heads.length > 4 ? ", ..." : ""}]; ` +
    described.join(", ");
}

function inRam(s: BufferSegment): boolean {
  return s.len > 0 && s.addr >= RING_RAM_BASE && s.addr + s.len <= RAM_END;
}

/**
 * Throws `runs` random hostile tables at a device half (the reference
 * parts with `parts` merged in): each run a fresh queue of 2, 8 or 16
 * entries near a random 16-bit index, a table of random descriptors
 * (addresses outside RAM or wrapping, lengths 0 or near 2^32, loops, next
 * beyond the table, undefined flags, indirect flags when negotiated) and an
 * available ring running up to 0xffff entries ahead; then up to three pops,
 * each under a read budget, with stores into the descriptor table and the
 * available ring watched. Stops at the first crash.
 *
 * @param parts Device-side parts to use instead of the reference ones.
 * @param options Runs, seed, indirect.
 * @returns What happened; a stub's `todo()` is thrown instead.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuzzHostileChains } from "./hostile_fuzz.ts";
 * const report = fuzzHostileChains({}, { runs: 200, seed: 7 });
 * assert.equal(report.crash, null);
 * assert.ok(report.reported["2.7.5/D1"] > 0, "the reference names what the driver broke");
 * ```
 */
export function fuzzHostileChains(
  parts: Partial<SplitRingDeviceParts> = {},
  options: FuzzOptions = {},
): FuzzReport {
  const runs = options.runs ?? 10_000;
  const seed = options.seed ?? 1;
  const indirect = options.indirect ?? false;
  const r = prng(seed);
  const all = layouts(indirect);
  const reported: Record<string, number> = {};
  let taken = 0;
  for (let run = 0; run < runs; run++) {
    const size = SIZES[run % SIZES.length];
    const layout = all.get(size)!;
    const { f } = layout;
    const startIdx = below(r, 0x1_0000);
    const log = startRun(layout, startIdx);
    const queue = new SplitQueueDevice(queueConfig(layout, log, "device"), undefined, {
      parts,
      startIdx,
    });
    const input = writeHostileTable(r, f, layout.pool[0].addr, startIdx, indirect);
    const watches = [
      f.memory.watchStores(f.ranges.descTable),
      f.memory.watchStores(f.ranges.availRing),
    ];
    const crash = (requirement: RequirementId, what: string, error?: unknown): FuzzReport => {
      for (const w of watches) w.stop();
      return {
        runs: run + 1,
        taken,
        reported,
        crash: { run, seed, requirement, what, input, ...(error === undefined ? {} : { error }) },
      };
    };
    for (let k = 0; k < 3; k++) {
      const budget = readBudget(f.memory, 16 * size + 64, { doing: "popping a hostile chain" });
      let chain;
      try {
        chain = queue.pop();
      } catch (error) {
        if (isNotWrittenYet(error)) throw error;
        if (error instanceof RunawayReadsError) {
          return crash("2.7.5.3.1/3", `the pop did not end: ${error.message}`);
        }
        return crash("2.7.5/D1", `the device half threw ${thrown(error)}`, error);
      } finally {
        budget.stop();
      }
      if (chain === null) break;
      taken++;
      if (chain.descriptorCount > size) {
        return crash(
          "2.7.5.3.1/3",
          `the device half took a chain of ${chain.descriptorCount} descriptors from a queue of ${size}`,
        );
      }
      const outside = [...chain.readable, ...chain.writable].find((s) => !inRam(s));
      if (outside) {
        return crash(
          "2.7.5/D2",
          `the device half took a chain with a buffer at 0x${outside.addr.toString(16)} of ` +
            `${outside.len} bytes, not inside RAM (0x${RING_RAM_BASE.toString(16)}-0x${
              RAM_END.toString(16)
            })`,
        );
      }
    }
    for (const w of watches) {
      if (w.stores.length > 0) {
        return crash(
          "2.7.5.1/2",
          `the device half stored ${w.stores.length} time(s) into the ${w.range.name}`,
        );
      }
      w.stop();
    }
    for (const v of log.find({ role: "driver" })) reported[v.id] = (reported[v.id] ?? 0) + 1;
  }
  return { runs, taken, reported, crash: null };
}

/**
 * Throws `runs` random hostile used rings at a driver half (the reference
 * parts with `parts` merged in): each run a fresh queue of 2, 8 or 16
 * entries near a random 16-bit index, one to four chains posted through it
 * and taken by the reference device, then used elements with ids that are
 * heads, duplicates, mid-chain indices, beyond Queue Size or 2^32 - 1, and
 * lengths 0, exact, too long or near 2^32, and a used idx up to 0xffff
 * ahead; then reaps (`getBuf`) until it returns `null`, at most Queue Size
 * + 2 times, under a read budget. Stops at the first crash.
 *
 * @param parts Driver-side parts to use instead of the reference ones.
 * @param options Runs and seed (`indirect` is ignored: chains are posted direct).
 * @returns What happened; a stub's `todo()` is thrown instead.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fuzzHostileCompletions } from "./hostile_fuzz.ts";
 * const report = fuzzHostileCompletions({}, { runs: 200, seed: 7 });
 * assert.equal(report.crash, null);
 * assert.ok(report.taken > 0 && report.reported["2.7.8/D1"] > 0);
 * ```
 */
export function fuzzHostileCompletions(
  parts: Partial<SplitRingDriverParts> = {},
  options: FuzzOptions = {},
): FuzzReport {
  const runs = options.runs ?? 10_000;
  const seed = options.seed ?? 1;
  const r = prng(seed);
  const all = layouts(false);
  const reported: Record<string, number> = {};
  let taken = 0;
  for (let run = 0; run < runs; run++) {
    const size = SIZES[run % SIZES.length];
    const layout = all.get(size)!;
    const { f, pool } = layout;
    const startIdx = below(r, 0x1_0000);
    const log = startRun(layout, startIdx);
    const driver = new SplitQueueDriver<string>({
      ...queueConfig(layout, log, "driver"),
      allocator: f.allocator,
      parts,
      startIdx,
    });
    const device = new SplitQueueDevice(queueConfig(layout, log, "device"), undefined, {
      startIdx,
    });
    const posted = new Map<string, number>(); // token -> writable bytes
    const chains = 1 + below(r, Math.min(4, size));
    let used = 0;
    for (let k = 0; k < chains; k++) {
      const writable = 16 + 16 * below(r, 4);
      const readable = r() < 0.5 ? 1 : 0;
      if (readable + 1 > driver.ring.numFree) break;
      driver.add(
        pool.slice(used, used + readable),
        [{ addr: pool[used + readable].addr, len: writable }],
        `chain ${k}`,
      );
      used += readable + 1;
      posted.set(`chain ${k}`, writable);
    }
    driver.kickPrepare();
    const heads = f.memory.quietly(() => {
      const popped: number[] = [];
      for (let c = device.pop(); c !== null; c = device.pop()) popped.push(c.head);
      return popped;
    });
    const hostility = pick(r, [0, 0.05, 0.2, 0.5, 1]);
    const honest = heads.length === 0 ? 0 : heads.length;
    const elements = Array.from(
      { length: 1 + below(r, size) },
      (_, k) =>
        r() >= hostility && k < honest ? { id: heads[k], len: pick(r, [0, 16]) } : {
          id: pick(r, [heads[0] ?? 0, heads[0] + 1, size, 0xffff_ffff, below(r, size)]),
          len: pick(r, [0, 16, 32, 64, 65, 0xffff_ffff, 0x8000_0000]),
        },
    );
    elements.forEach((e, k) => f.writeUsed(startIdx + k, e.id, e.len));
    const ahead = r() < 0.85 ? elements.length : pick(r, [size + 1, 0x8000, 0xffff]);
    f.setUsedIdx(startIdx + ahead);
    const input = `queue size ${size}, ${posted.size} chain(s) posted at heads [${
      heads.join(", ")
    }]; used idx ${startIdx} -> ${(startIdx + ahead) & 0xffff}, elements ${
      elements.slice(0, 4).map((e) => `{ id ${e.id}, len ${e.len} }`).join(", ")
    }${elements.length > 4 ? ", ..." : ""}`;
    const crash = (requirement: RequirementId, what: string, error?: unknown): FuzzReport => ({
      runs: run + 1,
      taken,
      reported,
      crash: { run, seed, requirement, what, input, ...(error === undefined ? {} : { error }) },
    });
    const seen = new Set<string>();
    const budget = readBudget(f.memory, 64 * size + 256, { doing: "reaping hostile completions" });
    try {
      for (let k = 0; k < size + 2; k++) {
        let reaped;
        try {
          reaped = driver.getBuf();
        } catch (error) {
          if (isNotWrittenYet(error)) throw error;
          if (error instanceof RunawayReadsError) {
            return crash("2.7.8/D1", `the reap did not end: ${error.message}`);
          }
          return crash("2.7.8/D1", `the driver half threw ${thrown(error)}`, error);
        }
        if (reaped === null) break;
        const token = String(reaped.token);
        if (!posted.has(token) || seen.has(token)) {
          return crash(
            "2.7.8/D1",
            `the driver half handed back ${
              seen.has(token) ? "twice" : "without posting it"
            } the token ${JSON.stringify(token)}`,
          );
        }
        seen.add(token);
        taken++;
        if (!(reaped.len >= 0 && reaped.len <= posted.get(token)!)) {
          return crash(
            "2.7.8/D2",
            `the driver half handed back ${token} with len ${reaped.len}, more than its ` +
              `${posted.get(token)} device-writable bytes`,
          );
        }
      }
    } finally {
      budget.stop();
    }
    if (driver.ring.numFree > size) {
      return crash(
        "2.7.8/D1",
        `the driver half counts ${driver.ring.numFree} free descriptors of ${size}`,
      );
    }
    for (const v of log.find({ role: "device" })) reported[v.id] = (reported[v.id] ?? 0) + 1;
  }
  return { runs, taken, reported, crash: null };
}

/**
 * A fuzz crash, for a failure message: what the half under test did, on
 * which input, and how to replay it.
 *
 * @param c The crash.
 */
export function showFuzzCrash(c: FuzzCrash): string {
  return `run ${c.run} of seed ${c.seed}: ${c.what}; the hostile side wrote: ${c.input}`;
}
