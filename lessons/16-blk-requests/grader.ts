/**
 * The grader of "virtio-blk requests".
 *
 * Device side: `parseBlockRequest` on a corpus of request chains, each laid
 * out in RAM by the kit (`kit/blk.ts`) and breaking at most one rule: headers
 * cut 1 + 15 and into sixteen pieces (Firecracker #1560), no status byte
 * (Cloud Hypervisor #8401), buffers outside RAM (Firecracker PR #1982), data
 * the wrong way, partial sectors, sectors past the capacity and near 2^64,
 * OUT on a read-only disk, GET_ID of 19, 20 and 21 bytes, flushes with a
 * sector or data, unknown and high-bit types, and the segment limits; one
 * row per rule. `completeBlockRequest` on chains whose status shares a
 * buffer with data, with and without a filled prefix and with a buffer
 * outside RAM: the status byte, the zeroed data, the used `len`, no stray
 * store. Driver side: `buildBlockRequest` byte-exact for every type, sectors
 * above 2^32 and 2^53, reused lists; `finishBlockRequest` over every type,
 * status and used `len` at the edge. Last, the lab machine on all four.
 *
 * @module
 */

import { defineGrader } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { ConformanceLog } from "../../conformance/log.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { readChain } from "../../virtqueue/chain.ts";
import {
  buildBlockRequest as refBuild,
  completeBlockRequest as refComplete,
  emptyBlockRequest,
  finishBlockRequest as refFinish,
  parseBlockRequest as refParse,
} from "../../devices/blk/request.ts";
import { blkStatusName } from "../../devices/blk/constants.ts";
import * as show from "../kit/format.ts";
import { attempt, every, ruleFor, thrownFields } from "../kit/rules.ts";
import {
  BLK_RAM_BASE,
  REQUEST_CASES,
  type RequestCase as ParseCase,
  requestFixture,
  type RequestShape,
  snapshot,
  strayStores,
} from "../kit/blk.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

// ------------------------------------------------------------ parseBlockRequest

/** What a parse did, in the terms of the contract's tables. */
interface Parsed {
  readonly op: string;
  readonly status?: string;
  readonly complete?: boolean;
  readonly id?: string | null;
  readonly violation?: string | null;
  readonly type?: number;
  readonly sector?: number;
  readonly offset?: number;
  readonly length?: number;
  readonly warnings?: number;
  /** Ids reported, in order. */
  readonly reported: readonly string[];
}

function parse(part: Impl["parseBlockRequest"], c: ParseCase): Parsed {
  const f = requestFixture(c);
  const log = new ConformanceLog();
  const disk = { capacity: c.capacity ?? 64, readOnly: c.readOnly ?? false, ...c.limits };
  const o = attempt(() =>
    part(f.memory, f.chain, disk, log.scoped("queue 0"), emptyBlockRequest(), readChain)
  );
  const reported = log.entries.map((v) => v.id);
  if (!("returned" in o)) return { op: `threw ${show.value(thrownFields(o).name)}`, reported };
  const r = o.returned;
  if (r.op === "reject") {
    return {
      op: "reject",
      status: blkStatusName(r.status),
      complete: r.complete,
      id: r.id,
      violation: r.violation?.id ?? null,
      type: r.type,
      reported,
    };
  }
  return {
    op: r.op,
    type: r.type,
    sector: r.sector,
    offset: r.offset,
    length: r.length,
    warnings: r.warnings,
    reported,
  };
}

const parses = ruleFor<Impl, [ParseCase], Parsed>({
  run: (impl, c) => parse(impl.parseBlockRequest, c),
  reference: (c) => parse(refParse, c),
  key: (c) => c.name,
  show: (c) => `parseBlockRequest on ${c.name}`,
  result: (r) =>
    r.op === "reject"
      ? `a rejection { status: ${r.status}, complete: ${r.complete}, id: ${
        show.value(r.id)
      }, violation: ${show.value(r.violation)}, type: ${r.type} }` + reported(r)
      : r.op.startsWith("threw")
      ? r.op
      : `{ op: ${show.value(r.op)}, type: ${r.type}, sector: ${r.sector}, offset: ${r.offset}, ` +
        `length: ${r.length}, warnings: ${r.warnings} }` + reported(r),
}, { cases: every(REQUEST_CASES.map((c) => [c] as [ParseCase])), hint: 2 });

const reported = (r: Parsed) =>
  r.reported.length ? `, reporting ${r.reported.join(", ")}` : ", reporting nothing";

