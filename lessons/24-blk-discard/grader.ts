/**
 * The grader of "virtio-blk discard and write zeroes".
 *
 * Device side: `layoutDiscardConfig` on both commands, one, none, the
 * largest values and limits of 0 (a RangeError); `parseDiscardRequest` on
 * 22 chains, each breaking at most one rule: segments cut across
 * descriptors, a command not negotiated, data the wrong way, no segment or a
 * partial one, one segment too many (cloud-hypervisor PR #7874), unmap on a
 * discard, reserved flags, sectors past the capacity and near 2^64, a
 * segment over the maximum; `executeDiscardRequest` on a backend that
 * records every call and fails one. Driver side: `readDiscardConfig` through
 * a recording context (fields by feature, one generation, limits of 0 as in
 * cloud-hypervisor issue #7849); `splitDiscard` run to the end of eight range
 * lists; `buildDiscardRequest` byte-exact. Last, the lab machine on all six,
 * discarding and zeroing its disk.
 *
 * @module
 */

import { defineGrader } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  type BlockDiscardConfig,
  buildDiscardRequest as refBuild,
  executeDiscardRequest as refExecute,
  layoutDiscardConfig as refLayout,
  parseDiscardRequest as refParse,
  readDiscardConfig as refRead,
  splitDiscard as refSplit,
} from "../../devices/blk/discard.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor } from "../kit/rules.ts";
import {
  BUILD_CASES,
  type BuildCase,
  type Built,
  CONFIG_CASES,
  type DiscardConfigCase,
  type DiscardConfigRead,
  PARSE_CASES,
  type ParseCase,
  type ParsedDiscard,
  runBuild,
  runParse,
  runReadDiscard,
  runSplit,
  type Split,
  SPLIT_CASES,
  type SplitCase,
} from "../kit/blk_discard.ts";
import {
  discardOnTheMachine,
  executeRow,
  type LaidOut,
  LAYOUT_CASES,
  runLayout,
} from "../kit/blk_discard_checks.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;
const CLOUD_HYPERVISOR = "Case file: cloud-hypervisor served the first segment and dropped the " +
  "rest until PR #7874 checked the count against max_discard_seg.";
const ZERO_LIMITS = "cloud-hypervisor issue #7849: a device that offered DISCARD with its limits " +
  "left 0 crashed Windows' viostor driver.";

// ------------------------------------------------------------ layoutDiscardConfig

const layouts = ruleFor<Impl, [BlockDiscardConfig], LaidOut>({
  run: (impl, c) => runLayout(impl.layoutDiscardConfig, c),
  reference: (c) => runLayout(refLayout, c),
  show: (c) => `layoutDiscardConfig(${show.value(c)}, bytes)`,
  result: (r) =>
    r.threw ??
      `bytes 36-47 ${r.discard}, 48-56 ${r.writeZeroes}, ${
        r.rest ? "other bytes changed" : "no other byte changed"
      }`,
}, { cases: every(LAYOUT_CASES.map((c) => [c] as [BlockDiscardConfig])), hint: 3 });
const laidOut = (c: BlockDiscardConfig) => !("threw" in runLayout(refLayout, c));

// ------------------------------------------------------------ parseDiscardRequest

const parses = ruleFor<Impl, [ParseCase], ParsedDiscard>({
  run: (impl, c) => runParse(impl.parseDiscardRequest, c),
  reference: (c) => runParse(refParse, c),
  key: (c) => c.name,
  show: (c) => `parseDiscardRequest on ${c.name}`,
  result: (r) =>
    (r.outcome === "segments"
      ? `${show.value(r.count)} with segments ${show.value(r.segments)}`
      : r.outcome === "reject"
      ? `a rejection { status: ${r.status}, id: ${show.value(r.id)}, violation: ${
        show.value(r.violation)
      }, complete: ${r.complete} }`
      : r.outcome) +
    (r.reported.length ? `, reporting ${r.reported.join(", ")}` : ", reporting nothing"),
}, { cases: every(PARSE_CASES.map((c) => [c] as [ParseCase])), hint: 2 });
const kind = (...kinds: ParseCase["kind"][]) => (c: ParseCase) => kinds.includes(c.kind);

