/**
 * The grader of "virtio-blk limits".
 *
 * Device side: `blockConfigSpace` on configurations with capacities above
 * 2^32 and at 2^64 - 1, absent fields and values that do not fit: each field
 * at its offset, every other byte 0. `executeBlockRequest` on a scripted
 * backend that settles one call at a time: reads and writes across buffers
 * and sharing the header's, write-through and not, flushes, GET_ID, failing
 * calls; the data, the flushes and when the promise settles. Driver side:
 * `readBlockConfig` with a recording context (which fields it reads under
 * which features, inside the generation loop, capacity in 64 bits, unused0,
 * blk_size); `blockTransferLimits` swept over seg_max, size_max, queue sizes
 * and caps (seg_max 0, size_max near 2^32: Linux fafb51a67fb8);
 * `splitTransfer` on the NetBSD device (size_max 4096, seg_max 32, PR
 * kern/58338) and others. Last, the lab machine on all five.
 *
 * @module
 */

import { type Check, defineGrader, expect } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import type { BlockConfig } from "../../devices/blk/config.ts";
import {
  blockConfigSpace as refSpace,
  readBlockConfig as refRead,
} from "../../devices/blk/config.ts";
import { executeBlockRequest as refExecute } from "../../devices/blk/io.ts";
import {
  type BlockTransferLimits,
  blockTransferLimits as refLimits,
  splitTransfer as refSplit,
} from "../../devices/blk/transfer.ts";
import * as show from "../kit/format.ts";
import { attempt, every, ruleFor, thrownFields } from "../kit/rules.ts";
import {
  CONFIG_CASES,
  type ConfigCase,
  type ConfigRead,
  EXECUTE_CASES,
  type Executed,
  runExecute,
  runReadConfig,
  SPACE_CASES,
} from "../kit/blk_limits.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;
const NETBSD = "Case file: NetBSD's ld@virtio counted the header and the status among seg_max " +
  "and used SEG_MAX × SIZE_MAX as a limit on the whole transfer (PR kern/58338, kern/57981).";
const LINUX = "Linux fafb51a67fb8: a 4 GiB segment size squeezed into 32 bits became 0.";

// ------------------------------------------------------------ blockConfigSpace

const hex = (b: Uint8Array, from: number, to: number) =>
  [...b.subarray(from, to)].map((x) => x.toString(16).padStart(2, "0")).join(" ");

function space(part: Impl["blockConfigSpace"], c: BlockConfig) {
  const o = attempt(() => part(c));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const b = o.returned;
  if (!(b instanceof Uint8Array) || b.length !== 72) {
    return { threw: `not 72 bytes: ${show.value(b)}` };
  }
  const rest = [...b.subarray(24)].some((x) => x !== 0) || [...b.subarray(16, 20)].some((x) => x);
  return { capacity: hex(b, 0, 8), fields: `${hex(b, 8, 16)} | ${hex(b, 20, 24)}`, rest };
}

const spaces = ruleFor<Impl, [BlockConfig], ReturnType<typeof space>>({
  run: (impl, c) => space(impl.blockConfigSpace, c),
  reference: (c) => space(refSpace, c),
  show: (c) => `blockConfigSpace(${show.value(c)})`,
  result: (r) =>
    r.threw ??
      `capacity bytes ${r.capacity}, size_max/seg_max | blk_size bytes ${r.fields}, ${
        r.rest ? "other bytes not all 0" : "every other byte 0"
      }`,
}, { cases: every(SPACE_CASES.map((c) => [c] as [BlockConfig])), hint: 3 });

// ------------------------------------------------------------ executeBlockRequest

/** Every execute case, run once per part and shared by the rows (the grader's own state). */
const executed = new Map<Impl["executeBlockRequest"], Promise<Executed[]>>();
function executeAll(part: Impl["executeBlockRequest"]): Promise<Executed[]> {
  let all = executed.get(part);
  if (!all) {
    all = (async () => {
      const out: Executed[] = [];
      for (const c of EXECUTE_CASES) out.push(await runExecute(part, c));
      return out;
    })();
    executed.set(part, all);
  }
  return all;
}