/** The decision: what is done with the chain and what is reported (the type has its own row). */
const decision = (r: Parsed) => ({ ...r, type: undefined });
const on = (...topics: ParseCase["topic"][]) => (c: ParseCase) => topics.includes(c.topic);

// ------------------------------------------------------------ completeBlockRequest

interface CompleteCase {
  readonly name: string;
  readonly writable: readonly number[];
  readonly status: number;
  readonly filled: number;
  readonly outside?: number;
}

const COMPLETES: readonly CompleteCase[] = [
  { name: "a flush: the status byte alone", writable: [1], status: 0, filled: 0 },
  { name: "a read of 512 bytes, data then status", writable: [512, 1], status: 0, filled: 512 },
  { name: "a failed read, data and status in one buffer", writable: [513], status: 1, filled: 0 },
  { name: "a read cut 256 + 257, status after data", writable: [256, 257], status: 0, filled: 512 },
  {
    name: "a read cut 100 + 413, failed after 100 bytes",
    writable: [100, 413],
    status: 1,
    filled: 100,
  },
  { name: "a GET_ID: 20 bytes, then the status", writable: [20, 1], status: 0, filled: 20 },
  { name: "an unsupported type with a 64-byte buffer", writable: [64, 1], status: 2, filled: 0 },
  {
    name: "a read whose first data buffer is outside RAM",
    writable: [512, 1],
    status: 1,
    filled: 0,
    outside: 0,
  },
  {
    name: "a read whose second data buffer is outside RAM",
    writable: [256, 256, 1],
    status: 1,
    filled: 0,
    outside: 1,
  },
];

interface Completed {
  readonly threw?: string;
  readonly len?: unknown;
  readonly status?: number;
  /** Data bytes in [0, filled) changed, and data bytes in [filled, data end) not zero. */
  readonly changedFilled?: number;
  readonly notZeroed?: number;
  readonly strays?: readonly string[];
}

function complete(part: Impl["completeBlockRequest"], c: CompleteCase): Completed {
  const shape: RequestShape = {
    type: 0,
    sector: 0n,
    readable: [16],
    writable: c.writable,
    outside: c.outside === undefined ? undefined : ["writable", c.outside],
  };
  const f = requestFixture(shape, 3);
  const before = snapshot(f.memory);
  const o = attempt(() => part(f.memory, f.chain, c.status, c.filled));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const inRam = f.chain.writable.filter((s) => f.memory.contains(s.addr, s.len));
  const last = f.chain.writable[f.chain.writable.length - 1];
  let changedFilled = 0;
  let notZeroed = 0;
  let at = 0;
  const dataEnd = f.chain.writableLength - 1;
  for (const s of f.chain.writable) {
    if (f.memory.contains(s.addr, s.len)) {
      for (let i = 0; i < s.len && at + i < dataEnd; i++) {
        const now = f.memory.readU8(s.addr + i);
        if (at + i < c.filled) changedFilled += now === before[s.addr + i - BLK_RAM_BASE] ? 0 : 1;
        else notZeroed += now === 0 ? 0 : 1;
      }
    }
    at += s.len;
  }
  return {
    len: o.returned,
    status: f.memory.readU8(last.addr + last.len - 1),
    changedFilled,
    notZeroed,
    strays: strayStores(f.memory, before, inRam),
  };
}

const completes = ruleFor<Impl, [CompleteCase], Completed>({
  run: (impl, c) => complete(impl.completeBlockRequest, c),
  reference: (c) => complete(refComplete, c),
  key: (c) => c.name,
  show: (c) =>
    `completeBlockRequest(memory, chain, ${c.status}, ${c.filled}) on ${c.name} (writable ${
      c.writable.join(" + ")
    })`,
  result: (r) =>
    r.threw
      ? `threw ${r.threw}`
      : `returned ${show.value(r.len)}, the last writable byte ${r.status}, ${r.changedFilled} ` +
        `filled byte(s) changed, ${r.notZeroed} other data byte(s) not zeroed, ` +
        (r.strays?.length
          ? `stores outside the writable buffers at ${r.strays.join(", ")}`
          : "no stray store"),
}, { cases: every(COMPLETES.map((c) => [c] as [CompleteCase])), hint: 3 });

// ------------------------------------------------------------ buildBlockRequest

interface BuildCase {
  readonly name: string;
  readonly type: number;
  readonly sector: number | bigint;
  readonly data: readonly number[];
  /** Entries already in the lists passed in. */
  readonly stale?: number;
}

