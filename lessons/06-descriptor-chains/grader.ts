/**
 * The grader of lesson 6, "Descriptors, chains and the free list".
 *
 * Driver side: `addChain` on rings in many states (fresh, a shuffled free
 * list, nearly full, Queue Size 1, RAM above 4 GiB), compared with the
 * reference descriptor by descriptor and field by field of the record, and
 * on every refusal of the contract at its edge; `detachChain` on chains of
 * every length, after a device scribbled over the table, and with a
 * `freeTable` that places a new chain at the freed head; then random runs of
 * adds and frees, each part also mixed with the reference's other one.
 * Device side: `readChain` and `writeChain` on streams cut every way, at
 * every offset, next to bytes they must not touch. Last, a ring of all four
 * carries bytes both ways, and the lab machine runs on the driver parts.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { addChain } from "../../virtqueue/driver/add.ts";
import { detachChain } from "../../virtqueue/driver/detach.ts";
import { HEAD_ADDED } from "../../virtqueue/driver/ring.ts";
import { readChain, writeChain } from "../../virtqueue/chain.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import * as show from "../kit/format.ts";
import { attempt, every, type Outcome, ruleFor, sample } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import { ringFixture } from "../kit/ring.ts";
import {
  type AddFreeOp,
  addFreeOps,
  addFreeRun,
  type ChainFreeing,
  type ChainPlacement,
  describeStage,
  driverRingStage,
  freeChain,
  type FreeingCase,
  placeChain,
  type PlacementCase,
  showAddFreeOp,
  showCaseBuffers,
  showFreeing,
  showPlacement,
} from "../kit/shadow.ts";
import { type StreamCase, streamCases, type StreamRun, streamSubject } from "../kit/stream.ts";

type Impl = typeof Exercise;
const MiB = 2 ** 20;

// ------------------------------------------------------------ addChain

interface AddCase extends PlacementCase {
  fair?: (string | null)[]; // other rules a refusal may cite
}
const add = ruleFor<Impl, [AddCase], ChainPlacement>({
  run: (impl, c) => placeChain(impl.addChain, c),
  reference: (c) => placeChain(addChain, c),
  show: (c) =>
    `addChain(ring, [${showCaseBuffers(c.r)}], [${showCaseBuffers(c.w)}], token) on ` +
    (c.on ?? describeStage(c)),
  result: showPlacement,
}, { hint: 2 });
const adds = (list: AddCase[]) => every(list.map((c) => [c] as [AddCase]));
const PLACED: AddCase[] = [
  { on: "a fresh ring of 8", r: [16], w: [] },
  { on: "a fresh ring of 8 (a block request)", r: [16], w: [512, 1] },
  { on: "a fresh ring of 8 (a receive buffer in two)", r: [], w: [64, 64] },
  { on: "a fresh ring of 8 (a header cut 1 + 7 + 8)", r: [1, 7, 8], w: [] },
  { on: "a shuffled free list", r: [12], w: [100, 1], busy: [2, 1, 3], freed: [2, 0] },
  { on: "a ring with 2 descriptors left", r: [16], w: [1], busy: [3, 3] },
  { on: "a fresh ring of 4, all of it", r: [4, 4], w: [4, 4], size: 4 },
  { on: "a ring of Queue Size 1", r: [], w: [1], size: 1 },
  { on: "a ring in RAM above 4 GiB", r: [16], w: [512], base: 2 ** 32 },
  { on: "a ring, a buffer ending on RAM's last byte", r: [], w: [{ len: 64, at: "end" }] },
];
const refusal = (o: ChainPlacement) => {
  if ("returned" in o.outcome) return { placed: o.outcome.returned, chain: o.chain };
  const { name, rule, segment, needed, free } = (o.outcome.threw ?? {}) as Record<string, unknown>;
  return { error: name, rule, segment, needed, free, stored: o.stored };
};
const refused = (name: string, requirement: RequirementId, list: Partial<AddCase>[]) =>
  add({
    name,
    requirement,
    expects: "a chain that breaks a rule refused before any store with the VirtqueueChainError " +
      "of the contract's table, and one that only does not fit yet with VirtqueueFullError",
    cases: adds(list.map((c) => ({ r: [], w: [], ...c }))),
    verdict: refusal,
    agrees: (got, want, c) => {
      if (!("error" in got) || !("error" in want)) return show.value(got) === show.value(want);
      const fair = got.rule !== want.rule && (c.fair ?? []).includes(got.rule as string | null);
      return got.error === want.error && !got.stored && got.needed === want.needed &&
        got.free === want.free &&
        (fair || (got.rule === want.rule && got.segment === want.segment));
    },
    why: (want) => {
      const v = refusal(want);
      return "error" in v
        ? `the chain refused before any store: ${v.error} (${
          v.error === "VirtqueueFullError"
            ? `needed ${v.needed}, free ${v.free}`
            : `rule ${v.rule}, segment ${v.segment}`
        })`
        : "this chain placed: it breaks no rule";
    },
  });

// ------------------------------------------------------------ detachChain

const detach = ruleFor<Impl, [FreeingCase], ChainFreeing>({
  run: (impl, c) => freeChain(impl.detachChain, c),
  reference: (c) => freeChain(detachChain, c),
  show: (c) => `detachChain(ring, head of chain "busy ${c.take}", freeTable) on ${c.on}`,
  result: showFreeing,
}, { hint: 3 });
const detaches = (list: FreeingCase[]) => every(list.map((c) => [c] as [FreeingCase]));
type Scribble = NonNullable<FreeingCase["scribble"]>;
type Ring = Parameters<Scribble>[0];
const scribbled = (on: string, s: Scribble, take = 0) => ({ on, take, scribble: s, busy: [3, 2] });
/** A device that breaks 2.7.5.1/2: rewrites every descriptor's flags (and next) in the table. */
const rewrite = (flags: number, next?: number) => (ring: Ring) => {
  for (let d = 0, at = ring.descAddr; d < ring.size; d++, at += 16) {
    ring.memory.writeU16(at + 12, flags);
    if (next !== undefined) ring.memory.writeU16(at + 14, next < 0 ? d : next);
  }
};

