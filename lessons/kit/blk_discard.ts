/**
 * The discard and write zeroes parts on trial: a chain fixture whose
 * segments can be cut across descriptors ({@linkcode runParse}), a backend
 * that records every discard and write zeroes call and can fail one
 * ({@linkcode runExecute}), a configuration reader that records every read
 * and whether it was inside the generation loop ({@linkcode runReadDiscard}),
 * and the cases for each, with those of the driver's split and build.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog } from "../../conformance/log.ts";
import { isNotWrittenYet, isPermissionError } from "../../course/grader.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { features } from "../../virtio/features.ts";
import { readChain } from "../../virtqueue/chain.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import type { BlockBackend } from "../../devices/blk/backends.ts";
import { blkStatusName } from "../../devices/blk/constants.ts";
import type {
  BlockDiscardConfig,
  buildDiscardRequest,
  DiscardDisk,
  DiscardRange,
  DiscardSegment,
  DiscardSplitLimits,
  executeDiscardRequest,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../../devices/blk/discard.ts";
import * as show from "./format.ts";
import { attempt, thrownFields } from "./rules.ts";

export const DISCARD = 11;
export const WRITE_ZEROES = 13;

// ===================================================================== parse

/** One segment as a case writes it into guest memory. */
export interface RawSegment {
  readonly sector: bigint;
  readonly sectors: number;
  readonly flags?: number;
}

/** What a parse case is about: the row that decides it. */
export type ParseKind =
  | "valid"
  | "unsupported"
  | "direction"
  | "length"
  | "count"
  | "unmap"
  | "flags"
  | "capacity"
  | "sectors";

/** One chain for `parseDiscardRequest`, on a 1024-sector disk. */
export interface ParseCase {
  readonly kind: ParseKind;
  readonly name: string;
  readonly type: number;
  readonly segments: readonly RawSegment[];
  /** Readable buffer lengths (the header and the segments cut this way); default one buffer. */
  readonly cuts?: readonly number[];
  /** Writable buffer lengths, the status last (default `[1]`). */
  readonly writable?: readonly number[];
  /** Bytes after the last whole segment (a partial one). */
  readonly extra?: number;
  /** Which commands were negotiated (default both). */
  readonly negotiated?: "both" | "discard" | "write-zeroes";
}

/** The disk the parse cases run on: both commands' limits, negotiated or not. */
export function parseDisk(c: ParseCase): DiscardDisk {
  const n = c.negotiated ?? "both";
  return {
    capacity: 1024,
    discard: n === "write-zeroes" ? null : { maxSectors: 64, maxSegments: 4, alignment: 8 },
    writeZeroes: n === "discard" ? null : { maxSectors: 128, maxSegments: 2, mayUnmap: true },
  };
}

const s = (sector: number | bigint, sectors: number, flags = 0): RawSegment => ({
  sector: BigInt(sector),
  sectors,
  flags,
});