const BUILDS: readonly BuildCase[] = [
  { name: "an IN of one sector at sector 42", type: 0, sector: 42, data: [512] },
  { name: "an IN of 3 segments", type: 0, sector: 7, data: [4096, 4096, 512] },
  {
    name: "an OUT of 2 segments above sector 2^32",
    type: 1,
    sector: 2 ** 32 + 7,
    data: [512, 1024],
  },
  { name: "a FLUSH", type: 4, sector: 0, data: [] },
  { name: "a GET_ID", type: 8, sector: 0, data: [20] },
  { name: "an IN at sector 2^53 - 1", type: 0, sector: 2 ** 53 - 1, data: [512] },
  { name: "an OUT at sector 2^63 + 5 (a bigint)", type: 1, sector: 2n ** 63n + 5n, data: [512] },
  { name: "an IN into lists that held 5 entries", type: 0, sector: 3, data: [512], stale: 5 },
  { name: "an OUT into lists that held 5 entries", type: 1, sector: 9, data: [512, 512], stale: 5 },
];

interface Built {
  readonly threw?: string;
  readonly header?: string;
  readonly status?: number;
  readonly readable?: string;
  readonly writable?: string;
  readonly strays?: readonly string[];
}

function build(part: Impl["buildBlockRequest"], c: BuildCase): Built {
  const f = requestFixture({ type: 0, sector: 0n, readable: [16], writable: [...c.data, 1] });
  f.memory.fill(f.chain.readable[0].addr, 16, 0xee); // a header buffer holding an old request
  f.memory.writeU8(f.chain.writable.at(-1)!.addr, 0); // an old OK
  const header = f.chain.readable[0];
  const status = { addr: f.chain.writable.at(-1)!.addr, len: 1 };
  const data = f.chain.writable.slice(0, -1).map((s) => ({ ...s }));
  const old = (n: number): BufferSegment[] =>
    Array.from({ length: n }, (_, i) => ({ addr: BLK_RAM_BASE + i, len: 99 }));
  const lists = { readable: old(c.stale ?? 0), writable: old(c.stale ?? 0) };
  const before = snapshot(f.memory);
  const request = { type: c.type, sector: c.sector, header, status, data };
  const o = attempt(() => part(f.memory, request, c.stale === undefined ? undefined : lists));
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const list = (l: unknown) =>
    Array.isArray(l) ? show.segments(l, 12) : `not a list (${show.value(l)})`;
  return {
    header: [...f.memory.bytes(header.addr, 16)].map((b) => b.toString(16).padStart(2, "0"))
      .join(" "),
    status: f.memory.readU8(status.addr),
    readable: list(o.returned?.readable),
    writable: list(o.returned?.writable),
    strays: strayStores(f.memory, before, [header, status]),
  };
}

const builds = ruleFor<Impl, [BuildCase], Built>({
  run: (impl, c) => build(impl.buildBlockRequest, c),
  reference: (c) => build(refBuild, c),
  key: (c) => c.name,
  show: (c) => `buildBlockRequest for ${c.name}${c.stale ? "" : " (no lists passed)"}`,
  verb: "left",
  result: (r) =>
    r.threw
      ? `threw ${r.threw}`
      : `header ${r.header}, status byte ${show.byte(r.status!)}, readable ${r.readable}, ` +
        `writable ${r.writable}` + (r.strays?.length ? `, stores at ${r.strays.join(", ")}` : ""),
}, { cases: every(BUILDS.map((c) => [c] as [BuildCase])), hint: 3 });

// ------------------------------------------------------------ finishBlockRequest

const TYPES = [0, 1, 4, 8] as const;
const FINISHES: [number, number, number][] = [];
for (const type of TYPES) {
  for (const status of [0, 1, 2, 0x7f, 0xff]) {
    for (const lenDelta of [0, -1, 5]) FINISHES.push([type, status, lenDelta]);
  }
  FINISHES.push([type, 0, -Infinity]);
}