// ------------------------------------------------------------ the byte stream

const stream = ruleFor(
  streamSubject<Impl>((impl) => ({ read: impl.readChain, write: impl.writeChain })),
  {
    hint: 4,
  },
);
const bytesOf = (o: StreamRun) => ({ outcome: o.outcome, dest: o.dest, stream: o.stream });

/** The device of the byte-carrying ring: reads the chain in pieces, writes each back. */
function echo(impl: Impl, memory: GuestMemory, c: DescriptorChain, piece: number): number {
  const chunk = new Uint8Array(piece);
  let at = 0;
  for (let n = 1, turns = 0; n > 0 && turns <= c.readableLength; turns++, at += Math.max(n, 0)) {
    n = impl.readChain(memory, c.readable, chunk, at);
    if (n > 0) impl.writeChain(memory, c.writable, chunk.subarray(0, n), at);
  }
  return Math.min(at, c.writableLength);
}

export const grader = defineGrader<Impl>({
  lesson: "descriptor-chains",
  checks: [
    // --------------------------------------------------- addChain
    add({
      name: "addChain puts each buffer in a descriptor of its own, in order",
      requirement: "2.7.13.1/D1",
      hint: 1,
      cases: adds(PLACED),
      verdict: (o) => ({ outcome: o.outcome, chain: o.chain, elsewhere: o.elsewhere }),
      why: "the first free descriptors, one per buffer: addr, len, WRITE on the writable ones, " +
        "NEXT and next on all but the last, and no other store",
    }),
    add({
      name: "device-readable buffers come before device-writable ones",
      requirement: "2.7.4.2/1",
      cases: adds(PLACED.filter((c) => c.r.length && c.w.length)),
      verdict: (o) => o.chain.map((d) => (d.flags & 2 ? "writable" : "readable")),
      why: "walking the chain from its head, every device-readable descriptor first",
    }),
    add({
      name: "addChain records the chain in the driver's own record",
      requirement: "2.7.13.1/D2",
      cases: adds(PLACED),
      verdict: (o) => ({ record: o.record, free: o.free }),
      why: "numFree, the free list, inFlight, and at the head state HEAD_ADDED, the token, " +
        "count, writable bytes and NO_INDIRECT_TABLE, as the contract's table says",
      result: (o) => `left ${show.value(o.record)}, the free list ${show.value(o.free)}`,
    }),
    refused("a buffer of length 0 is refused before any store", "2.7.5/D3", [
      { r: [0] },
      { r: [16], w: [512, 0] },
      { r: [] },
      { r: [{ len: 0, at: "below" }], fair: ["2.7.5/D2"] },
    ]),
    refused("a buffer not wholly inside RAM is refused", "2.7.5/D2", [
      { w: [{ len: 64, at: "end" }] },
      { r: [16], w: [{ len: 64, at: "past" }] },
      { r: [{ len: 16, at: "below" }] },
      { r: [16, { len: 16, at: "far" }] },
      { r: [{ len: 0x10000, at: "base" }] },
      { r: [{ len: 0x10001, at: "base" }] },
      { r: [{ len: 2 ** 32, at: "base" }], fair: ["2.7.5/D2"] },
    ]),
    refused("a chain of more than 2^32 bytes is refused", "2.7.5.2/1", [
      { r: Array(1024).fill({ len: 4 * MiB, at: "base" }), size: 2048, ram: 8 * MiB },
      { r: Array(1025).fill({ len: 4 * MiB, at: "base" }), size: 2048, ram: 8 * MiB },
    ]),
    refused("a chain longer than the queue is refused, not waited for", "2.7.5.3.1/3", [
      { r: [1, 1], w: [1, 1], size: 4 },
      { r: [1, 1, 1], w: [1, 1], size: 4 },
      { r: [1, 1, 1, 1, 1], size: 4, busy: [1] },
      { r: [1], w: [1], size: 1 },
    ]),
    refused("a chain that does not fit yet throws VirtqueueFullError", "2.7.13.1/D2", [
      { r: [16], w: [1], busy: [3, 3] },
      { r: [16], w: [8, 1], busy: [3, 3] },
      { r: [16], size: 4, busy: [2, 2] },
    ]),
    // --------------------------------------------------- detachChain
    detach({
      name: "detachChain frees the chain's descriptors and gives its token back",
      requirement: "2.7.13.1/D2",
      cases: detaches([
        { on: "a ring with one chain of 1", busy: [1], take: 0 },
        { on: "a ring with one chain of 3", busy: [3], take: 0 },
        { on: "a full ring of 4, one chain", busy: [4], take: 0, size: 4 },
        { on: "a ring with three chains", busy: [2, 3, 1], take: 1 },
        { on: "a ring with three chains", busy: [2, 3, 1], take: 2 },
        { on: "a ring with a shuffled free list", busy: [2, 2, 3], freed: [0], take: 2 },
        { on: "a ring of Queue Size 1", busy: [1], take: 0, size: 1 },
        { on: "a ring with an indirect chain", busy: [1, 3, 2], indirectAt: 1, take: 1 },
      ]),
      why: "the chain's count descriptors back on the free list, its head HEAD_FREE with no " +
        "token, the rest as it was, and freeTable called for an indirect table only",
    }),
    detach({
      name: "freeing follows the driver's record, not the descriptor table",
      requirement: "2.7.13.1/D2",
      hint: 2,
      cases: detaches([
        scribbled("a table whose NEXT flags the device cleared", rewrite(0)),
        scribbled("a table whose flags and next the device zeroed", rewrite(0, 0), 1),
        scribbled("a table of descriptors the device made loop to themselves", rewrite(1, -1)),
        scribbled("a table where the head's next leads into another chain", (r, h) => {
          r.memory.writeU16(r.descAddr + 16 * h[0] + 14, h[1]);
        }),
      ]),
      why: "the chain freed exactly as it was placed, from the record, whatever the table says now",
      note: () =>
        "Case file: xv6's free_chain and MigTD's recycle_descriptors walked the shared table " +
        "(xv6-riscv aeaf610; intel/MigTD #251, #986).",
    }),
    {
      name: "freeTable comes last: a chain it places at the freed head keeps its record",
      requirement: "2.7.13.1/D2",
      hint: 2,
      expects: "the head's record cleared and its descriptors freed before freeTable runs, " +
        "and nothing touched after it",
      run(impl) {
        const { ring, heads, buffer } = driverRingStage({
          size: 4,
          busy: [1, 1, 1, 1],
          indirectAt: 2,
        });
        let inside: Outcome<number> | undefined;
        const token = impl.detachChain(ring, heads[2], () => {
          inside = attempt(() => addChain(ring, [buffer(16)], [], "new"));
        });
        const o = inside as Outcome<number> | undefined;
        const at = o && "returned" in o ? o.returned : -1;
        const now = { state: ring.state[at], token: ring.tokens[at], numFree: ring.numFree };
        const observed = !o
          ? "freeTable was never called for a chain with an indirect table"
          : "threw" in o
          ? `the addChain inside freeTable ${show.outcome(o)}: the descriptors were not free yet`
          : now.state !== HEAD_ADDED || now.token !== "new" || now.numFree !== 0
          ? `after freeTable placed a chain at head ${at}, detachChain changed ${show.value(now)}`
          : token !== "busy 2"
          ? `detachChain returned ${show.value(token)}, not "busy 2"`
          : null;
        if (observed) {
          fail({
            observed,
            expected: `freeTable called last, once: the addChain inside it takes the freed ` +
              `head ${heads[2]}, and the new chain's record stays (state HEAD_ADDED, token "new")`,
            note: 'Case file: NetBSD virtio.c, "change members of struct vring_desc_extra ' +
              'before free a slot" (netbsd-10 ticket #186).',
          });
        }
      },
    },
    ruleFor<Impl, [AddFreeOp[]], string | null>({
      run: (impl, ops) =>
        addFreeRun(impl.addChain, impl.detachChain, ops) ??
          addFreeRun(impl.addChain, detachChain, ops) ??
          addFreeRun(addChain, impl.detachChain, ops),
      reference: (ops) => addFreeRun(addChain, detachChain, ops),
      show: (ops) =>
        `${ops.length} adds and frees on a ring of 8 (${ops.slice(0, 8).map(showAddFreeOp)}${
          ops.length > 8 ? ", ..." : ""
        })`,
      result: (p) => p ?? "kept the record sound",
      verb: "and,",
    })({
      name: "random adds and frees keep every descriptor in one place",
      requirement: "2.7.13.1/D2",
      hint: 3,
      cases: sample(addFreeOps, { seed: 0x6de5c, runs: 50 }),
      why: "after each step, every descriptor free or in one posted chain, with your parts alone " +
        "and each mixed with the reference's other one",
    }),
    // --------------------------------------------------- the byte stream
    stream({
      name: "readChain reads the stream, however the driver cut it",
      requirement: "2.7.4.1/1",
      cases: every(streamCases("read")),
      verdict: bytesOf,
      why:
        "stream bytes [offset, offset + n) in dest[0..n), the rest of dest as it was, n returned",
    }),
    stream({
      name: "readChain writes nothing to guest memory",
      requirement: "2.7.5.1/1",
      cases: every(streamCases("read")),
      verdict: (o) => o.changed,
      why: "no byte of guest memory changed: the buffers are device-readable",
    }),
    stream({
      name: "writeChain writes the stream, however the driver cut it",
      requirement: "2.7.4.1/1",
      cases: every(streamCases("write")),
      verdict: bytesOf,
      why: "src[0..n) in stream bytes [offset, offset + n), the rest as it was, n returned",
    }),
    stream({
      name: "writeChain stores inside its buffers only",
      requirement: "2.7.5.1/1",
      cases: every(streamCases("write")),
      verdict: (o) => o.outside,
      why: "no byte changed outside the buffers, not even right next to the last one",
    }),
    stream({
      name: "an offset that is not a non-negative integer is refused",
      requirement: "2.7.5.1/1",
      cases: every(
        (["read", "write"] as const).flatMap((m) =>
          [-1, -16, 2.5].map((o) => [m, [8, 8], o, 4] as StreamCase)
        ),
      ),
      verdict: (o) => ({ rangeError: o.rangeError, changed: o.changed }),
      why: "a RangeError, before any byte is read or written",
    }),
    {
      name: "a ring of your four functions carries bytes both ways",
      requirement: "2.7.4.1/1",
      hint: 4,
      expects: "every request's readable bytes, read by a device with your readChain and " +
        "written back with your writeChain, to reach its writable buffers, over chains your " +
        "addChain placed and your detachChain freed",
      run(impl) {
        const parts = { addChain: impl.addChain, detachChain: impl.detachChain };
        const f = ringFixture<number>({ size: 8, startIdx: 0xfff0, driver: parts });
        let x = 0x2545f491;
        const r = (n: number) => ((x ^= x << 13, x ^= x >>> 17, x ^= x << 5) >>> 0) % n;
        const cut = (len: number, fill?: number) => {
          const lens = Array.from({ length: Math.min(len, 1 + r(4)) }, () => 1);
          for (let left = len - lens.length; left > 0; left--) lens[r(lens.length)]++;
          return lens.map((n) => f.buffer(n, fill));
        };
        for (let id = 0; id < 100; id++) {
          const data = Uint8Array.from({ length: 1 + r(300) }, () => r(256));
          const [readable, writable] = [cut(data.length), cut(data.length, 0xee)];
          writeChain(f.memory, readable, data);
          f.driverQueue.add(readable, writable, id);
          f.driverQueue.kickPrepare();
          const chain = f.deviceQueue.pop();
          if (chain) f.deviceQueue.push(chain.head, echo(impl, f.memory, chain, 1 + r(40)));
          const used = f.driverQueue.getBuf();
          const back = new Uint8Array(data.length);
          readChain(f.memory, writable, back);
          const wrong = back.findIndex((b, i) => b !== data[i]);
          if (used?.token === id && used.len === data.length && wrong < 0) continue;
          fail({
            observed: `request ${id} (${data.length} bytes in ${readable.length} buffer(s), ` +
              `back in ${writable.length}): ` + (used?.token !== id
                ? `the driver reaped ${show.value(used)}${
                  f.log.entries[0] ? `, the log holds ${show.violation(f.log.entries[0])}` : ""
                }`
                : `${used.len} bytes came back, the first wrong one at ${wrong}`),
            expected: "each request's bytes to come back whole, into its writable buffers",
          });
        }
      },
    },
    machineCheck<Impl>({
      id: "descriptor-chains",
      requirement: "2.7.13.1/D1",
      hint: 4,
      expects: "the lab machine, with your addChain and detachChain in every driver queue and " +
        "a strict log, to bring both devices up and carry console and disk traffic",
      lesson,
    }),
  ],
});