// ------------------------------------------------------------ executeDiscardRequest

const executes = (row: Parameters<typeof executeRow<Impl>>[2]) =>
  executeRow<Impl>((impl) => impl.executeDiscardRequest, refExecute, row);

// ------------------------------------------------------------ readDiscardConfig

const reads = ruleFor<Impl, [DiscardConfigCase], DiscardConfigRead>({
  run: (impl, c) => runReadDiscard(impl.readDiscardConfig, c),
  reference: (c) => runReadDiscard(refRead, c),
  key: (c) => c.name,
  show: (c) => `readDiscardConfig on a device with ${c.name}`,
  result: (r) =>
    `${r.result.startsWith("threw") ? r.result : `returned ${r.result}`} after reading offsets ${
      r.offsets.join(", ") || "none"
    } (${r.outside} read(s) outside readConfigConsistent, called ${r.loops} time(s))` +
    (r.reported.length ? `, reporting ${r.reported.join(", ")}` : ""),
}, { cases: every(CONFIG_CASES.map((c) => [c] as [DiscardConfigCase])), hint: 2 });

// ------------------------------------------------------------ splitDiscard

const showRequests = (r: Split) =>
  r.requests.map((q) => q.map((s) => `${s.sector}+${s.sectors}${s.unmap ? "u" : ""}`).join(" "))
    .join(" | ") || "(no request)";
const splits = ruleFor<Impl, [SplitCase], Split>({
  run: (impl, c) => runSplit(impl.splitDiscard, c),
  reference: (c) => runSplit(refSplit, c),
  key: (c) => c.name,
  show: (c) =>
    `splitDiscard(${show.value(c.limits)}, ${
      show.value(c.ranges)
    }, cursor, segments, ${c.unmap}) ` +
    "called until it returns 0",
  result: (r) =>
    (r.threw ? `threw ${r.threw} after ` : "") +
    `requests ${showRequests(r)} (sector+count, u: unmap) in ${r.calls} call(s)`,
}, { cases: every(SPLIT_CASES.map((c) => [c] as [SplitCase])), hint: 3 });

// ------------------------------------------------------------ buildDiscardRequest

const builds = ruleFor<Impl, [BuildCase], Built>({
  run: (impl, c) => runBuild(impl.buildDiscardRequest, c),
  reference: (c) => runBuild(refBuild, c),
  key: (c) => c.name,
  show: (c) => `buildDiscardRequest for ${c.name}`,
  result: (r) =>
    r.threw
      ? `threw ${r.threw}`
      : `header ${r.header}; table ${r.table || "(empty)"}${
        r.strays ? ` and ${r.strays} byte(s) past it` : ""
      }; status 0x${r.status!.toString(16)}; chain ${r.chain}`,
}, { cases: every(BUILD_CASES.map((c) => [c] as [BuildCase])), hint: 3 });
const builtOk = (c: BuildCase) => !("threw" in runBuild(refBuild, c));

// ------------------------------------------------------------ the machine