function finish(part: Impl["finishBlockRequest"], type: number, status: number, lenDelta: number) {
  const data = type === 4 ? [] : type === 8 ? [20] : [1024];
  const f = requestFixture({ type, sector: 0n, readable: [16], writable: [...data, 1] });
  const st = f.chain.writable.at(-1)!;
  f.memory.writeU8(st.addr, status);
  const needed = type === 0 || type === 8 ? data[0] + 1 : 1;
  const usedLen = lenDelta === -Infinity ? 0 : needed + lenDelta;
  const segs = f.chain.writable.slice(0, -1);
  const request = {
    type,
    sector: type === 0 || type === 1 ? 2 ** 40 + 3 : 0,
    header: f.chain.readable[0],
    status: { addr: st.addr, len: 1 },
    data: segs,
  };
  const o = attempt(() => part(f.memory, request, usedLen));
  if (!("returned" in o)) return { usedLen, result: `threw ${String(thrownFields(o).name)}` };
  const e = o.returned as unknown;
  if (e === null) return { usedLen, result: "null" };
  const x = e as Record<string, unknown>;
  return {
    usedLen,
    result: `${x?.constructor?.name ?? typeof e} { type: ${show.value(x.type)}, sector: ${
      show.value(x.sector)
    }, count: ${show.value(x.count)}, status: ${show.value(x.status)} }`,
    status: x.status,
  };
}

const finishes = ruleFor<Impl, [number, number, number], ReturnType<typeof finish>>({
  run: (impl, t, s, d) => finish(impl.finishBlockRequest, t, s, d),
  reference: (t, s, d) => finish(refFinish, t, s, d),
  key: (t, s, d) => `${t}/${s}/${d}`,
  show: (t, s, d) =>
    `finishBlockRequest on a type-${t} request whose status byte reads ${s}, used len ${
      d === -Infinity
        ? 0
        : d === 0
        ? "exactly to the status"
        : d < 0
        ? "one short of the status"
        : "5 past it"
    }`,
  result: (r) => `returned ${r.result}`,
}, { cases: every(FINISHES), hint: 3 });

const reaches = (t: number, _s: number, d: number) => d >= 0 && TYPES.includes(t as 0);

