/**
 * The grader of "Indirect descriptors".
 *
 * Device side: the learner's `readIndirectTable` runs inside the device half
 * (the reference walker before it) against the kit's indirect cases, QEMU's
 * "Invalid size for indirect buffer table" and the rest of §2.7.5.3, and this
 * lesson's own (entries linked out of order, a table of exactly Queue Size
 * entries, unused entries after the chain's end, order across the direct part
 * and the table, buffers and tables at the edge of RAM), under a read budget
 * and a store watch; then the whole chain with its totals, the queue broken on
 * a refusal, and an entry's `len` rewritten after its first read.
 * Driver side: `addIndirectChain` on rings in many states, entry by entry and
 * field by field of the record, and on every refusal (none may allocate);
 * `addBuffers` over every policy, feature, allocator and chain length, by the
 * steps it calls; then a ring where every table must be freed exactly once,
 * after its chain came back, with the allocator failing now and then. Last,
 * the lab machine with VIRTIO_F_INDIRECT_DESC on the learner's three parts.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { GuestOutOfMemoryError } from "../../memory/allocator.ts";
import {
  VIRTQ_DESC_F_INDIRECT as INDIRECT,
  VIRTQ_DESC_F_NEXT as NEXT,
  VIRTQ_DESC_F_WRITE as WRITE,
} from "../../virtqueue/constants.ts";
import { addBuffers, addChain, addIndirectChain } from "../../virtqueue/driver/add.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../virtqueue/driver/add.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import * as show from "../kit/format.ts";
import { attempt, every, ruleFor, thrownFields } from "../kit/rules.ts";
import type { RingFixture } from "../kit/ring.ts";
import {
  HOSTILE_CHAINS,
  type HostileChain,
  hostileChainRows,
  hostileChainSubject,
  type HostilePop,
  hostileVerdict,
  popHostileChain,
} from "../kit/hostile_driver.ts";
import { descriptorReads, doubleFetch } from "../kit/double_fetch.ts";
import {
  driverRingStage,
  placeInTable,
  showCaseBuffers,
  showTablePlacement,
  type TablePlacement,
  type TablePlacementCase,
} from "../kit/shadow.ts";
import { machineCheck } from "../kit/machine.ts";
import { tablesFreedOnce } from "../kit/ring.ts";

type Impl = typeof Exercise;
const mine = (impl: Impl) => ({ readIndirectTable: impl.readIndirectTable });
const pop = hostileChainSubject<Impl>(mine, (c) => `readIndirectTable on ${c.name}`);
const row = ruleFor(pop, { hint: 2 });

// ------------------------------------------------------------ the device

const b = (f: RingFixture, len = 16) => f.buffer(len).addr;
const CASES = HOSTILE_CHAINS.filter((c) => c.topic === "indirect");
const cases = (list: readonly HostileChain[]) => every(list.map((c) => [c] as [HostileChain]));
const totals = (o: HostilePop) =>
  o.chains.map((c: DescriptorChain) =>
    `${show.chain(c)}, readableLength ${c.readableLength}, writableLength ${c.writableLength}`
  );

// A table entry's len rewritten after its first read (bhyve's double fetch, on a table).
type FetchCase = [entry: number, then: number];
function fetchRun(parts: object, entry: number, then: number) {
  let most = () => 0;
  const build = (f: RingFixture) => {
    const t = f.memory.quietly(() => f.allocator.alloc(48, 16));
    f.writeDescriptor(0, { addr: b(f), len: 16, flags: NEXT, next: 1 }, t);
    f.writeDescriptor(1, { addr: b(f, 512), len: 512, flags: WRITE | NEXT, next: 2 }, t);
    f.writeDescriptor(2, { addr: b(f, 1), len: 1, flags: WRITE }, t);
    f.writeDescriptor(0, { addr: t, len: 48, flags: INDIRECT });
    f.makeAvailable(0);
    const reads = descriptorReads(f.memory, t, 3);
    most = () => reads.most().reads;
    doubleFetch(f.memory, { address: t + 16 * entry + 8, width: 4, then });
  };
  const name = `a table whose entry ${entry} len becomes ${show.value(then)} once read`;
  const o = popHostileChain(
    {
      name,
      topic: "indirect",
      rule: "2.7.5/D2",
      accepted: true,
      fixture: { indirect: true },
      build,
    },
    parts,
  );
  return { ...o, mostReads: most() };
}
const fetched = ruleFor<Impl, FetchCase, ReturnType<typeof fetchRun>>({
  run: (impl, ...c) => fetchRun(mine(impl), ...c),
  reference: (...c) => fetchRun({}, ...c),
  show: (entry, then) =>
    `readIndirectTable on a table r16 -> w512 -> w1 whose entry ${entry} len becomes ` +
    `${show.value(then)} right after its first read`,
  result: (o) => `${pop.result(o)}; the most reads of one field: ${o.mostReads}`,
  verb: "and the device",
});

// ------------------------------------------------------------ the driver: addIndirectChain

type PlaceCase = TablePlacementCase & { on: string };
const place = ruleFor<Impl, [PlaceCase], TablePlacement>({
  run: (impl, c) => placeInTable(impl.addIndirectChain, c),
  reference: (c) => placeInTable(addIndirectChain, c),
  show: (c) =>
    `addIndirectChain(ring, [${showCaseBuffers(c.r)}], [${showCaseBuffers(c.w)}], token, ` +
    `allocTable${c.oom ? " (out of memory)" : ""}) on ${c.on}`,
  result: showTablePlacement,
}, { hint: 3 });
const PLACED: PlaceCase[] = [
  { on: "a fresh ring of 8 (a block request)", r: [16], w: [512, 1] },
  { on: "a fresh ring of 8 (two readable buffers)", r: [16, 100], w: [] },
  { on: "a fresh ring of 8 (a receive buffer in three)", r: [], w: [64, 64, 8] },
  { on: "a ring with a shuffled free list", r: [12], w: [100, 1], busy: [2, 1, 3], freed: [2, 0] },
  { on: "a ring with one descriptor left, a chain of 5", r: [16, 8], w: [512, 512, 1], busy: [7] },
  { on: "a fresh ring of 8, a chain of exactly Queue Size", r: [1, 2, 3, 4], w: [5, 6, 7, 8] },
  { on: "a ring of Queue Size 1", r: [], w: [4], size: 1 },
  { on: "a ring in RAM above 4 GiB", r: [16], w: [512], base: 2 ** 32 },
  { on: "a ring, a buffer ending on RAM's last byte", r: [16], w: [{ len: 64, at: "end" }] },
];
const refusal = (o: TablePlacement): Record<string, unknown> =>
  "threw" in o.outcome
    ? {
      ...thrownFields(o.outcome),
      message: undefined,
      allocs: o.allocs.length,
      stores: o.elsewhere,
    }
    : { placed: o.outcome.returned };
const refused = (
  name: string,
  requirement: Parameters<typeof place>[0]["requirement"],
  list: PlaceCase[],
) =>
  place({
    name,
    requirement,
    hint: 2,
    cases: every(list.map((c) => [c] as [PlaceCase])),
    verdict: (o) => ({ ...refusal(o), record: o.record }),
    why: (want) =>
      `the chain refused with ${show.value(refusal(want))} before allocTable is called, ` +
      "with nothing stored and the record as it was",
  });

// ------------------------------------------------------------ the driver: addBuffers

type Choice = [
  policy: IndirectPolicy,
  indirect: boolean,
  tables: "ok" | "oom" | "none",
  n: number,
  full: boolean,
];
function choose(fn: Impl["addBuffers"], ...[policy, indirect, tables, n, full]: Choice) {
  const { ring, buffer, allocator } = driverRingStage({ size: 4, indirect, busy: full ? [4] : [] });
  const calls: string[] = [];
  const steps: AddBufferSteps = {
    addChain: (...a) => (calls.push("addChain"), addChain(...a)),
    addIndirectChain: (...a) => (calls.push("addIndirectChain"), addIndirectChain(...a)),
    allocTable: tables === "none" ? undefined : (bytes) => {
      if (tables === "oom") throw new GuestOutOfMemoryError(bytes, 16, 0);
      return allocator.alloc(bytes, 16);
    },
  };
  const bufs = Array.from({ length: n }, () => buffer(8));
  const o = attempt(() => fn(ring, bufs.slice(0, 1), bufs.slice(1), "t", policy, steps));
  return {
    calls,
    outcome: "threw" in o
      ? { threw: (o.threw as Error)?.name }
      : { head: o.returned, count: ring.count[o.returned] },
  };
}
const choice = ruleFor<Impl, Choice, ReturnType<typeof choose>>({
  run: (impl, ...c) => choose(impl.addBuffers, ...c),
  reference: (...c) => choose(addBuffers, ...c),
  show: (policy, indirect, tables, n, full) =>
    `addBuffers(ring, ${n} buffer(s), "${policy}", steps) with INDIRECT_DESC ` +
    `${indirect ? "negotiated" : "not negotiated"}, allocTable ${
      { ok: "working", oom: "out of memory", none: "undefined" }[tables]
    }` +
    `${full ? ", no descriptor free" : ""}`,
  result: (o) => `called [${o.calls.join(", ")}] and ${show.value(o.outcome)}`,
}, { hint: 3 });
const CHOICES = every(() =>
  (["auto", "always", "never"] as const).flatMap((p) =>
    [true, false].flatMap((i) =>
      (["ok", "oom", "none"] as const).flatMap((t) =>
        [1, 2, 3, 5].flatMap((n) => [false, true].map((full) => [p, i, t, n, full] as Choice))
      )
    )
  )
);

export const grader = defineGrader<Impl>({
  lesson: "indirect-descriptors",
  checks: [
    // --------------------------------------------------- readIndirectTable: one row per rule
    ...hostileChainRows(pop, { cases: CASES, hint: 2 }),
    row({
      name: "the whole chain comes back: the direct buffers, then the table's, with totals",
      requirement: "2.7.5.3.2/2",
      hint: 3,
      cases: cases(CASES.filter((c) => c.accepted)),
      verdict: (o) => ({ ...hostileVerdict(o), totals: totals(o) }),
      why: "the chain as the reference returns it: readable and writable lists in chain order, " +
        "direct buffers first, readableLength, writableLength, descriptorCount, indirect: true",
    }),
    row({
      name: "a refused table breaks the queue",
      requirement: "2.7.5.3/D1",
      hint: 3,
      cases: cases(CASES.filter((c) => !c.accepted)),
      verdict: (o) => ({ broken: o.broken !== null, misbehaved: hostileVerdict(o).misbehaved }),
      why: "the rule reported and the ring broken (breakDeviceRing), never a throw",
      cites: (want) => want.reported[0],
    }),
    fetched({
      name: "each entry is read once: a len rewritten after its first read changes nothing",
      requirement: "2.7.5/D2",
      hint: 4,
      cases: every([[1, 0xffff_ffff], [1, 0], [0, 0]]),
      verdict: (o) => ({ ...hostileVerdict(o), once: o.mostReads <= 1 }),
      why: "the chain as the table read the first time, each field of an entry read once",
    }),
    // --------------------------------------------------- addIndirectChain
    place({
      name: "one ring descriptor points at the table: INDIRECT, 16 bytes per buffer",
      requirement: "2.7.5.3/D2",
      cases: every(PLACED.map((c) => [c] as [PlaceCase])),
      verdict: (o) => ({ outcome: o.outcome, pointer: o.pointer }),
      why: "the first free descriptor, with addr the table allocTable returned, len 16 * n and " +
        "flags VIRTQ_DESC_F_INDIRECT alone (WRITE there is ignored; never NEXT, 2.7.5.3.1/4)",
    }),
    place({
      name: "the table holds the chain from entry 0, readable first, next = k + 1",
      requirement: "2.7.5.3/D2",
      cases: every(PLACED.map((c) => [c] as [PlaceCase])),
      verdict: (o) => ({ entries: o.entries, allocs: o.allocs, elsewhere: o.elsewhere }),
      why: "allocTable(16 * n) called once; entry k holds buffer k: addr, len, WRITE on writable " +
        "ones, NEXT and next k + 1 on all but the last, never INDIRECT; no store elsewhere",
    }),
    place({
      name: "the record: one descriptor taken, the table kept for detachChain",
      requirement: "2.7.5.3/D3",
      cases: every(PLACED.map((c) => [c] as [PlaceCase])),
      verdict: (o) => o.record,
      why: "numFree one fewer, freeHead the next free one, state HEAD_ADDED, the token, count 1, " +
        "the writable bytes, tables[head] the table's address, inFlight one more",
      result: (o) => `left ${show.value(o.record)}`,
    }),
    refused("a table is never built without VIRTIO_F_INDIRECT_DESC", "2.7.5.3.1/1", [
      { on: "a ring without the feature", r: [16], w: [512, 1], indirect: false },
    ]),
    refused("a chain longer than the queue is refused, table or not", "2.7.5.3.1/3", [
      { on: "a fresh ring of 4", r: [1, 1, 1], w: [1, 1], size: 4 },
      { on: "a ring of Queue Size 1", r: [1], w: [1], size: 1 },
    ]),
    refused("a bad buffer is refused before a table is allocated", "2.7.5.3/D3", [
      { on: "a fresh ring", r: [0], w: [8] },
      { on: "a fresh ring", r: [], w: [] },
      { on: "a fresh ring", r: [16], w: [{ len: 64, at: "past" }] },
      { on: "a fresh ring", r: [{ len: 16, at: "far" }], w: [] },
      { on: "a full ring", r: [16], w: [8], busy: [8] },
    ]),
    place({
      name: "a table that cannot be allocated leaves everything as it was",
      requirement: "2.7.5.3/D3",
      hint: 2,
      cases: every([[{ on: "a fresh ring, the allocator full", r: [16], w: [512, 1], oom: true }]]),
      verdict: (o) => ({ ...refusal(o), record: o.record }),
      why: "allocTable's GuestOutOfMemoryError passed on, after no store, the record unchanged",
    }),
    // --------------------------------------------------- addBuffers
    choice({
      name: '"never" and "always" do what they say',
      requirement: "2.7.5.3.1/1",
      cases: CHOICES,
      when: (p) => p !== "auto",
      why: '"never": addChain; "always": addIndirectChain with the allocator (its errors passed ' +
        "on), or a TypeError and no step when there is none",
    }),
    choice({
      name: '"auto" uses a table only with the feature, an allocator and 2 or more buffers',
      requirement: "2.7.5.3.1/1",
      cases: CHOICES,
      when: (p, _i, t) => p === "auto" && t !== "oom",
      why: "addIndirectChain when INDIRECT_DESC was negotiated, allocTable is given and n >= 2; " +
        "addChain otherwise",
    }),
    choice({
      name: '"auto" falls back to direct descriptors when no table can be allocated',
      requirement: "2.7.5.3/D3",
      hint: 2,
      cases: CHOICES,
      when: (p, i, t, n) => p === "auto" && i && t === "oom" && n >= 2,
      why: "addIndirectChain's GuestOutOfMemoryError, then addChain once: its head (or its " +
        "error) is the call's; any other error passed on without a second step",
      note: () =>
        "Linux does the same: alloc_indirect_split() returning NULL sends " +
        "virtqueue_add_split() down the direct path.",
    }),
    {
      name: "every table is freed exactly once, after the device returned its chain",
      requirement: "2.7.5.3/D3",
      hint: 2,
      expects: "60 requests of 1 to 4 buffers through a ring of 8 across the wrap, every third " +
        "with the allocator full: each reaches the device whole, and each table is freed once",
      run(impl) {
        const observed = tablesFreedOnce({
          addIndirectChain: impl.addIndirectChain,
          addBuffers: impl.addBuffers,
        });
        if (observed) {
          fail({
            observed,
            expected: "every table allocated by your addIndirectChain recorded in tables[head] " +
              "(and none for a direct chain), so that detachChain frees it once, after the chain " +
              "came back; a table that cannot be had means direct descriptors, not a lost request",
          });
        }
      },
    },
    machineCheck<Impl>({
      id: "indirect-descriptors",
      requirement: "2.7.5.3/D2",
      hint: 4,
      expects: "the lab machine, with VIRTIO_F_INDIRECT_DESC negotiated and every chain placed " +
        "by your addBuffers and addIndirectChain and read back by your readIndirectTable on a " +
        "strict log, to carry console and disk traffic",
      lesson,
      also: (machine) => {
        const without = machine.devices().filter((d) =>
          d.deviceId !== 0 && !d.features.includes("VIRTIO_F_INDIRECT_DESC")
        );
        if (without.length) {
          fail({
            observed: `${
              without.map((d) => d.type).join(" and ")
            } did not negotiate VIRTIO_F_INDIRECT_DESC`,
            expected: "both devices to offer it and both drivers to accept it",
          });
        }
      },
    }),
  ],
});
