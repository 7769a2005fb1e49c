/**
 * The block limits parts on trial: a scripted backend whose calls settle
 * only when the grader says, so the order of a device's writes, flushes and
 * completion is visible ({@linkcode runExecute}); a configuration reader
 * that records every read and whether it was inside the generation loop
 * ({@linkcode runReadConfig}); and the cases for both.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { BlockBackend } from "../../devices/blk/backends.ts";
import type { BlockConfig, readBlockConfig } from "../../devices/blk/config.ts";
import type { executeBlockRequest } from "../../devices/blk/io.ts";
import type { BlockOperation, BlockRequest } from "../../devices/blk/request.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { writeChain } from "../../virtqueue/chain.ts";
import { features } from "../../virtio/features.ts";
import { requestFixture } from "./blk.ts";
import { attempt, thrownFields } from "./rules.ts";

/** One request served on the scripted backend. */
export interface ExecuteCase {
  readonly name: string;
  readonly op: BlockOperation;
  /** Readable buffer lengths (header first) and writable ones (status last). */
  readonly readable: readonly number[];
  readonly writable: readonly number[];
  readonly offset: number;
  readonly length: number;
  readonly writeThrough: boolean;
  /** The backend call (0-based, in call order) that fails, if any. */
  readonly fails?: number;
}

const W = (name: string, more: Partial<ExecuteCase>): ExecuteCase => ({
  name,
  op: "write",
  readable: [16, 512],
  writable: [1],
  offset: 1024,
  length: 512,
  writeThrough: false,
  ...more,
});

/** Requests for `executeBlockRequest`, on a 16-sector disk. */
export const EXECUTE_CASES: readonly ExecuteCase[] = [
  W("a read of 1 sector into one buffer", { op: "read", readable: [16], writable: [512, 1] }),
  W("a read of 2 sectors into 3 buffers, the status in the last", {
    op: "read",
    readable: [16],
    writable: [300, 500, 225],
    length: 1024,
  }),
  W("a write of 1 sector in its own buffer", {}),
  W("a write of 2 sectors sharing the header's buffer", { readable: [1040], length: 1024 }),
  W("a write of 2 sectors in 2 buffers, write-through", {
    readable: [16, 512, 512],
    length: 1024,
    writeThrough: true,
  }),
  W("a write of 1 sector sharing the header's buffer, write-through", {
    readable: [528],
    writeThrough: true,
  }),
  W("a flush", { op: "flush", readable: [16], writable: [1], length: 0, offset: 0 }),
  W("a flush, write-through", {
    op: "flush",
    readable: [16],
    writable: [1],
    length: 0,
    offset: 0,
    writeThrough: true,
  }),
  W("a GET_ID into 12 + 8 bytes", {
    op: "get-id",
    readable: [16],
    writable: [12, 9],
    length: 20,
    offset: 0,
  }),
  W("a read of 2 sectors into 2 buffers, the first backend call failing", {
    op: "read",
    readable: [16],
    writable: [512, 513],
    length: 1024,
    fails: 0,
  }),
  W("a write of 2 sectors in 2 buffers, the first backend call failing", {
    readable: [16, 512, 512],
    length: 1024,
    fails: 0,
  }),
];

/** What serving a request did. */
export interface Executed {
  /** "resolved", "rejected", or "threw <name>" (synchronously). */
  readonly outcome: string;
  /** The disk bytes changed (write) or the guest's data bytes (read, GET_ID) right, as a flag. */
  readonly dataRight: boolean;
  /** Flushes asked of the backend. */
  readonly flushes: number;
  /** A flush asked while a write was still pending or before any write was made. */
  readonly flushTooEarly: boolean;
  /** The promise settled while a backend call was still pending. */
  readonly settledEarly: boolean;
  /** Backend calls without the reset signal. */
  readonly unsignalled: number;
}

const DISK_BYTES = 16 * 512;
const ID = new TextEncoder().encode("lab-disk-0123456789a");