export const grader = defineGrader<Impl>({
  lesson: "blk-discard",
  checks: [
    // --------------------------------------------------- device: configuration
    layouts({
      name: "the discard limits sit at 36, 40 and 44",
      requirement: "5.2.4/D1",
      when: laidOut,
      verdict: (r) => r.threw ?? r.discard,
      why: "le32 max_discard_sectors at 36, max_discard_seg at 40, discard_sector_alignment at " +
        "44; a null command leaves its bytes 0",
    }),
    layouts({
      name: "the write zeroes limits sit at 48, 52 and 56",
      requirement: "5.2.6.2/7",
      when: laidOut,
      verdict: (r) => r.threw ?? r.writeZeroes,
      why: "le32 max_write_zeroes_sectors at 48, max_write_zeroes_seg at 52, " +
        "write_zeroes_may_unmap (u8, 1 or 0) at 56",
    }),
    layouts({
      name: "nothing else in the configuration is touched",
      requirement: "5.2.5.2/3",
      verdict: (r) => r.threw ? "threw" : r.rest,
      why: "only bytes 36 to 56 change; unused1 and every other field stay as they were",
    }),
    layouts({
      name: "limits no request fits are refused",
      requirement: "5.2.4/D1",
      verdict: (r) => r.threw ?? "laid out",
      why: "a RangeError for a maximum of 0 sectors or segments, or a value above 2^32 - 1",
    }),
    // --------------------------------------------------- device: parse
    parses({
      name: "every segment is read, wherever the descriptors cut it",
      requirement: "5.2.6.1/6",
      when: kind("valid"),
      why: "the count of segments, each as { sector, sectors, unmap } in order, nothing reported",
    }),
    parses({
      name: "a command that was not negotiated is unsupported",
      requirement: "5.2.6.2/2",
      when: kind("unsupported"),
      why: "a rejection with VIRTIO_BLK_S_UNSUPP, id null, no violation, nothing reported",
    }),
    parses({
      name: "segments are device-readable",
      requirement: "5.2.6/D3",
      when: kind("direction"),
      why: "device-writable bytes before the status byte: IOERR, reported as 5.2.6/D3",
    }),
    parses({
      name: "the data is one or more whole segments",
      requirement: "5.2.6.1/6",
      when: kind("length"),
      why: "no segment or a partial one: IOERR, reported as 5.2.6.1/6",
    }),
    parses({
      name: "no more segments than the command's maximum",
      requirement: "5.2.6.1/8",
      when: kind("count"),
      why: "more than max_discard_seg (5.2.6.1/8) or max_write_zeroes_seg (5.2.6.1/10): IOERR, " +
        "reported",
      note: () => CLOUD_HYPERVISOR,
    }),
    parses({
      name: "unmap on a discard is refused",
      requirement: "5.2.6.1/13",
      when: kind("unmap"),
      why: "VIRTIO_BLK_S_UNSUPP (5.2.6.2/3), id and violation 5.2.6.1/13: the driver broke it",
    }),
    parses({
      name: "a reserved flag is unsupported, not a violation",
      requirement: "5.2.6.2/2",
      when: kind("flags"),
      why: "VIRTIO_BLK_S_UNSUPP with id 5.2.6.2/2 and no violation, nothing reported",
    }),
    parses({
      name: "every segment lies inside the capacity, with no wrap",
      requirement: "5.2.6/D4",
      when: kind("capacity"),
      why: "sector + num_sectors past 1024, computed exactly over all 64 bits: IOERR, reported",
    }),
    parses({
      name: "no segment is longer than the command's maximum",
      requirement: "5.2.6/D5",
      when: kind("sectors"),
      why: "num_sectors above max_discard_sectors or max_write_zeroes_sectors: IOERR, reported",
    }),
    // --------------------------------------------------- device: backend work
    executes({
      name: "each segment goes to the backend once, in order, with its unmap",
      requirement: "5.2.6.2/6",
      verdict: (r) => r.calls.slice(0, r.outcome === "rejected" ? undefined : r.calls.length),
      why: "discard(offset, length) or writeZeroes(offset, length, unmap) per segment, in bytes; " +
        "0-sector segments skipped; nothing after a failed call",
    }),
    executes({
      name: "the work resolves with the sectors deallocated",
      requirement: "5.2.6.2/4",
      verdict: (r) => r.outcome,
      why: "the sum of the sectors whose call resolved true; a rejection once a call rejects",
    }),
    executes({
      name: "every call has the reset signal and is done before the work settles",
      requirement: "5.2.6.2/6",
      verdict: (r) => ({ unsignalled: r.unsignalled, pending: r.pendingAtSettle }),
      why: "options.signal passed to each call; no call still running when the promise settles",
    }),
    // --------------------------------------------------- driver: configuration
    reads({
      name: "a command's limits are read only when its feature was negotiated",
      requirement: "2.5.1/1",
      when: (c) => !c.name.includes(" 0"),
      verdict: (r) => ({ result: r.result, offsets: r.offsets }),
      why: "36, 40, 44 with VIRTIO_BLK_F_DISCARD (13), 48, 52, 56 with VIRTIO_BLK_F_WRITE_ZEROES " +
        "(14); a command without its feature null",
    }),
    reads({
      name: "every limit comes from one configuration generation",
      requirement: "2.5.1/1",
      verdict: (r) => ({
        outside: r.outside,
        oneLoop: r.offsets.length === 0 ? r.loops <= 1 : r.loops === 1,
      }),
      why: "every read inside a single readConfigConsistent call",
    }),
    reads({
      name: "limits of 0 are the device's violation, and the command goes unused",
      requirement: "5.2.4/D1",
      when: (c) => c.name.includes(" 0"),
      verdict: (r) => ({ result: r.result, reported: r.reported }),
      why: "5.2.4/D1 reported once per command whose max sectors or max segments reads 0, and " +
        "that command returned null",
      note: () => ZERO_LIMITS,
    }),
    // --------------------------------------------------- driver: split
    splits({
      name: "a request has at most maxSegments segments and maxSectors sectors",
      requirement: "5.2.6.1/8",
      verdict: (r, c) =>
        r.threw ??
          r.requests.every((q) =>
            q.length >= 1 && q.length <= c.limits.maxSegments &&
            q.reduce((n, s) => n + s.sectors, 0) <= c.limits.maxSectors
          ),
      why: "every request 1 to maxSegments segments, their sectors together at most maxSectors",
    }),
    splits({
      name: "the requests cover the ranges exactly, in order",
      requirement: "5.2.6/D4",
      verdict: (r) =>
        r.threw ?? { requests: showRequests(r), miscounted: r.miscounted, calls: r.calls },
      why: "the ranges' sectors once each, in order, empty ranges skipped, each request as full " +
        "as the limits allow, segments filling the array (its length the count returned)",
    }),
    splits({
      name: "a cut inside a range lands on the alignment",
      requirement: "5.2.5/D1",
      when: (c) => c.limits.alignment > 1,
      verdict: (r) =>
        r.threw ?? r.requests.map((q) => q.map((s) => s.sector + s.sectors).join(" ")).join(" | "),
      why: "a request whose budget ends inside a range ends on a multiple of the alignment when " +
        "that leaves a piece, so the next one starts aligned",
    }),
    // --------------------------------------------------- driver: build
    builds({
      name: "the header is the command's, with sector 0",
      requirement: "5.2.6/D1",
      when: builtOk,
      verdict: (r) => r.header,
      why: "type (le32), reserved 0, sector 0 (unused by these commands)",
    }),
    builds({
      name: "the segments are laid out as struct virtio_blk_discard_write_zeroes",
      requirement: "5.2.6.1/6",
      when: builtOk,
      verdict: (r) => ({ table: r.table, strays: r.strays }),
      why: "per segment le64 sector, le32 num_sectors, le32 flags, 16 bytes each from the " +
        "table's start, nothing past them; unmap set only on a write zeroes that asks for it",
    }),
    builds({
      name: "unmap is never set on a discard",
      requirement: "5.2.6.1/13",
      when: (c) => builtOk(c) && c.type === 11,
      verdict: (r) => r.table,
      why: "a discard's flags are 0, whatever its segments say",
    }),
    builds({
      name: "the chain is header and segments readable, the status writable",
      requirement: "5.2.6/D2",
      when: builtOk,
      verdict: (r) => ({ chain: r.chain, status: r.status }),
      why: "readable [header, the table's first 16 × count bytes], writable [status], the lists " +
        "emptied first; the status byte 0xff (VIRTIO_BLK_S_UNSET)",
    }),
    builds({
      name: "a count the request cannot hold is refused",
      requirement: "5.2.6.1/6",
      when: (c) => !builtOk(c),
      verdict: (r) => r.threw ?? "built",
      why: "a RangeError for count 0, more than the segments given, or a table too short",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "blk-discard",
      name: "your discard and write zeroes run the lab machine's disk",
      requirement: "5.2.6.2/6",
      hint: 4,
      expects: "the lab machine, on your six functions and a strict log, to negotiate both " +
        "commands, discard 22 ranges in 2 requests and zero 2 more, changing exactly those sectors",
      lesson,
      timeoutMs: 1500,
      also: (machine) => discardOnTheMachine(machine),
    }),
  ],
});
