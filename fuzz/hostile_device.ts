/**
 * The hostile device: drives the driver half of a split virtqueue (the
 * reference parts, or the learner's merged in) with a seeded PRNG and answers
 * its chains the way a buggy or compromised device would, checking after
 * every step what the driver did.
 *
 * An episode builds a fresh queue (random Queue Size, a start index that is
 * sometimes just below the 16-bit wrap, `VIRTIO_F_EVENT_IDX` and
 * `VIRTIO_F_INDIRECT_DESC` at random within the feature mask). The driver adds
 * chains, publishes them and reaps; the device takes them (through a
 * reference device half that only reads) and writes the used ring itself:
 * mostly correct completions, in any order, some withheld; and hostile ones,
 * one class at a time ({@linkcode HOSTILE_COMPLETION_CLASSES}): used ids
 * beyond Queue Size, in the middle of a chain, never posted or returned
 * twice; lengths beyond the writable bytes; a used `idx` that jumps ahead or
 * moves back; junk used `flags`.
 *
 * The invariants checked after every step: every buffer the driver hands
 * back answers a well-formed used entry, with that entry's token and length
 * (a driver that trusts a bad `id` or `len` fails here: `silent` for the
 * class, or an invariant); the driver frees only what came back (its count
 * of free descriptors matches the chains outstanding); nothing but the
 * documented refusals escapes `add` (`VirtqueueFullError`,
 * `VirtqueueBrokenError`, `VirtqueueChainError`, `GuestOutOfMemoryError`),
 * nothing at all escapes the other calls; the read budget stops a loop.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { GuestAllocator, GuestOutOfMemoryError } from "../memory/allocator.ts";
import { MACHINE_RAM_BASE, type MachineParts } from "../machine.ts";
import { resolveParts } from "../parts.ts";
import { hasFeature, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from "../virtio/features.ts";
import { SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../virtqueue/device_queue.ts";
import { allocateQueueAreas } from "../virtqueue/driver/areas.ts";
import { HEAD_PUBLISHED } from "../virtqueue/driver/ring.ts";
import {
  usedElemOffset,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../virtqueue/layout.ts";
import {
  type DescriptorChain,
  VirtqueueBrokenError,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../virtqueue/types.ts";
import { FuzzMemory, RunawayReadsError } from "./memory.ts";
import type { FuzzRng } from "./rng.ts";
import { describe, type EpisodeSink } from "./hostile_driver.ts";

/** RAM of a driver episode: 256 KiB. */
export const DRIVER_FUZZ_RAM_SIZE = 256 * 1024;
/** Loads the driver half may make in one step. */
export const DRIVER_STEP_READ_BUDGET = 100_000;

/** One class of hostile completion: the rule the device breaks. */
export interface HostileCompletionClass {
  /** What the device does, in words. */
  readonly name: string;
  /** The rule it breaks: the driver must report it (`null`: only survive it). */
  readonly rule: RequirementId | null;
  /** Other ids a driver may fairly report first (the case breaks those too). */
  readonly fair?: readonly RequirementId[];
}

/** The hostile completion classes, in the order the report lists them. */
export const HOSTILE_COMPLETION_CLASSES: readonly HostileCompletionClass[] = Object.freeze(
  [
    { name: "a used id beyond Queue Size", fair: ["2.7.8/D2"], rule: "2.7.8/D1" },
    { name: "a used id in the middle of a chain", fair: ["2.7.8/D2"], rule: "2.7.8/D1" },
    { name: "a used id never posted or already returned", fair: ["2.7.8/D2"], rule: "2.7.8/D1" },
    { name: "the same id returned twice", fair: ["2.7.8/D2"], rule: "2.7.8/D1" },
    { name: "a used len beyond the writable bytes", fair: ["2.7.8/D2"], rule: "2.7.8.2/2" },
    { name: "a used idx that jumps ahead", rule: "2.7.8/D2" },
    { name: "a used idx that moves back", rule: "2.7.8/D2" },
    { name: "junk used flags", rule: null },
    { name: "completions withheld", rule: null },
  ] satisfies HostileCompletionClass[],
);

/** A chain the driver added, as the fuzzer knows it. */
interface Added {
  readonly token: number;
  readonly writableBytes: number;
  readonly firstAddr: number;
  /** Descriptors its `add` took. */
  readonly descriptors: number;
}