/**
 * Serves one request on a scripted backend: its calls are kept pending, and
 * settled one at a time, oldest first, with the promise's state looked at
 * between each (a read's bytes land when its call settles).
 *
 * @param part The learner's or the reference's `executeBlockRequest`.
 * @param c The case.
 */
export async function runExecute(
  part: typeof executeBlockRequest,
  c: ExecuteCase,
): Promise<Executed> {
  const f = requestFixture({
    type: c.op === "read" ? 0 : c.op === "write" ? 1 : c.op === "flush" ? 4 : 8,
    sector: BigInt(c.offset / 512),
    readable: c.readable,
    writable: c.writable,
  });
  const disk = new Uint8Array(DISK_BYTES).map((_, i) => (i * 13 + 1) & 0xff);
  const original = disk.slice();
  const signal = new AbortController().signal;
  const pending: { settle: (fail: boolean) => void; kind: string }[] = [];
  let calls = 0;
  let flushes = 0;
  let writesMade = 0;
  let writesPending = 0;
  let flushTooEarly = false;
  let unsignalled = 0;
  const call = (kind: string, s: AbortSignal | undefined, done: () => void) => {
    const index = calls++;
    if (s !== signal) unsignalled++;
    return new Promise<void>((resolve, reject) => {
      pending.push({
        kind,
        settle: (fail) => {
          if (fail || index === c.fails) return reject(new Error(`backend ${kind} failed`));
          done();
          resolve();
        },
      });
    });
  };
  const backend: BlockBackend = {
    size: DISK_BYTES,
    readOnly: false,
    read: (offset, dest, s) =>
      call("read", s, () => dest.set(disk.subarray(offset, offset + dest.length))),
    write: (offset, src, s) => {
      writesMade++;
      writesPending++;
      const copy = src.slice();
      return call("write", s, () => {
        disk.set(copy, offset);
        writesPending--;
      });
    },
    flush: () => {
      flushes++;
      if (writesPending > 0 || (c.op === "write" && writesMade === 0)) flushTooEarly = true;
      return call("flush", signal, () => {});
    },
    close: () => Promise.resolve(),
  } as BlockBackend;
  const request: BlockRequest = {
    op: c.op,
    type: 0,
    sector: c.offset / 512,
    offset: c.offset,
    length: c.length,
    warnings: 0,
  };
  const options = { writeThrough: c.writeThrough, id: ID, signal };
  const o = attempt(() => part(backend, f.memory, f.chain, request, options, writeChain));
  if (!("returned" in o)) {
    return {
      outcome: `threw ${String(thrownFields(o).name)}`,
      dataRight: false,
      flushes,
      flushTooEarly,
      settledEarly: false,
      unsignalled,
    };
  }
  let state = "pending";
  Promise.resolve(o.returned).then(() => (state = "resolved"), () => (state = "rejected"));
  let settledEarly = false;
  for (let round = 0; round < 64; round++) {
    await new Promise((r) => setTimeout(r, 0));
    if (state !== "pending" && pending.length > 0) settledEarly = true;
    const next = pending.shift();
    if (!next) break;
    next.settle(false);
  }
  await new Promise((r) => setTimeout(r, 0));
  let dataRight: boolean;
  if (c.op === "write") {
    const want = original.slice();
    want.set(f.readData.subarray(0, c.length), c.offset);
    dataRight = want.every((b, i) => b === disk[i]);
  } else if (c.op === "read" || c.op === "get-id") {
    const got = new Uint8Array(c.length);
    let at = 0;
    for (const s of f.chain.writable) {
      const n = Math.min(s.len, c.length - at);
      if (n > 0) got.set(f.memory.bytes(s.addr, n), at);
      at += Math.max(n, 0);
    }
    const want = c.op === "read" ? original.subarray(c.offset, c.offset + c.length) : ID;
    dataRight = c.fails !== undefined || want.every((b, i) => b === got[i]);
  } else {
    dataRight = disk.every((b, i) => b === original[i]);
  }
  return { outcome: state, dataRight, flushes, flushTooEarly, settledEarly, unsignalled };
}

