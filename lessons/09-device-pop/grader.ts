/**
 * The grader of "Popping a chain without trusting the driver".
 *
 * The learner's `walkChain` runs inside the device half (the reference parts
 * around it) against the kit's hostile-driver corpus, QEMU's
 * `virtqueue_split_pop` error classes and the valid chains at the edge of
 * each rule, plus this lesson's own: chains of every arrangement (2.7.4.1/1:
 * Firecracker #1560 refused valid ones) and a buffer whose address has its
 * high word set. Every pop is under a read budget (a walk that loops is
 * stopped and failed) and a store watch on the descriptor table
 * (2.7.5.1/2). Then: a refusal must break the queue; a descriptor rewritten
 * after its first read (bhyve's double fetch, FreeBSD-SA-24:17) must change
 * nothing; random tables must get the reference's chains, and refusals an id
 * of a rule the table does break. Last, the lab machine on the walker.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import type { RequirementId } from "../../conformance/requirements.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import {
  VIRTQ_DESC_F_NEXT as NEXT,
  VIRTQ_DESC_F_WRITE as WRITE,
} from "../../virtqueue/constants.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor, sample } from "../kit/rules.ts";
import { type RawDescriptor, RING_RAM_BASE, type RingFixture } from "../kit/ring.ts";
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
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;
const mine = (impl: Impl) => ({ walkChain: impl.walkChain });
const pop = hostileChainSubject<Impl>(mine, (c) => `walkChain on ${c.name}`);
const row = ruleFor(pop, { hint: 2 });
const FIRECRACKER = "Firecracker issue #1560 (a device that assumed how requests are laid out " +
  "refused valid chains: dropped writes, a corrupted filesystem)";
const BHYVE = "Case file: bhyve read iov_len from guest memory twice, checked the first value " +
  "and used the second (FreeBSD-SA-24:17.bhyve): read each field once, into a local.";

// ------------------------------------------------------------ the corpus, and this lesson's cases

const r = (len: number, addr: number, next?: number): RawDescriptor => ({
  addr,
  len,
  flags: next === undefined ? 0 : NEXT,
  next,
});
const w = (len: number, addr: number, next?: number): RawDescriptor => ({
  addr,
  len,
  flags: WRITE | (next === undefined ? 0 : NEXT),
  next,
});
/** Writes descriptors at indices `at` (default 0, 1, 2...) and makes the first available. */
function chainOf(f: RingFixture, descs: RawDescriptor[], at = descs.map((_, k) => k)): void {
  descs.forEach((d, k) => f.writeDescriptor(at[k], d));
  f.makeAvailable(at[0]);
}
const b = (f: RingFixture, len = 16) => f.buffer(len).addr;
const framing = (name: string, build: (f: RingFixture) => void): HostileChain => ({
  name,
  topic: "chain",
  rule: "2.7.4.1/1",
  accepted: true,
  build,
  source: FIRECRACKER,
});
const ARRANGEMENTS: HostileChain[] = [
  framing(
    "three device-writable buffers and nothing readable",
    (f) => chainOf(f, [w(16, b(f), 1), w(64, b(f, 64), 2), w(1, b(f, 1))]),
  ),
  framing(
    "two device-readable buffers and nothing writable",
    (f) => chainOf(f, [r(100, b(f, 100), 1), r(4, b(f, 4))]),
  ),
  framing(
    "a chain that runs backwards through the table, 7, 6, 5, 4",
    (f) =>
      chainOf(f, [r(16, b(f), 6), r(8, b(f, 8), 5), w(1, b(f, 1), 4), w(512, b(f, 512))], [
        7,
        6,
        5,
        4,
      ]),
  ),
  framing("one buffer named by two descriptors", (f) => {
    const one = b(f, 64);
    chainOf(f, [r(64, one, 1), w(64, one)]);
  }),
];
const HIGH_WORD: HostileChain = {
  name: "a buffer whose addr is a valid one plus 4 GiB (the high word set)",
  topic: "chain",
  rule: "2.7.5/D2",
  build: (f) => chainOf(f, [{ addr: BigInt(b(f)) + (1n << 32n), len: 16, flags: WRITE }]),
};
const CHAINS = [...HOSTILE_CHAINS.filter((c) => c.topic === "chain"), ...ARRANGEMENTS, HIGH_WORD];
const HANDOFF = [
  "an indirect descriptor without VIRTIO_F_INDIRECT_DESC negotiated",
  "an indirect descriptor that also has NEXT",
  "an indirect table of length 0",
  "a readable direct descriptor, then an indirect one",
].map((name) => HOSTILE_CHAINS.find((c) => c.name === name)!);
const cases = (list: readonly HostileChain[]) => every(list.map((c) => [c] as [HostileChain]));
const exactly = (got: ReturnType<typeof hostileVerdict>, want: ReturnType<typeof hostileVerdict>) =>
  !got.misbehaved && JSON.stringify(got.taken) === JSON.stringify(want.taken) && got.id === want.id;