/** A used entry the device wrote, in ring order. */
type Written =
  | { readonly ok: true; readonly token: number; readonly len: number }
  | { readonly ok: false; readonly cls: string; readonly rule: RequirementId | null };

/** Options of {@linkcode runDriverEpisode}. */
export interface DriverEpisodeOptions {
  /** The episode's PRNG. */
  readonly rng: FuzzRng;
  /** Steps to run. */
  readonly steps: number;
  /** Replacement parts (the learner's). */
  readonly parts?: MachineParts;
  /** Features the device may offer (`VIRTIO_F_EVENT_IDX`, `VIRTIO_F_INDIRECT_DESC` are drawn within it). */
  readonly featureMask?: bigint;
  /** Where failures and case outcomes go. */
  readonly sink: EpisodeSink;
  /** Ids reported, counted into this record. */
  readonly violations: Record<string, number>;
}

const ALLOWED_ADD_ERRORS = [
  VirtqueueFullError,
  VirtqueueBrokenError,
  VirtqueueChainError,
  GuestOutOfMemoryError,
];

/**
 * Runs one episode of the hostile device against a fresh driver half (see
 * the module documentation).
 *
 * @param o The PRNG, steps, parts and where results go.
 * @returns The steps run (fewer when the driver threw, looped or broke the queue).
 */