/** A row over every execute case, run one after another (the subject is asynchronous). */
function executes(row: {
  name: string;
  requirement: RequirementId;
  verdict: (r: Executed) => unknown;
  why: string;
}): Check<Impl> {
  return {
    name: row.name,
    requirement: row.requirement,
    hint: 2,
    expects: row.why,
    async run(impl) {
      const mine = await executeAll(impl.executeBlockRequest);
      const reference = await executeAll(refExecute);
      for (const [i, c] of EXECUTE_CASES.entries()) {
        const [got, want] = [mine[i], reference[i]];
        expect(JSON.stringify(row.verdict(got)) === JSON.stringify(row.verdict(want)), {
          observed: `executeBlockRequest on ${c.name}: ${showExecuted(got)}`,
          expected: `${row.why}: ${showExecuted(want)}`,
        });
      }
    },
  };
}

const showExecuted = (r: Executed) =>
  `${r.outcome}; data ${r.dataRight ? "right" : "wrong"}; ${r.flushes} flush(es)${
    r.flushTooEarly ? ", one before the writes were done" : ""
  }${r.settledEarly ? "; settled while a backend call was pending" : ""}${
    r.unsignalled ? `; ${r.unsignalled} call(s) without options.signal` : ""
  }`;

// ------------------------------------------------------------ readBlockConfig

const reads = ruleFor<Impl, [ConfigCase], ConfigRead>({
  run: (impl, c) => runReadConfig(impl.readBlockConfig, c),
  reference: (c) => runReadConfig(refRead, c),
  key: (c) => c.name,
  show: (c) => `readBlockConfig on a device with ${c.name}`,
  result: (r) =>
    `${r.result.startsWith("threw") ? r.result : `returned ${r.result}`} after reading offsets ${
      r.offsets.join(", ")
    } (${r.outside} read(s) outside readConfigConsistent, called ${r.loops} time(s))` +
    (r.reported.length ? `, reporting ${r.reported.join(", ")}` : ""),
}, { cases: every(CONFIG_CASES.map((c) => [c] as [ConfigCase])), hint: 2 });

// ------------------------------------------------------------ limits and split

type LimitsCase = [segMax: number | null, sizeMax: number | null, queue: number, cap: number];
const LIMITS: LimitsCase[] = [];
for (const segMax of [null, 0, 1, 32, 126, 1000]) {
  for (const sizeMax of [null, 0, 700, 4096, 65536, 0xffff_ffff]) {
    for (const queue of [2, 3, 128]) {
      for (const cap of [256, 1024 * 1024, 2 ** 40]) LIMITS.push([segMax, sizeMax, queue, cap]);
    }
  }
}

function limits(part: Impl["blockTransferLimits"], ...[segMax, sizeMax, queue, cap]: LimitsCase) {
  const o = attempt(() => part({ capacity: 2048n, segMax, sizeMax, blkSize: 512 }, queue, cap));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const { segMax: s, sizeMax: z, maxRequestBytes: m } = o.returned;
  return { segMax: s, sizeMax: z, maxRequestBytes: m };
}

const limitRows = ruleFor<Impl, LimitsCase, ReturnType<typeof limits>>({
  run: (impl, ...c) => limits(impl.blockTransferLimits, ...c),
  reference: (...c) => limits(refLimits, ...c),
  key: (...c) => c.join("/"),
  show: (s, z, q, cap) => `blockTransferLimits({ segMax: ${s}, sizeMax: ${z}, ... }, ${q}, ${cap})`,
  result: (r) => r.threw ? `threw ${r.threw}` : `returned ${show.value(r)}`,
}, { cases: every(LIMITS), hint: 3 });
const fits = (...c: LimitsCase) => !("threw" in limits(refLimits, ...c));