// ------------------------------------------------------------ a field rewritten after its first read

type FetchCase = [field: "len" | "addr", desc: number, then: number];
interface Fetched extends HostilePop {
  /** The most times any one field of the table was read. */
  readonly mostReads: number;
}
function fetchRun(walk: Partial<Impl>, field: FetchCase[0], desc: number, then: number): Fetched {
  let most = () => 0;
  const c: HostileChain = {
    name: `a chain whose descriptor ${desc} ${field} becomes ${show.value(then)} once read`,
    topic: "chain",
    rule: "2.7.5/D2",
    accepted: true,
    build: (f) => {
      chainOf(f, [r(16, b(f), 1), w(512, b(f, 512), 2), w(1, b(f, 1))]);
      const reads = descriptorReads(f.memory, f.addresses.descAddr, f.size);
      most = () => reads.most().reads;
      const at = f.addresses.descAddr + 16 * desc + (field === "len" ? 8 : 0);
      doubleFetch(f.memory, { address: at, width: field === "len" ? 4 : 8, then });
    },
  };
  const o = popHostileChain(c, walk);
  return { ...o, mostReads: most() };
}
const fetched = ruleFor<Impl, FetchCase, Fetched>({
  run: (impl, ...c) => fetchRun(mine(impl), ...c),
  reference: (...c) => fetchRun({}, ...c),
  show: (field, desc, then) =>
    `walkChain on a chain r16 -> w512 -> w1 whose descriptor ${desc} ${field} becomes ` +
    `${show.value(then)} right after its first read`,
  result: (o) => `${pop.result(o)}; the most reads of one field: ${o.mostReads}`,
  verb: "and the device",
});

// ------------------------------------------------------------ random tables

const RAM = 16 * 1024;
const END = RING_RAM_BASE + RAM;
type Place = "buffer" | "end" | "past end" | "below" | "high word";
interface RandomDesc {
  readonly place: Place;
  readonly len: number;
  readonly flags: number;
  readonly next: number | "following";
}
type TableCase = [head: number, descs: RandomDesc[]];
const RANDOM_DESC: fc.Arbitrary<RandomDesc> = fc.record({
  place: fc.constantFrom<Place>(
    "buffer",
    "buffer",
    "buffer",
    "end",
    "past end",
    "below",
    "high word",
  ),
  len: fc.constantFrom(16, 16, 1, 64, 0, 0xffff_ffff),
  flags: fc.constantFrom(NEXT, NEXT, NEXT | WRITE, NEXT | WRITE, 0, WRITE),
  next: fc.oneof(
    fc.constant<"following">("following"),
    fc.integer({ min: 0, max: 7 }),
    fc.constant(0xffff),
  ),
});
const TABLES = fc.tuple(
  fc.integer({ min: 0, max: 7 }),
  fc.array(RANDOM_DESC, { minLength: 8, maxLength: 8 }),
);
const inRam = (addr: number, len: number) =>
  addr >= RING_RAM_BASE && addr <= END && len <= END - addr;

/** Every rule the chain at `head` breaks, walking it once (the ids a refusal may cite). */
function rulesBroken(
  descs: readonly (RawDescriptor & { addr: number })[],
  head: number,
): RequirementId[] {
  const ids = new Set<RequirementId>();
  const seen = new Set<number>();
  let total = 0;
  let writing = false;
  for (let i = head;;) {
    if (seen.has(i)) {
      ids.add("2.7.5.3.1/3").add("2.7.5.2/1"); // a loop: too many descriptors, and bytes
      break;
    }
    seen.add(i);
    const d = descs[i];
    if (d.len === 0) ids.add("2.7.5/D3");
    if ((total += d.len) > 2 ** 32) ids.add("2.7.5.2/1");
    if (d.flags & WRITE) writing = true;
    else if (writing) ids.add("2.7.4.2/1");
    if (!inRam(d.addr, d.len)) ids.add("2.7.5/D2");
    if (!(d.flags & NEXT)) break;
    if (d.next! >= descs.length) {
      ids.add("2.7.5/D1");
      break;
    }
    i = d.next!;
  }
  return [...ids];
}
interface RandomPop extends HostilePop {
  readonly rules: readonly RequirementId[];
}
function tableRun(walk: Partial<Impl>, head: number, table: RandomDesc[]): RandomPop {
  let rules: RequirementId[] = [];
  const c: HostileChain = {
    name: `a random table, head ${head}`,
    topic: "chain",
    rule: "2.7.4.1/1",
    fixture: { ramSize: RAM },
    build: (f) => {
      const descs = table.map((d, i) => {
        const addr = d.place === "buffer" || d.place === "high word"
          ? b(f, 64) + (d.place === "high word" ? 2 ** 32 : 0)
          : d.place === "below"
          ? RING_RAM_BASE - 8
          : END - d.len + (d.place === "end" ? 0 : 1);
        return { addr, len: d.len, flags: d.flags, next: d.next === "following" ? i + 1 : d.next };
      });
      descs.forEach((d, i) =>
        f.writeDescriptor(i, {
          ...d,
          addr: d.addr < 0 ? BigInt.asUintN(64, BigInt(d.addr)) : d.addr,
        })
      );
      f.makeAvailable(head);
      rules = rulesBroken(descs, head);
    },
  };
  const o = popHostileChain(c, walk);
  return { ...o, rules };
}
const totals = (c: DescriptorChain) =>
  `the chain ${
    show.chain(c)
  } with readableLength ${c.readableLength}, writableLength ${c.writableLength}`;