/** One device configuration, as a driver reads it. */
export interface ConfigCase {
  readonly name: string;
  readonly capacity: bigint;
  readonly sizeMax: number;
  readonly segMax: number;
  readonly blkSize: number;
  /** Feature bits negotiated, among VIRTIO_BLK_F_SIZE_MAX (1), _SEG_MAX (2), _BLK_SIZE (6). */
  readonly bits: readonly number[];
  readonly unused0?: number;
}

const ALL = [1, 2, 6];
const K = (name: string, more: Partial<ConfigCase>): ConfigCase => ({
  name,
  capacity: 2048n,
  sizeMax: 65536,
  segMax: 126,
  blkSize: 512,
  bits: ALL,
  ...more,
});

/** Configurations for `readBlockConfig`. */
export const CONFIG_CASES: readonly ConfigCase[] = [
  K("the lab's disk, every limit negotiated", {}),
  K("no limit negotiated", { bits: [] }),
  K("only SIZE_MAX", { bits: [1] }),
  K("only SEG_MAX and BLK_SIZE", { bits: [2, 6] }),
  K("a capacity of 2^40 + 5 sectors", { capacity: 2n ** 40n + 5n }),
  K("a capacity of 2^64 - 1 sectors", { capacity: 2n ** 64n - 1n }),
  K("seg_max 0 and size_max 0 (read as they are)", { segMax: 0, sizeMax: 0 }),
  K("size_max 0xffffffff", { sizeMax: 0xffff_ffff }),
  K("blk_size 4096", { blkSize: 4096 }),
  K("blk_size 65536", { blkSize: 65536 }),
  K("blk_size 1000", { blkSize: 1000 }),
  K("blk_size 256", { blkSize: 256 }),
  K("blk_size 1000 without BLK_SIZE negotiated", { blkSize: 1000, bits: [1, 2] }),
  K("unused0 reading 7", { unused0: 7 }),
];

/** What reading a configuration did. */
export interface ConfigRead {
  readonly result: string;
  /** Offsets read (1-, 2- or 4-byte reads and each half of a 64-bit one), sorted. */
  readonly offsets: readonly number[];
  /** Reads made outside `readConfigConsistent`, and how many times it was called. */
  readonly outside: number;
  readonly loops: number;
  readonly reported: readonly string[];
}

/**
 * Reads a configuration with a recording device context.
 *
 * @param part The learner's or the reference's `readBlockConfig`.
 * @param c The case.
 */
export function runReadConfig(part: typeof readBlockConfig, c: ConfigCase): ConfigRead {
  const bytes = new Uint8Array(72);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, c.capacity, true);
  view.setUint32(8, c.sizeMax, true);
  view.setUint32(12, c.segMax, true);
  view.setUint32(20, c.blkSize, true);
  bytes[33] = c.unused0 ?? 0;
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
    ? `{ capacity: ${o.returned.capacity}, sizeMax: ${o.returned.sizeMax}, segMax: ${o.returned.segMax}, blkSize: ${o.returned.blkSize} }`
    : `threw ${String(thrownFields(o).name)}`;
  return {
    result,
    offsets: [...offsets].sort((a, b) => a - b),
    outside,
    loops,
    reported: log.entries.map((v) => v.id),
  };
}

/** The configurations `blockConfigSpace` lays out (the last three do not fit). */
export const SPACE_CASES: readonly BlockConfig[] = [
  { capacity: 2048n, sizeMax: 65536, segMax: 126, blkSize: 512 },
  { capacity: 2n ** 33n + 7n, sizeMax: 4096, segMax: 32, blkSize: 4096 },
  { capacity: 2n ** 64n - 1n, sizeMax: 0xffff_ffff, segMax: 0xffff_ffff, blkSize: 65536 },
  { capacity: 0n, sizeMax: null, segMax: null, blkSize: null },
  { capacity: 1n, sizeMax: 0, segMax: 1, blkSize: null },
  { capacity: 2n ** 64n, sizeMax: 512, segMax: 1, blkSize: 512 },
  { capacity: 8n, sizeMax: 2 ** 32, segMax: 1, blkSize: 512 },
  { capacity: 8n, sizeMax: 512, segMax: -1, blkSize: 512 },
];