export function runDriverEpisode(o: DriverEpisodeOptions): number {
  const rng = o.rng;
  const mask = o.featureMask ?? ~0n;
  const memory = new FuzzMemory(DRIVER_FUZZ_RAM_SIZE, { base: MACHINE_RAM_BASE });
  const log = new ConformanceLog({ strict: false });
  const size = 1 << rng.int(1, 6);
  const startIdx = rng.chance(0.3) ? (0x1_0000 - rng.int(1, 8)) & 0xffff : rng.below(0x1_0000);
  const eventIdx = hasFeature(mask, VIRTIO_F_EVENT_IDX) && rng.chance(0.5);
  const indirect = hasFeature(mask, VIRTIO_F_INDIRECT_DESC) && rng.chance(0.5);
  const allocator = new GuestAllocator(memory);
  const { queue, device } = memory.quietly(() => {
    const addresses = allocateQueueAreas(allocator, size);
    const common = { memory, index: 0, size, eventIdx, indirect, ...addresses };
    return {
      queue: new SplitQueueDriver<number>({
        ...common,
        allocator,
        reporter: log.scoped("driver"),
        parts: resolveParts(o.parts, "virtqueue", "driver"),
        startIdx,
      }),
      device: new SplitQueueDevice(
        { ...common, reporter: new ConformanceLog({ strict: false }).scoped("device") },
        () => {},
        { startIdx },
      ),
    };
  });
  const usedAddr = queue.ring.usedAddr;
  memory.loadBudget = DRIVER_STEP_READ_BUDGET;

  let nextToken = 0;
  const added = new Map<number, Added>(); // by token, until handed back
  const byAddr = new Map<number, number>(); // first buffer address -> token
  const taken: { chain: DescriptorChain; token: number }[] = []; // popped, not completed
  const returned = new Set<number>(); // tokens handed back
  const written: Written[] = []; // used entries not reaped yet, in order
  let usedIdx = startIdx;
  let logSeen = 0;

  const writeUsed = (id: number, len: number) =>
    memory.quietly(() => {
      const at = usedAddr + usedElemOffset(usedIdx & (size - 1));
      memory.writeU32(at, id >>> 0);
      memory.writeU32(at + 4, len >>> 0);
      usedIdx = (usedIdx + 1) & 0xffff;
      memory.writeU16(usedAddr + VIRTQ_USED_IDX_OFFSET, usedIdx);
    });
  const held = () => [...added.values()].reduce((n, a) => n + a.descriptors, 0);

  const add = () => {
    const nr = rng.int(0, 2);
    const nw = rng.int(nr === 0 ? 1 : 0, 2);
    const seg = (fill: number) => {
      const len = rng.int(1, 600);
      const addr = memory.quietly(() => allocator.alloc(len, 8));
      memory.quietly(() => memory.fill(addr, len, fill));
      return { addr, len };
    };
    let readable, writable;
    try {
      readable = Array.from({ length: nr }, () => seg(0x11));
      writable = Array.from({ length: nw }, () => seg(0x22));
    } catch (error) {
      if (error instanceof GuestOutOfMemoryError) return;
      throw error;
    }
    const token = nextToken++;
    const before = queue.numFree;
    try {
      queue.add(readable, writable, token);
    } catch (error) {
      if (ALLOWED_ADD_ERRORS.some((c) => error instanceof c)) return;
      throw error;
    }
    const first = (readable[0] ?? writable[0]).addr;
    added.set(token, {
      token,
      writableBytes: writable.reduce((n, s) => n + s.len, 0),
      firstAddr: first,
      descriptors: before - queue.numFree,
    });
    byAddr.set(first, token);
  };

  /** The device takes whatever was published (reads only). */
  const take = () =>
    memory.quietly(() => {
      for (let chain = device.pop(); chain; chain = device.pop()) {
        const first = chain.readable[0] ?? chain.writable[0];
        const token = first ? byAddr.get(first.addr) : undefined;
        if (token !== undefined) taken.push({ chain, token });
      }
    });

  const completeValid = () => {
    if (taken.length === 0) return;
    const k = rng.chance(0.7) ? 0 : rng.below(taken.length); // out of order sometimes
    const [{ chain, token }] = taken.splice(k, 1);
    const len = rng.chance(0.5) ? chain.writableLength : rng.int(0, chain.writableLength);
    writeUsed(chain.head, len);
    written.push({ ok: true, token, len });
  };

  const hostile = (name: string, rule: RequirementId | null): boolean => {
    const mark = (ok = false) => ok || written.push({ ok: false, cls: name, rule });
    switch (name) {
      case "a used id beyond Queue Size":
        writeUsed(rng.pick([size, size + rng.below(100), 0xffff_ffff, 0x1_0000]), 0);
        mark();
        return true;
      case "a used id in the middle of a chain": {
        const multi = taken.find((t) => t.chain.descriptorCount > 1 && !t.chain.indirect);
        if (!multi) return false;
        const next = memory.quietly(() =>
          memory.readU16(queue.ring.descAddr + 16 * multi.chain.head + 14)
        );
        if (next === multi.chain.head) return false;
        writeUsed(next, 0);
        mark();
        return true;
      }
      case "a used id never posted or already returned": {
        const busy = new Set(taken.map((t) => t.chain.head));
        const idle = Array.from({ length: size }, (_, i) => i).filter((i) =>
          !busy.has(i) && queue.ring.state[i] !== HEAD_PUBLISHED
        );
        if (idle.length === 0) return false;
        writeUsed(rng.pick(idle), 0);
        mark();
        return true;
      }
      case "the same id returned twice": {
        if (taken.length === 0) return false;
        const [{ chain, token }] = taken.splice(0, 1);
        writeUsed(chain.head, 0);
        written.push({ ok: true, token, len: 0 });
        writeUsed(chain.head, 0);
        mark();
        return true;
      }
      case "a used len beyond the writable bytes": {
        if (taken.length === 0) return false;
        const [{ chain }] = taken.splice(0, 1);
        writeUsed(chain.head, chain.writableLength + rng.pick([1, 512, 0x7fff_ffff]));
        mark();
        return true;
      }
      case "a used idx that jumps ahead":
        // More than Queue Size past the driver's last reaped entry: more than can be outstanding.
        memory.quietly(() => {
          usedIdx = (usedIdx - written.length + size + rng.int(1, 4)) & 0xffff;
          memory.writeU16(usedAddr + VIRTQ_USED_IDX_OFFSET, usedIdx);
        });
        written.length = 0;
        mark();
        return true;
      case "a used idx that moves back":
        if (written.length > 0) return false; // the driver would first reap what is there
        memory.quietly(() => {
          usedIdx = (usedIdx - rng.int(1, 3)) & 0xffff;
          memory.writeU16(usedAddr + VIRTQ_USED_IDX_OFFSET, usedIdx);
        });
        mark();
        return true;
      case "junk used flags":
        memory.quietly(() =>
          memory.writeU16(usedAddr + VIRTQ_USED_FLAGS_OFFSET, rng.u32() & 0xffff)
        );
        return true;
      case "completions withheld":
        take();
        return true;
    }
    return false;
  };

  /** The driver reaps until it says nothing is left; checks each buffer it hands back. */
  const reap = (useDrain: boolean) => {
    const check = (used: { token: number; len: number }) => {
      const entry = written.shift();
      if (!entry) {
        o.sink.fail(
          "invariant",
          `The driver handed back token ${used.token} with no used entry written for it`,
          {
            invariant: "driver-returned-without-entry",
            requirement: "2.7.8/D1",
          },
        );
        return;
      }
      if (!entry.ok) {
        o.sink.fail(
          "silent",
          `The driver took ${entry.cls} as a completion (handed back token ${used.token}, len ${used.len}) ` +
            `instead of refusing it${entry.rule ? ` and reporting ${entry.rule}` : ""}`,
          { requirement: entry.rule },
        );
        return;
      }
      if (entry.token !== used.token || entry.len !== used.len || returned.has(used.token)) {
        o.sink.fail(
          "invariant",
          `The driver handed back token ${used.token} with len ${used.len}; the used entry ` +
            `was token ${entry.token} with len ${entry.len}`,
          { invariant: "driver-returned-wrong-buffer", requirement: "2.7.8/D1" },
        );
      }
      returned.add(used.token);
      const a = added.get(used.token);
      if (a) {
        added.delete(used.token);
        byAddr.delete(a.firstAddr);
      }
    };
    if (useDrain) {
      queue.drainUsed((used) => check(used));
      return;
    }
    for (let k = 0; k < size + 2; k++) {
      const used = queue.getBuf();
      if (used === null) break;
      check(used);
    }
  };

  let step = 0;
  for (; step < o.steps; step++) {
    memory.resetBudget();
    const op = rng.weighted<[string, string | null]>([
      [30, ["add a chain", null]],
      [15, ["publish and kick", null]],
      [15, ["the device takes what was published", null]],
      [25, ["the device completes a chain", null]],
      [20, ["the driver reaps", null]],
      [4, ["the driver drains", null]],
      [3, ["callbacks off and on", null]],
      [12, ["hostile", rng.pick(HOSTILE_COMPLETION_CLASSES).name]],
    ]);
    const cls = op[1] === null
      ? undefined
      : HOSTILE_COMPLETION_CLASSES.find((c) => c.name === op[1]);
    o.sink.step(step, cls ? cls.name : op[0], cls?.name);
    const brokenBefore = queue.broken !== null;
    const logMark = log.entries.length;
    let threw: unknown = null;
    let delivered = false;
    try {
      switch (op[0]) {
        case "add a chain":
          add();
          break;
        case "publish and kick":
          queue.kickPrepare();
          break;
        case "the device takes what was published":
          take();
          break;
        case "the device completes a chain":
          completeValid();
          break;
        case "the driver reaps":
          reap(false);
          break;
        case "the driver drains":
          reap(true);
          break;
        case "callbacks off and on":
          queue.disableCallbacks();
          queue.enableCallbacks();
          break;
        case "hostile":
          take();
          delivered = hostile(cls!.name, cls!.rule) && !brokenBefore;
          if (delivered) reap(rng.chance(0.2));
          break;
      }
    } catch (error) {
      threw = error;
    }
    const reported = log.entries.slice(logMark).map((v) => v.id);
    for (let i = logSeen; i < log.entries.length; i++) {
      const id = log.entries[i].id;
      o.violations[id] = (o.violations[id] ?? 0) + 1;
    }
    logSeen = log.entries.length;
    const hung = threw instanceof RunawayReadsError;
    if (threw !== null) {
      o.sink.fail(
        hung ? "hung" : "threw",
        hung
          ? `The driver was stopped by the read budget: ${(threw as Error).message}`
          : `The driver threw ${describe(threw)}`,
      );
    }
    const nowBroken = queue.broken !== null;
    if (delivered) {
      o.sink.tally(cls!.name, cls!.rule, {
        reported,
        broke: nowBroken,
        threw: threw !== null && !hung ? describe(threw) : undefined,
        hung,
      });
    }
    if (threw !== null) break;
    // Free descriptors: exactly what is not held by a chain outstanding.
    if (!nowBroken) {
      const expected = size - held();
      if (queue.numFree !== expected) {
        o.sink.fail(
          "invariant",
          `The driver counts ${queue.numFree} free descriptors, but ${size - expected} of ` +
            `the ${size} are held by chains the device has not returned`,
          { invariant: "driver-free-count-wrong", requirement: "2.7.8/D1" },
        );
        break;
      }
    }
    if (nowBroken) break;
  }
  return Math.min(o.steps, step + 1);
}