type SplitCase = [name: string, limits: BlockTransferLimits, length: number, stale: number];
const NET: BlockTransferLimits = refLimits(
  { capacity: 1n << 20n, segMax: 32, sizeMax: 4096, blkSize: 512 },
  128,
  1 << 20,
);
const SPLITS: SplitCase[] = [
  ["64 KiB on the NetBSD device (size_max 4096, seg_max 32)", NET, 65536, 0],
  ["1 MiB on the NetBSD device", NET, 1 << 20, 2],
  ["one sector", { segMax: 126, sizeMax: 65536, maxRequestBytes: 1 << 20 }, 512, 3],
  [
    "4 KiB, size_max 700 (not a multiple of 512)",
    { segMax: 3, sizeMax: 700, maxRequestBytes: 2048 },
    4096,
    0,
  ],
  [
    "4 KiB, 2 segments of 700 bytes, a 4 KiB cap",
    { segMax: 2, sizeMax: 700, maxRequestBytes: 4096 },
    4096,
    0,
  ],
  [
    "3 sectors, size_max 512, seg_max 1",
    { segMax: 1, sizeMax: 512, maxRequestBytes: 512 },
    1536,
    0,
  ],
  [
    "5 MiB, no size_max",
    { segMax: 1, sizeMax: 0xffff_ffff, maxRequestBytes: 1280 * 1024 },
    5 << 20,
    0,
  ],
  [
    "192 KiB, 4 segments of 64 KiB",
    { segMax: 4, sizeMax: 65536, maxRequestBytes: 1 << 20 },
    196608,
    5,
  ],
  ["1000 bytes (no whole sector)", NET, 1000, 0],
  ["0 bytes", NET, 0, 0],
];

function split(
  part: Impl["splitTransfer"],
  _n: string,
  l: BlockTransferLimits,
  len: number,
  stale: number,
) {
  const base = 0x4010_0000;
  const segments = Array.from({ length: stale }, () => ({ addr: 1, len: 99 }));
  const o = attempt(() => part(l, base, len, segments));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  return { bytes: o.returned, segments: segments.map((s) => ({ at: s.addr - base, len: s.len })) };
}
const splits = ruleFor<Impl, SplitCase, ReturnType<typeof split>>({
  run: (impl, ...c) => split(impl.splitTransfer, ...c),
  reference: (...c) => split(refSplit, ...c),
  key: (n) => n,
  show: (n, l, len) => `splitTransfer(${show.value(l)}, data, ${len}, segments) for ${n}`,
  result: (r) =>
    r.threw
      ? `threw ${r.threw}`
      : `returned ${r.bytes} with segments ${
        r.segments!.map((s) => `+${s.at}:${s.len}`).join(" ") || "(none)"
      }`,
}, { cases: every(SPLITS), hint: 3 });
const good = (_n: string, _l: BlockTransferLimits, len: number) => len > 0 && len % 512 === 0;

