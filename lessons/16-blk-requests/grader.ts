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
import {
  buildBlockRequest as refBuild,
  completeBlockRequest as refComplete,
  finishBlockRequest as refFinish,
  parseBlockRequest as refParse,
} from "../../devices/blk/request.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { REQUEST_CASES, type RequestCase as ParseCase } from "../kit/blk.ts";
import {
  build,
  type BuildCase,
  BUILDS,
  type Built,
  complete,
  type CompleteCase,
  type Completed,
  COMPLETES,
  finish,
  FINISHES,
  parse,
  type Parsed,
  TYPES,
} from "../kit/blk_requests.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

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