export const PARSE_CASES: readonly ParseCase[] = [
  { kind: "valid", name: "a discard of one segment", type: DISCARD, segments: [s(64, 8)] },
  {
    kind: "valid",
    name: "a discard of 4 segments (max_discard_seg), each 64 sectors (the maximum)",
    type: DISCARD,
    segments: [s(0, 64), s(64, 64), s(512, 64), s(960, 64)],
  },
  {
    kind: "valid",
    name: "a write zeroes with unmap, segments cut 7 + 9 + 5 + 11 + 16 across descriptors",
    type: WRITE_ZEROES,
    segments: [s(8, 16, 1), s(100, 3)],
    cuts: [7, 9, 5, 11, 16],
  },
  {
    kind: "valid",
    name: "a write zeroes ending on the last sector, header in its own buffer",
    type: WRITE_ZEROES,
    segments: [s(1016, 8)],
    cuts: [16, 16],
  },
  { kind: "valid", name: "a discard of a 0-sector segment", type: DISCARD, segments: [s(5, 0)] },
  {
    kind: "unsupported",
    name: "a discard when only WRITE_ZEROES was negotiated",
    type: DISCARD,
    segments: [s(0, 8)],
    negotiated: "write-zeroes",
  },
  {
    kind: "unsupported",
    name: "a write zeroes when only DISCARD was negotiated",
    type: WRITE_ZEROES,
    segments: [s(0, 8)],
    negotiated: "discard",
  },
  {
    kind: "direction",
    name: "a discard with 16 device-writable bytes before the status",
    type: DISCARD,
    segments: [s(0, 8)],
    writable: [16, 1],
  },
  {
    kind: "direction",
    name: "a write zeroes whose status buffer is 9 bytes",
    type: WRITE_ZEROES,
    segments: [s(0, 8)],
    writable: [9],
  },
  { kind: "length", name: "a discard with no segment", type: DISCARD, segments: [] },
  {
    kind: "length",
    name: "a write zeroes with one segment and 4 bytes more",
    type: WRITE_ZEROES,
    segments: [s(0, 8)],
    extra: 4,
  },
  {
    kind: "count",
    name: "a discard of 5 segments (max_discard_seg is 4)",
    type: DISCARD,
    segments: [s(0, 8), s(8, 8), s(16, 8), s(24, 8), s(32, 8)],
  },
  {
    kind: "count",
    name: "a write zeroes of 3 segments (max_write_zeroes_seg is 2)",
    type: WRITE_ZEROES,
    segments: [s(0, 8), s(8, 8), s(16, 8)],
  },
  {
    kind: "unmap",
    name: "a discard whose second segment has unmap set",
    type: DISCARD,
    segments: [s(0, 8), s(8, 8, 1)],
  },
  {
    kind: "flags",
    name: "a discard with flags 0x80000000",
    type: DISCARD,
    segments: [s(0, 8, 0x8000_0000)],
  },
  {
    kind: "flags",
    name: "a write zeroes with flags 0x3 (unmap and a reserved bit)",
    type: WRITE_ZEROES,
    segments: [s(0, 8, 3)],
  },
  {
    kind: "capacity",
    name: "a write zeroes of 5 sectors at 1020 (capacity 1024)",
    type: WRITE_ZEROES,
    segments: [s(1020, 5)],
  },
  {
    kind: "capacity",
    name: "a discard of 8 sectors at 2^64 - 4 (wraps to 4 in u64)",
    type: DISCARD,
    segments: [s(2n ** 64n - 4n, 8)],
  },
  {
    kind: "capacity",
    name: "a discard at sector 2^32 + 8 (its low word is 8)",
    type: DISCARD,
    segments: [s(2n ** 32n + 8n, 8)],
  },
  {
    kind: "capacity",
    name: "a discard whose last segment is past the capacity",
    type: DISCARD,
    segments: [s(0, 8), s(2000, 8)],
  },
  {
    kind: "sectors",
    name: "a discard segment of 65 sectors (max_discard_sectors is 64)",
    type: DISCARD,
    segments: [s(0, 65)],
  },
  {
    kind: "sectors",
    name: "a write zeroes segment of 129 sectors (max_write_zeroes_sectors is 128)",
    type: WRITE_ZEROES,
    segments: [s(0, 129)],
  },
];

/** What a parse did, in the terms of the contract. */
export interface ParsedDiscard {
  /** `"segments"`, `"reject"`, or `"threw <name>"`. */
  readonly outcome: string;
  /** For `"segments"`: the count returned and the records filled. */
  readonly count?: unknown;
  readonly segments?: readonly { sector: number; sectors: number; unmap: boolean }[];
  /** For `"reject"`. */
  readonly status?: string;
  readonly id?: string | null;
  readonly violation?: string | null;
  readonly complete?: boolean;
  /** Ids reported, in order. */
  readonly reported: readonly string[];
}

/** Lays a parse case out in guest memory. */
export function parseFixture(c: ParseCase): { memory: GuestMemory; chain: DescriptorChain } {
  const memory = new GuestMemory(0x4000);
  const header = 0x100;
  memory.writeU32(header, c.type);
  c.segments.forEach((g, i) => {
    const at = header + 16 + 16 * i;
    memory.writeU64(at, BigInt.asUintN(64, g.sector));
    memory.writeU32(at + 8, g.sectors);
    memory.writeU32(at + 12, g.flags ?? 0);
  });
  const length = 16 + 16 * c.segments.length + (c.extra ?? 0);
  const readable = [];
  let at = header;
  for (const len of c.cuts ?? [length]) {
    readable.push({ addr: at, len });
    at += len;
  }
  const writable = (c.writable ?? [1]).map((len, i) => ({ addr: 0x2000 + 0x100 * i, len }));
  return {
    memory,
    chain: {
      head: 3,
      descriptorCount: readable.length + writable.length,
      indirect: false,
      readable,
      readableLength: length,
      writable,
      writableLength: writable.reduce((n, w) => n + w.len, 0),
    },
  };
}