const random = ruleFor<Impl, TableCase, RandomPop>({
  run: (impl, head, table) => tableRun(mine(impl), head, table),
  reference: (head, table) => tableRun({}, head, table),
  key: (head, table) => JSON.stringify([head, table]),
  show: (head, table) =>
    `walkChain on the table [${
      table.map((d, i) =>
        `${i}: ${d.place} len ${d.len} ${show.descFlags(d.flags)}${
          d.flags & NEXT ? ` next ${d.next === "following" ? i + 1 : d.next}` : ""
        }`
      ).join("; ")
    }] from head ${head}`,
  result: (o) =>
    `${o.chains.length ? `took ${o.chains.map(totals).join("; ")}` : pop.result(o)}${
      o.rules.length ? ` (the chain breaks ${o.rules.join(", ")})` : ""
    }`,
  verb: "and the device",
});

export const grader = defineGrader<Impl>({
  lesson: "device-pop",
  checks: [
    // One row per rule: loops, next beyond the table, zero length, readable after writable,
    // arrangements, RAM edges, more than 2^32 bytes.
    ...hostileChainRows(pop, { cases: CHAINS, hint: 2 }),
    row({
      name: "an indirect descriptor ends the walk, handed over as read",
      requirement: "2.7.5.3.2/2",
      hint: 3,
      cases: cases(HANDOFF),
      verdict: hostileVerdict,
      agrees: exactly,
      why: "the walk to stop at the indirect descriptor and record it in ring.indirectDesc " +
        "(index, addr, len, flags as read), so that the table step refuses or finishes it",
      cites: (want) => want.reported[0],
    }),
    row({
      name: "a refused chain breaks the queue",
      requirement: "2.1.2/3",
      hint: 3,
      cases: cases(CHAINS.filter((c) => !c.accepted)),
      verdict: (o) => ({ broken: o.broken !== null, misbehaved: hostileVerdict(o).misbehaved }),
      why: "the rule reported and the ring broken (breakDeviceRing): the transport then sets " +
        "DEVICE_NEEDS_RESET, and nothing more is taken from the queue",
    }),
    row({
      name: "the device never writes the descriptor table",
      requirement: "2.7.5.1/2",
      cases: cases([...CHAINS, ...HANDOFF]),
      verdict: (o) => o.ringStores,
      why: "no store into the descriptor table or the available ring, whatever the chain (a " +
        "bytes() view of them counts as one: read descriptors through the accessors)",
    }),
    fetched({
      name: "each descriptor is read once: a field rewritten after its first read changes nothing",
      requirement: "2.7.5/D2",
      hint: 4,
      cases: every([["len", 1, 0xffff_ffff], ["len", 1, 0], ["len", 0, 0], ["addr", 2, 2 ** 40]]),
      verdict: (o) => ({ ...hostileVerdict(o), once: o.mostReads <= 1 }),
      why: "the chain as its descriptors read the first time, each field read once",
      note: () => BHYVE,
    }),
    random({
      name: "random tables: the reference's chains taken, every refusal citing a rule broken",
      requirement: "2.7.4.1/1",
      hint: 3,
      cases: sample(TABLES, { seed: 0x90b, runs: 300 }),
      verdict: (o) => ({
        ...hostileVerdict(o),
        rules: o.rules,
        totals: o.chains.map(totals),
        broken: o.broken !== null,
      }),
      agrees: (got, want) =>
        !got.misbehaved && JSON.stringify(got.totals) === JSON.stringify(want.totals) &&
        (want.id === null
          ? got.id === null
          : got.id !== null && want.rules.includes(got.id) && got.broken),
      why:
        "the same chain as the reference, with the same totals, or a refusal citing one of the " +
        "rules the chain breaks, and the queue broken",
      cites: (want) => want.reported[0],
    }),
    machineCheck<Impl>({
      id: "device-pop",
      requirement: "2.7.4.1/1",
      hint: 4,
      expects: "the lab machine, with every chain of both devices walked by your walkChain on a " +
        "strict log, to carry console and disk traffic: every chain the driver builds is taken",
      lesson,
    }),
  ],
});
