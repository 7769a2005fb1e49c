/**
 * The four request parts on trial, as graders observe them: each runs a
 * device part (`parseBlockRequest`, `completeBlockRequest`) or a driver
 * part (`buildBlockRequest`, `finishBlockRequest`) on one case laid out by
 * {@linkcode requestFixture}, and returns what the contract fixes, in
 * comparable form: what a parse decided and reported, what a completion
 * stored and returned, the header and lists a build left, the result a
 * finish gave. A lesson's rows compare the learner's observation with the
 * reference's.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog } from "../../conformance/log.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { readChain } from "../../virtqueue/chain.ts";
import {
  type buildBlockRequest,
  type completeBlockRequest,
  emptyBlockRequest,
  type finishBlockRequest,
  type parseBlockRequest,
} from "../../devices/blk/request.ts";
import { blkStatusName } from "../../devices/blk/constants.ts";
import * as show from "./format.ts";
import { attempt, thrownFields } from "./rules.ts";
import {
  BLK_RAM_BASE,
  type RequestCase,
  requestFixture,
  type RequestShape,
  snapshot,
  strayStores,
} from "./blk.ts";

/** What a parse did, in the terms of the contract's tables. */
export interface Parsed {
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

export function parse(part: typeof parseBlockRequest, c: RequestCase): Parsed {
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

export interface CompleteCase {
  readonly name: string;
  readonly writable: readonly number[];
  readonly status: number;
  readonly filled: number;
  readonly outside?: number;
}

export const COMPLETES: readonly CompleteCase[] = [
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

export interface Completed {
  readonly threw?: string;
  readonly len?: unknown;
  readonly status?: number;
  /** Data bytes in [0, filled) changed, and data bytes in [filled, data end) not zero. */
  readonly changedFilled?: number;
  readonly notZeroed?: number;
  readonly strays?: readonly string[];
}

export function complete(part: typeof completeBlockRequest, c: CompleteCase): Completed {
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

export interface BuildCase {
  readonly name: string;
  readonly type: number;
  readonly sector: number | bigint;
  readonly data: readonly number[];
  /** Entries already in the lists passed in. */
  readonly stale?: number;
}

export const BUILDS: readonly BuildCase[] = [
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

export interface Built {
  readonly threw?: string;
  readonly header?: string;
  readonly status?: number;
  readonly readable?: string;
  readonly writable?: string;
  readonly strays?: readonly string[];
}

export function build(part: typeof buildBlockRequest, c: BuildCase): Built {
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

export const TYPES = [0, 1, 4, 8] as const;
export const FINISHES: [number, number, number][] = [];
for (const type of TYPES) {
  for (const status of [0, 1, 2, 0x7f, 0xff]) {
    for (const lenDelta of [0, -1, 5]) FINISHES.push([type, status, lenDelta]);
  }
  FINISHES.push([type, 0, -Infinity]);
}

export function finish(
  part: typeof finishBlockRequest,
  type: number,
  status: number,
  lenDelta: number,
) {
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