/** Runs `parseDiscardRequest` on a case, with one stale record in `segments`. */
export function runParse(part: typeof parseDiscardRequest, c: ParseCase): ParsedDiscard {
  const { memory, chain } = parseFixture(c);
  const log = new ConformanceLog();
  const out: DiscardSegment[] = [{ sector: 999, sectors: 999, unmap: true }];
  const o = attempt(() =>
    part(memory, chain, c.type, parseDisk(c), log.scoped("queue 0"), out, readChain)
  );
  const reported = log.entries.map((v) => v.id);
  if (!("returned" in o)) return { outcome: `threw ${show.value(thrownFields(o).name)}`, reported };
  const r = o.returned;
  if (typeof r === "number") {
    return {
      outcome: "segments",
      count: r,
      segments: out.slice(0, Number.isInteger(r) && r > 0 ? r : 0).map((g) => ({
        sector: g?.sector,
        sectors: g?.sectors,
        unmap: g?.unmap,
      })),
      reported,
    };
  }
  if (typeof r !== "object" || r === null) {
    return { outcome: `returned ${show.value(r)}`, reported };
  }
  return {
    outcome: "reject",
    status: blkStatusName(r.status),
    id: r.id,
    violation: r.violation?.id ?? null,
    complete: r.complete,
    reported,
  };
}

// ===================================================================== execute

/** One accepted request for `executeDiscardRequest`, on a 1024-sector disk. */
export interface ExecuteCase {
  readonly name: string;
  readonly type: number;
  readonly segments: readonly DiscardSegment[];
  /** How many of `segments` the request holds (the rest are stale records). */
  readonly count: number;
  /** Whether the backend deallocates (resolves `true`) or writes zeroes (`false`). */
  readonly punches: boolean;
  /** The backend call (0-based) that rejects, if any. */
  readonly fails?: number;
}

const g = (sector: number, sectors: number, unmap = false): DiscardSegment => ({
  sector,
  sectors,
  unmap,
});

export const EXECUTE_CASES: readonly ExecuteCase[] = [
  { name: "a discard of one segment", type: DISCARD, segments: [g(8, 8)], count: 1, punches: true },
  {
    name: "a discard of 3 segments on a backend that writes zeroes",
    type: DISCARD,
    segments: [g(0, 1), g(100, 28), g(1000, 24)],
    count: 3,
    punches: false,
  },
  {
    name: "a write zeroes, unmap on the first segment only",
    type: WRITE_ZEROES,
    segments: [g(16, 16, true), g(64, 8)],
    count: 2,
    punches: true,
  },
  {
    name: "a write zeroes of 2 segments in an array of 4 (2 stale)",
    type: WRITE_ZEROES,
    segments: [g(0, 8), g(8, 8), g(500, 500), g(600, 600)],
    count: 2,
    punches: false,
  },
  {
    name: "a discard with a 0-sector segment in the middle",
    type: DISCARD,
    segments: [g(0, 8), g(40, 0), g(80, 8)],
    count: 3,
    punches: true,
  },
  {
    name: "a write zeroes whose second backend call fails",
    type: WRITE_ZEROES,
    segments: [g(0, 8), g(8, 8), g(16, 8)],
    count: 3,
    punches: false,
    fails: 1,
  },
  {
    name: "a discard whose first backend call fails",
    type: DISCARD,
    segments: [g(0, 8), g(8, 8)],
    count: 2,
    punches: true,
    fails: 0,
  },
];

/** What an execute did. */
export interface ExecutedDiscard {
  /** `"resolved <value>"`, `"rejected"`, or `"threw"` (synchronously). */
  readonly outcome: string;
  /** The backend calls, in order: `discard 8+8` or `zeroes 16+16 unmap`. */
  readonly calls: readonly string[];
  /** Calls made without the options' signal. */
  readonly unsignalled: number;
  /** Calls the backend was still running when the promise settled. */
  readonly pendingAtSettle: number;
}

/**
 * Runs `executeDiscardRequest` on a backend whose every call settles one
 * macrotask later, recording the calls.
 */