export const grader = defineGrader<Impl>({
  lesson: "blk-limits",
  checks: [
    // --------------------------------------------------- device: configuration space
    spaces({
      name: "capacity is a le64 at offset 0",
      requirement: "5.2.6.1/1",
      when: (c) => !("threw" in space(refSpace, c)),
      verdict: (r) => r.threw ?? r.capacity,
      why: "all 64 bits of capacity, little-endian, in bytes 0-7",
    }),
    spaces({
      name: "size_max, seg_max and blk_size sit at 8, 12 and 20",
      requirement: "5.2.3/D1",
      when: (c) => !("threw" in space(refSpace, c)),
      verdict: (r) => r.threw ?? r.fields,
      why: "le32 fields at 8, 12 and 20; a null field reads 0",
    }),
    spaces({
      name: "every other byte of the configuration reads 0",
      requirement: "5.2.5.2/3",
      verdict: (r) => r.threw ?? r.rest,
      why: "72 bytes; unused0, unused1 and every field not laid out 0",
    }),
    // --------------------------------------------------- device: backend work
    executes({
      name: "reads and writes move exactly the data",
      requirement: "5.2.6/D3",
      verdict: (r) => r.dataRight,
      why: "a read's disk bytes in the writable buffers, a write's bytes after the header on the " +
        "disk at the offset, GET_ID's 20 bytes; nothing else changed",
    }),
    executes({
      name: "without FLUSH negotiated a write is flushed before it completes",
      requirement: "5.2.5.1/2",
      verdict: (r) => ({ flushes: r.flushes, early: r.flushTooEarly }),
      why: "writeThrough: one flush after every write resolved; otherwise no flush for a write; " +
        "a flush request one flush",
    }),
    executes({
      name: "the work settles only when the backend has",
      requirement: "5.2.6.2/9",
      verdict: (r) => ({ outcome: r.outcome, early: r.settledEarly }),
      why: "resolve after every call (and the flush) resolved; reject on a failure, but only " +
        "once every call made has settled",
    }),
    executes({
      name: "every backend call gets the reset signal",
      requirement: "5.2.6.2/9",
      verdict: (r) => r.unsignalled,
      why: "options.signal passed to each read and write",
    }),
    // --------------------------------------------------- driver: configuration
    reads({
      name: "capacity is read as 64 bits",
      requirement: "5.2.6.1/1",
      verdict: (r) => r.result.replace(/ sizeMax.*/, ""),
      why: "both halves of capacity (readConfig64)",
    }),
    reads({
      name: "a field is read only when its feature was negotiated",
      requirement: "2.5.1/1",
      verdict: (r) => ({ result: r.result, offsets: r.offsets }),
      why: "size_max (8), seg_max (12), blk_size (20) read with their feature bits, else null; " +
        "blk_size not a power of two from 512 to 65536 a RangeError",
    }),
    reads({
      name: "every field comes from one configuration generation",
      requirement: "2.5.1/1",
      verdict: (r) => ({ outside: r.outside, loops: r.loops }),
      why: "every read inside a single readConfigConsistent call",
    }),
    reads({
      name: "unused0 not 0 is reported, then ignored",
      requirement: "5.2.5.2/3",
      verdict: (r) => r.reported,
      why: "5.2.5.2/3 reported once when unused0 is not 0, nothing otherwise",
    }),
    // --------------------------------------------------- driver: limits
    limitRows({
      name: "seg_max counts data segments, 0 as 1, within the queue",
      requirement: "2.7.5.3.1/3",
      when: fits,
      verdict: (r) => r.segMax,
      why: "seg_max (1 without it, 1 for 0), at most Queue Size - 2: header and status take two",
      note: () => NETBSD,
    }),
    limitRows({
      name: "size_max defaults to what one descriptor holds",
      requirement: "5.2.3/D1",
      when: fits,
      verdict: (r) => r.sizeMax,
      why: "size_max, or 2^32 - 1 without it or when it is 0",
    }),
    limitRows({
      name: "a request's size is seg_max × size_max, in whole sectors, with no wrap",
      requirement: "5.2.3/D1",
      when: fits,
      verdict: (r) => r.maxRequestBytes,
      why: "min(segMax × sizeMax, maxTransferBytes) rounded down to 512, computed exactly",
      note: (_g, _w, _s, z) => (z === 0xffff_ffff ? LINUX : undefined),
    }),
    limitRows({
      name: "limits no request fits are refused",
      requirement: "2.7.5.3.1/3",
      verdict: (r) => r.threw ?? "returned",
      why: "a RangeError for a queue below 3 descriptors or less than a sector per request",
    }),
    // --------------------------------------------------- driver: split
    splits({
      name: "no segment is longer than size_max, none beyond seg_max",
      requirement: "5.2.3/D1",
      when: good,
      verdict: (r, _n, l) =>
        r.threw ?? (r.segments!.some((s) => s.len > l.sizeMax) || r.segments!.length > l.segMax),
      why: "at most segMax segments, each at most sizeMax bytes",
      note: () => NETBSD,
    }),
    splits({
      name: "a request takes as much as the limits allow, in whole sectors",
      requirement: "5.2.6.1/5",
      when: good,
      verdict: (r) => r.threw ?? r.bytes,
      why: "min(length, maxRequestBytes, segMax × sizeMax) rounded down to a multiple of 512",
    }),
    splits({
      name: "the segments cover the request from the start, in order",
      requirement: "5.2.3/D1",
      when: good,
      verdict: (r) =>
        r.threw ??
          (r.segments!.every((s, i, a) => s.at === (i ? a[i - 1].at + a[i - 1].len : 0)) &&
            r.segments!.reduce((n, s) => n + s.len, 0) === r.bytes),
      why: "segments contiguous from data on, summing to the bytes returned; old entries gone",
    }),
    splits({
      name: "a length that is no whole number of sectors is refused",
      requirement: "5.2.6.1/5",
      when: (n, l, len) => !good(n, l, len),
      verdict: (r) => r.threw ?? "returned",
      why: "a RangeError for 0 bytes or a partial sector",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "blk-limits",
      name: "your limits run the lab machine's disk",
      requirement: "5.2.3/D1",
      hint: 4,
      expects: "the lab machine, on your five functions and a strict log, to read its whole disk " +
        "with the right SHA-256 and write sectors that land",
      lesson,
      timeoutMs: 1500,
    }),
  ],
});