export const grader = defineGrader<Impl>({
  lesson: "blk-requests",
  checks: [
    // --------------------------------------------------- device: parse
    parses({
      name: "a header cut across buffers is read as one",
      requirement: "2.7.4.1/1",
      when: on("split"),
      verdict: decision,
      why: "the same request as with the header in one buffer: any split is valid",
      note: () =>
        "Case file: Firecracker issue #1560 refused valid chains laid out other than it " +
        "expected, and the guest's file system was corrupted.",
    }),
    parses({
      name: "the header's type and sector decide the request",
      requirement: "5.2.6/D1",
      when: on("valid", "unsupp", "short"),
      verdict: decision,
      why: "le32 type at 0 and le64 sector at 8; offset sector × 512; fewer than 16 readable " +
        "bytes IOERR; an unknown type UNSUPP, reported as nothing",
    }),
    parses({
      name: "a chain with no status byte is never completed",
      requirement: "5.2.6/D2",
      when: on("status"),
      verdict: decision,
      why: "a rejection with complete: false, reported as 5.2.6/D2",
      note: () =>
        "Case file: Cloud Hypervisor PR #8401: a head-only chain was never returned; here it " +
        "is kept and the device asks for a reset, since no status can be written.",
    }),
    parses({
      name: "a buffer outside guest RAM is refused, never dereferenced",
      requirement: "2.7.5/D2",
      when: on("ram"),
      verdict: decision,
      why: "IOERR and 2.7.5/D2, with complete: false when it is the status buffer",
      note: () => "Firecracker PR #1982: unvalidated data and status addresses were unwrapped.",
    }),
    parses({
      name: "data goes the way the type says",
      requirement: "5.2.6/D3",
      when: on("direction"),
      verdict: decision,
      why: "IN and GET_ID data device-writable, OUT data device-readable: else IOERR",
    }),
    parses({
      name: "IN and OUT move whole sectors",
      requirement: "5.2.6.1/5",
      when: on("length"),
      verdict: decision,
      why: "data bytes a multiple of 512, else IOERR",
    }),
    parses({
      name: "a request past the capacity is refused, however large its sector",
      requirement: "5.2.6.1/1",
      when: on("capacity"),
      verdict: decision,
      why: "sector + sectors at most capacity, computed without a 64-bit wrap: else IOERR; a " +
        "request ending on the last sector is served",
    }),
    parses({
      name: "a write to a read-only disk fails, and it is no violation",
      requirement: "5.2.6.2/1",
      when: on("readonly"),
      verdict: decision,
      why: "OUT with readOnly: IOERR, id 5.2.6.2/1, violation null, nothing reported; IN served",
    }),
    parses({
      name: "GET_ID takes exactly 20 bytes",
      requirement: "5.2.6.1/7",
      when: on("getid"),
      verdict: decision,
      why: "fewer than 20: IOERR; more: served, reported 5.2.6.1/7, counted in warnings",
    }),
    parses({
      name: "a flush is served, its sector and data reported",
      requirement: "5.2.6.1/3",
      when: on("flush"),
      verdict: decision,
      why: "op flush, offset and length 0; sector not 0 reports 5.2.6.1/3, data 5.2.6.1/4",
    }),
    parses({
      name: "data past seg_max or size_max is reported and served",
      requirement: "5.2.3/D1",
      when: on("limits"),
      verdict: decision,
      why: "more data buffers than segMax, or one with more than sizeMax data bytes: 5.2.3/D1, " +
        "warnings 1, served",
    }),
    parses({
      name: "a rejection carries the header's type",
      requirement: "5.2.6/D1",
      verdict: (r) => (r.op === "reject" ? r.type : "accepted"),
      why: "type as read from the header; -1 when the header was not read",
    }),
    // --------------------------------------------------- device: complete
    completes({
      name: "the status goes in the last writable byte",
      requirement: "5.2.6/D2",
      verdict: (r) => r.threw ?? r.status,
      why: "the status in the last byte of the last writable buffer, wherever the data ends",
    }),
    completes({
      name: "data past the filled bytes is zeroed, the filled bytes kept",
      requirement: "2.7.8.2/2",
      verdict: (r) => r.threw ?? { changed: r.changedFilled, notZeroed: r.notZeroed },
      why: "bytes [0, filled) as the backend wrote them, every other data byte 0",
    }),
    completes({
      name: "the used len counts the bytes written",
      requirement: "2.7.8.2/2",
      verdict: (r) => r.threw ?? r.len,
      why: "all writable bytes, or those before the first buffer outside RAM",
    }),
    completes({
      name: "completing stores only into the writable buffers",
      requirement: "2.7.5.1/1",
      verdict: (r) => r.threw ?? r.strays,
      why: "no store into the header, the readable buffers or around the chain",
    }),
    // --------------------------------------------------- driver: build
    builds({
      name: "the header is laid out byte-exact",
      requirement: "5.2.6/D1",
      verdict: (r) => r.threw ?? { header: r.header, strays: r.strays },
      why: "le32 type, le32 reserved 0, le64 sector (exact above 2^53 as a bigint); no other " +
        "store but the status byte",
    }),
    builds({
      name: "the status byte reads 0xff until the device writes it",
      requirement: "5.2.6/D2",
      verdict: (r) => r.threw ?? r.status,
      why: "VIRTIO_BLK_S_UNSET (0xff) in the status byte",
    }),
    builds({
      name: "the chain lists header, data the way the type says, then status",
      requirement: "5.2.6/D3",
      when: (c) => c.stale === undefined,
      verdict: (r) => r.threw ?? [r.readable, r.writable],
      why: "readable: header (+ OUT data); writable: IN or GET_ID data, then status",
    }),
    builds({
      name: "reused lists hold this request only",
      requirement: "2.7.4.2/1",
      when: (c) => c.stale !== undefined,
      verdict: (r) => r.threw ?? [r.readable, r.writable],
      why: "the lists emptied of old entries, then filled: exactly this chain",
    }),
    // --------------------------------------------------- driver: finish
    finishes({
      name: "OK is success, any other status an error with that status",
      requirement: "5.2.6/D2",
      when: reaches,
      verdict: (r) => r.result === "null" ? "null" : r.status ?? r.result,
      why: "null for VIRTIO_BLK_S_OK (0); a BlockIoError whose status is the byte otherwise",
    }),
    finishes({
      name: "a status the used len does not reach is not trusted",
      requirement: "2.7.8.3/1",
      when: (t, s, d) => !reaches(t, s, d),
      verdict: (r) => r.status ?? r.result,
      why: "a BlockIoError with status -1, whatever the status byte says",
    }),
    finishes({
      name: "the error names the request: type, sector, sectors",
      requirement: "5.2.6/D1",
      verdict: (r) => r.result,
      why: "BlockIoError with the request's type, its sector as a bigint, count data/512 for " +
        "IN and OUT, 0 otherwise",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "blk-requests",
      name: "your requests run the lab machine's disk",
      requirement: "5.2.6/D2",
      hint: 4,
      expects: "the lab machine, on your four functions and a strict log, to read its whole " +
        "disk with the right SHA-256 and write sectors that land",
      lesson,
      timeoutMs: 1500,
    }),
  ],
});