export async function runExecute(
  part: typeof executeDiscardRequest,
  c: ExecuteCase,
): Promise<ExecutedDiscard> {
  const calls: string[] = [];
  const signal = new AbortController().signal;
  let unsignalled = 0;
  let pending = 0;
  const call = (what: string, given: AbortSignal | undefined): Promise<boolean> => {
    const index = calls.length;
    calls.push(what);
    if (given !== signal) unsignalled++;
    pending++;
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        pending--;
        if (index === c.fails) reject(new Error("media error"));
        else resolve(c.punches);
      }, 0)
    );
  };
  const refuse = () => Promise.reject(new Error("not a data request"));
  const backend: BlockBackend = {
    size: 1024 * 512,
    readOnly: false,
    canDeallocate: c.punches,
    read: refuse,
    write: refuse,
    flush: refuse,
    close: () => Promise.resolve(),
    discard: (offset, length, sig) => call(`discard ${offset / 512}+${length / 512}`, sig),
    writeZeroes: (offset, length, unmap, sig) =>
      call(`zeroes ${offset / 512}+${length / 512}${unmap ? " unmap" : ""}`, sig),
  };
  let outcome: string;
  try {
    const value = await part(backend, c.type, c.segments, c.count, { signal });
    outcome = `resolved ${show.value(value)}`;
  } catch (error) {
    if (isNotWrittenYet(error) || isPermissionError(error)) throw error;
    outcome = error instanceof Error && error.message === "media error" ? "rejected" : "threw";
  }
  const pendingAtSettle = pending;
  await new Promise((r) => setTimeout(r, 0)); // let stray calls finish
  return { outcome, calls, unsignalled, pendingAtSettle };
}

// ===================================================================== config

/** One configuration for `readDiscardConfig`. */
export interface DiscardConfigCase {
  readonly name: string;
  /** The feature bits negotiated (13 DISCARD, 14 WRITE_ZEROES). */
  readonly bits: readonly number[];
  /** max_discard_sectors, max_discard_seg, discard_sector_alignment. */
  readonly discard: readonly [number, number, number];
  /** max_write_zeroes_sectors, max_write_zeroes_seg, write_zeroes_may_unmap. */
  readonly writeZeroes: readonly [number, number, number];
}

export const CONFIG_CASES: readonly DiscardConfigCase[] = [
  { name: "both commands", bits: [13, 14], discard: [8192, 16, 8], writeZeroes: [4096, 4, 1] },
  { name: "DISCARD only", bits: [13], discard: [64, 1, 0], writeZeroes: [77, 7, 1] },
  { name: "WRITE_ZEROES only", bits: [14], discard: [55, 5, 5], writeZeroes: [128, 2, 0] },
  { name: "neither", bits: [], discard: [1, 1, 1], writeZeroes: [1, 1, 1] },
  {
    name: "the largest values",
    bits: [13, 14],
    discard: [0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
    writeZeroes: [0xffff_ffff, 0xffff_ffff, 0xff],
  },
  { name: "max_discard_seg 0", bits: [13, 14], discard: [64, 0, 8], writeZeroes: [64, 1, 0] },
  {
    name: "max_write_zeroes_sectors 0",
    bits: [13, 14],
    discard: [64, 2, 0],
    writeZeroes: [0, 3, 1],
  },
  { name: "every limit 0", bits: [13, 14], discard: [0, 0, 0], writeZeroes: [0, 0, 0] },
];

/** What a configuration read did. */
export interface DiscardConfigRead {
  readonly result: string;
  readonly offsets: readonly number[];
  readonly outside: number;
  readonly loops: number;
  readonly reported: readonly string[];
}

/** Reads a configuration with a recording device context. */
export function runReadDiscard(
  part: typeof readDiscardConfig,
  c: DiscardConfigCase,
): DiscardConfigRead {
  const bytes = new Uint8Array(72);
  const view = new DataView(bytes.buffer);
  view.setUint32(36, c.discard[0], true);
  view.setUint32(40, c.discard[1], true);
  view.setUint32(44, c.discard[2], true);
  view.setUint32(48, c.writeZeroes[0], true);
  view.setUint32(52, c.writeZeroes[1], true);
  bytes[56] = c.writeZeroes[2];
  const log = new ConformanceLog();
  const offsets = new Set<number>();
  let inside = false;
  let outside = 0;
  let loops = 0;
  const read = (offset: number, width: number) => {
    if (!inside) outside++;
    offsets.add(offset);
    if (width === 1) return view.getUint8(offset);
    if (width === 2) return view.getUint16(offset, true);
    return view.getUint32(offset, true);
  };
  const device = {
    features: features(...c.bits),
    reporter: log.scoped("blk driver"),
    readConfig: (offset: number, width: 1 | 2 | 4) => read(offset, width),
    readConfig64: (offset: number) =>
      BigInt(read(offset, 4)) | (BigInt(read(offset + 4, 4)) << 32n),
    readConfigConsistent: <R>(fn: () => R): R => {
      loops++;
      inside = true;
      try {
        return fn();
      } finally {
        inside = false;
      }
    },
  };
  const o = attempt(() => part(device));
  const result = "returned" in o
    ? showConfig(o.returned)
    : `threw ${show.value(thrownFields(o).name)}`;
  return {
    result,
    offsets: [...offsets].sort((a, b) => a - b),
    outside,
    loops,
    reported: log.entries.map((v) => v.id),
  };
}

function showConfig(c: BlockDiscardConfig): string {
  if (typeof c !== "object" || c === null) return show.value(c);
  const d = c.discard;
  const z = c.writeZeroes;
  return `{ discard: ${
    d
      ? `{ maxSectors: ${d.maxSectors}, maxSegments: ${d.maxSegments}, alignment: ${d.alignment} }`
      : show.value(d)
  }, writeZeroes: ${
    z
      ? `{ maxSectors: ${z.maxSectors}, maxSegments: ${z.maxSegments}, mayUnmap: ${z.mayUnmap} }`
      : show.value(z)
  } }`;
}

// ===================================================================== split

/** A list of ranges cut into requests by `splitDiscard`, from the start to the end. */
export interface SplitCase {
  readonly name: string;
  readonly limits: DiscardSplitLimits;
  readonly ranges: readonly DiscardRange[];
  readonly unmap: boolean;
}

export const SPLIT_CASES: readonly SplitCase[] = [
  {
    name: "one range that fits one request",
    limits: { maxSectors: 64, maxSegments: 4, alignment: 8 },
    ranges: [{ sector: 8, count: 40 }],
    unmap: false,
  },
  {
    name: "5 ranges, 2 segments per request",
    limits: { maxSectors: 1000, maxSegments: 2, alignment: 1 },
    ranges: [
      { sector: 0, count: 5 },
      { sector: 50, count: 5 },
      { sector: 100, count: 5 },
      { sector: 150, count: 5 },
      { sector: 200, count: 5 },
    ],
    unmap: true,
  },
  {
    name: "250 sectors from sector 3, 100 per request, alignment 8",
    limits: { maxSectors: 100, maxSegments: 4, alignment: 8 },
    ranges: [{ sector: 3, count: 250 }],
    unmap: false,
  },
  {
    name: "ranges of 5, 0, 30 and 4 sectors, 20 sectors and 2 segments per request",
    limits: { maxSectors: 20, maxSegments: 2, alignment: 1 },
    ranges: [
      { sector: 0, count: 5 },
      { sector: 100, count: 0 },
      { sector: 50, count: 30 },
      { sector: 10, count: 4 },
    ],
    unmap: false,
  },
  {
    name: "7 sectors, 3 per request, alignment 8 (a cut that cannot be aligned)",
    limits: { maxSectors: 3, maxSegments: 1, alignment: 8 },
    ranges: [{ sector: 1, count: 7 }],
    unmap: false,
  },
  {
    name: "a 1 GiB range at sector 2^40, 4194303 sectors per request, alignment 2048",
    limits: { maxSectors: 0x3f_ffff, maxSegments: 16, alignment: 2048 },
    ranges: [{ sector: 2 ** 40 + 5, count: 2 ** 21 * 2 }],
    unmap: true,
  },
  {
    name: "two ranges, the second beginning where the budget ends, alignment 0",
    limits: { maxSectors: 16, maxSegments: 8, alignment: 0 },
    ranges: [{ sector: 0, count: 16 }, { sector: 16, count: 16 }],
    unmap: false,
  },
  {
    name: "no ranges",
    limits: { maxSectors: 16, maxSegments: 8, alignment: 8 },
    ranges: [],
    unmap: false,
  },
];

/** The requests a split made: the segments of each, and what each call returned. */
export interface Split {
  readonly threw?: string;
  readonly requests: readonly (readonly DiscardSegment[])[];
  /** What each call returned, when it was not the number of segments it left. */
  readonly miscounted: number;
  /** Calls made: the last returns 0 (or the split gave up after 10,000). */
  readonly calls: number;
}

/** Calls `splitDiscard` until it returns 0, each time into an array holding 2 stale records. */
export function runSplit(part: typeof splitDiscard, c: SplitCase): Split {
  const cursor = { range: 0, done: 0 };
  const requests: DiscardSegment[][] = [];
  let miscounted = 0;
  let calls = 0;
  while (calls < 10_000) {
    const out: DiscardSegment[] = [g(7, 7, true), g(9, 9, true)];
    calls++;
    const o = attempt(() => part(c.limits, c.ranges, cursor, out, c.unmap));
    if (!("returned" in o)) {
      return { threw: String(thrownFields(o).name), requests, miscounted, calls };
    }
    const n = o.returned;
    if (n !== out.length) miscounted++;
    if (n === 0) break;
    requests.push(
      out.slice(0, Math.max(0, Math.min(Number(n) || 0, 10_000))).map((x) => ({ ...x })),
    );
  }
  return { requests, miscounted, calls };
}

// ===================================================================== build

/** One request for `buildDiscardRequest`. */
export interface BuildCase {
  readonly name: string;
  readonly type: number;
  readonly segments: readonly DiscardSegment[];
  readonly count: number;
  /** The table buffer's length in bytes. */
  readonly table: number;
}

export const BUILD_CASES: readonly BuildCase[] = [
  { name: "a discard of one segment", type: DISCARD, segments: [g(9, 3)], count: 1, table: 16 },
  {
    name: "a write zeroes of 2 segments, unmap on the second, in a 4 KiB table",
    type: WRITE_ZEROES,
    segments: [g(1, 2), g(2 ** 40, 0xffff_ffff, true)],
    count: 2,
    table: 4096,
  },
  {
    name: "a discard whose segments ask for unmap",
    type: DISCARD,
    segments: [g(100, 8, true), g(200, 8, true)],
    count: 2,
    table: 64,
  },
  {
    name: "a write zeroes of the first 2 of 3 segments",
    type: WRITE_ZEROES,
    segments: [g(0, 1, true), g(5, 5), g(77, 77, true)],
    count: 2,
    table: 48,
  },
  {
    name: "count 0",
    type: DISCARD,
    segments: [g(0, 1)],
    count: 0,
    table: 16,
  },
  {
    name: "a table too short for 2 segments",
    type: WRITE_ZEROES,
    segments: [g(0, 1), g(1, 1)],
    count: 2,
    table: 31,
  },
];

/** What a build left in memory and returned. */
export interface Built {
  readonly threw?: string;
  /** The header's 16 bytes, as hex. */
  readonly header?: string;
  /** The table's first 16 × count bytes, as hex. */
  readonly table?: string;
  /** Bytes of the table past the segments that changed. */
  readonly strays?: number;
  readonly status?: number;
  /** The chain as `readable | writable` buffers, named. */
  readonly chain?: string;
}

const HEADER_AT = 0x100;
const STATUS_AT = 0x180;
const TABLE_AT = 0x1000;

/** Runs `buildDiscardRequest` on a case in a memory filled with 0xee. */
export function runBuild(part: typeof buildDiscardRequest, c: BuildCase): Built {
  const memory = new GuestMemory(0x4000);
  memory.fill(0, 0x4000, 0xee);
  const header = { addr: HEADER_AT, len: 16 };
  const status = { addr: STATUS_AT, len: 1 };
  const table = { addr: TABLE_AT, len: c.table };
  const lists = {
    readable: [{ addr: 1, len: 1 }],
    writable: [{ addr: 2, len: 2 }, { addr: 3, len: 3 }],
  };
  const o = attempt(() =>
    part(
      memory,
      { type: c.type, header, status, table, segments: c.segments, count: c.count },
      lists,
    )
  );
  if (!("returned" in o)) return { threw: String(thrownFields(o).name) };
  const chain = o.returned;
  const name = (b: { addr: number; len: number }) =>
    b.addr === HEADER_AT
      ? `header:${b.len}`
      : b.addr === STATUS_AT
      ? `status:${b.len}`
      : b.addr === TABLE_AT
      ? `table:${b.len}`
      : `${b.addr}:${b.len}`;
  const hex = (at: number, n: number) =>
    [...memory.bytes(at, n)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  const used = 16 * c.count;
  let strays = 0;
  for (const x of memory.bytes(TABLE_AT + used, 0x1000 - used)) if (x !== 0xee) strays++;
  return {
    header: hex(HEADER_AT, 16),
    table: hex(TABLE_AT, used),
    strays,
    status: memory.readU8(STATUS_AT),
    chain: typeof chain === "object" && chain !== null
      ? `${(chain.readable ?? []).map(name).join(" ")} | ${
        (chain.writable ?? []).map(name).join(" ")
      }`
      : show.value(chain),
  };
}
