/**
 * virtio-blk requests as a grader builds them: one request chain laid out in
 * guest RAM with its buffers apart and a background around them, the header
 * written as a byte stream across however many readable buffers the case
 * cuts it into, and any buffer placed outside RAM on request. The chain is a
 * plain `DescriptorChain` record, as a queue pops it, so a device part runs
 * on it without a ring; a driver part's stores are seen by comparing RAM
 * before and after ({@linkcode strayStores}).
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { GuestMemory } from "../../memory/guest_memory.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";
import { VIRTIO_BLK_REQ_HEADER_SIZE } from "../../devices/blk/constants.ts";

/** Where request RAM starts: a high base, so an address is never mistaken for an offset. */
export const BLK_RAM_BASE = 0x4000_0000;
/** Bytes of request RAM. */
export const BLK_RAM_SIZE = 0x2_0000;
/** The byte every unused byte of request RAM holds. */
export const BACKGROUND = 0xa5;

/** One request chain, as a case describes it. */
export interface RequestShape {
  /** The header's `type`. */
  readonly type: number;
  /** The header's `sector` (a u64). */
  readonly sector: bigint;
  /** Lengths of the device-readable buffers, in order: the header's bytes first, then data. */
  readonly readable: readonly number[];
  /** Lengths of the device-writable buffers, in order: data, then the status in the last byte. */
  readonly writable: readonly number[];
  /** A buffer placed outside guest RAM: `["readable" | "writable", index]`. */
  readonly outside?: readonly ["readable" | "writable", number];
  /** `reserved` as the driver wrote it (default 0). */
  readonly reserved?: number;
}

/** A request laid out in RAM. */
export interface RequestFixture {
  readonly memory: GuestMemory;
  readonly chain: DescriptorChain;
  /** The readable bytes after the header, as laid out (a pattern, never the background). */
  readonly readData: Uint8Array;
}

/** Gap left between buffers, so a store past one never lands in the next. */
const GAP = 0x40;

/**
 * Lays a request out in fresh RAM: readable buffers (header stream, then a
 * data pattern), then writable ones (filled with 0xee, stale bytes a device
 * must overwrite or zero), each `GAP` bytes after the last, everything else
 * the background.
 *
 * @param shape The request.
 * @param head The chain's head index (default 0).
 * @returns The memory, the chain record and the readable data bytes.
 */
export function requestFixture(shape: RequestShape, head = 0): RequestFixture {
  const memory = new GuestMemory(BLK_RAM_SIZE, { base: BLK_RAM_BASE });
  memory.fill(BLK_RAM_BASE, BLK_RAM_SIZE, BACKGROUND);
  const header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE);
  const view = new DataView(header.buffer);
  view.setUint32(0, shape.type >>> 0, true);
  view.setUint32(4, shape.reserved ?? 0, true);
  view.setBigUint64(8, BigInt.asUintN(64, shape.sector), true);
  const readTotal = shape.readable.reduce((a, b) => a + b, 0);
  const stream = new Uint8Array(readTotal);
  stream.set(header.subarray(0, Math.min(16, readTotal)));
  for (let i = 16; i < readTotal; i++) stream[i] = (i * 7 + 3) & 0xff;
  let at = BLK_RAM_BASE + GAP;
  let streamAt = 0;
  const place = (side: "readable" | "writable", lens: readonly number[]) =>
    lens.map((len, i): BufferSegment => {
      const out = shape.outside?.[0] === side && shape.outside[1] === i;
      const addr = out ? BLK_RAM_BASE + BLK_RAM_SIZE + 0x1000 * (i + 1) : at;
      if (!out) {
        if (side === "readable") memory.write(addr, stream.subarray(streamAt, streamAt + len));
        else memory.fill(addr, len, 0xee);
        at += len + GAP;
      }
      if (side === "readable") streamAt += len;
      return { addr, len };
    });
  const readable = place("readable", shape.readable);
  const writable = place("writable", shape.writable);
  return {
    memory,
    chain: {
      head,
      descriptorCount: readable.length + writable.length,
      indirect: false,
      readable,
      readableLength: readTotal,
      writable,
      writableLength: shape.writable.reduce((a, b) => a + b, 0),
    },
    readData: stream.subarray(Math.min(16, readTotal)),
  };
}

/** A copy of all of request RAM, to compare after a part ran. */
export function snapshot(memory: GuestMemory): Uint8Array {
  return memory.bytes(memory.base, memory.size).slice();
}

/**
 * The addresses a part changed outside the ranges it may store into, as
 * `0x…` strings (at most `limit`), comparing RAM with a snapshot.
 *
 * @param memory RAM after the part ran.
 * @param before {@linkcode snapshot} taken before.
 * @param allowed Buffers the part may store into.
 * @param limit Most addresses to list.
 */
export function strayStores(
  memory: GuestMemory,
  before: Uint8Array,
  allowed: readonly BufferSegment[],
  limit = 4,
): string[] {
  const after = memory.bytes(memory.base, memory.size);
  const out: string[] = [];
  for (let i = 0; i < after.length && out.length < limit; i++) {
    if (after[i] === before[i]) continue;
    const addr = memory.base + i;
    if (allowed.some((s) => addr >= s.addr && addr < s.addr + s.len)) continue;
    out.push(`0x${addr.toString(16)}`);
  }
  return out;
}

/** Which rule a request case is about (a grader's rows filter by it). */
export type RequestTopic =
  | "valid"
  | "split"
  | "status"
  | "ram"
  | "short"
  | "direction"
  | "length"
  | "capacity"
  | "readonly"
  | "getid"
  | "flush"
  | "unsupp"
  | "limits";

/** One request chain for a device's parser, and the disk it arrives at. */
export interface RequestCase extends RequestShape {
  /** The case in words, as a failure shows it. */
  readonly name: string;
  readonly topic: RequestTopic;
  /** Disk size in 512-byte sectors (default 64). */
  readonly capacity?: number;
  readonly readOnly?: boolean;
  /** The negotiated limits, if any. */
  readonly limits?: { readonly segMax?: number | null; readonly sizeMax?: number | null };
}

const IN = 0;
const OUT = 1;
const FLUSH = 4;
const GET_ID = 8;
const c = (
  topic: RequestTopic,
  name: string,
  type: number,
  sector: bigint,
  readable: number[],
  writable: number[],
  more: Partial<RequestCase> = {},
): RequestCase => ({ topic, name, type, sector, readable, writable, ...more });

/**
 * Request chains a device's parser meets, each breaking at most one rule of
 * §5.2.6 (or none, at the edge of one), on a 64-sector disk unless a case
 * says otherwise: the reference's answer to each is what a grader expects.
 */
export const REQUEST_CASES: readonly RequestCase[] = [
  c("valid", "an IN of 1 sector at sector 2: header, data, status apart", IN, 2n, [16], [512, 1]),
  c("valid", "an OUT of 2 sectors at sector 9, data in the header's buffer", OUT, 9n, [1040], [1]),
  c("valid", "an IN whose status shares the data's buffer", IN, 5n, [16], [1025]),
  c("valid", "an IN of 3 data buffers", IN, 1n, [16], [512, 1024, 513]),
  c("valid", "an IN of 0 sectors at sector 0", IN, 0n, [16], [1]),
  c("valid", "an IN at sector 2^32 + 1 of a 2^33-sector disk", IN, 2n ** 32n + 1n, [16], [512, 1], {
    capacity: 2 ** 33,
  }),
  c("valid", "an OUT whose header reserved field is not 0", OUT, 3n, [16, 512], [1], {
    reserved: 0xdead_beef,
  }),
  c("split", "an IN with its header cut 1 + 15", IN, 7n, [1, 15], [512, 1]),
  c("split", "an OUT with its header cut 8 + 8", OUT, 4n, [8, 8, 512], [1]),
  c("split", "an OUT with its header cut 4 + 12, the data after it", OUT, 6n, [4, 524], [1]),
  c("split", "a GET_ID with its header in 16 one-byte buffers", GET_ID, 0n, Array(16).fill(1), [
    21,
  ]),
  c("split", "an IN with its header cut 15 + 1", IN, 63n, [15, 1], [513]),
  c("status", "a head-only chain: the header and nothing writable", IN, 0n, [16], []),
  c("status", "an OUT of 1 sector with no status byte", OUT, 1n, [528], []),
  c("status", "a FLUSH with no status byte", FLUSH, 0n, [16], []),
  c("ram", "an IN whose status buffer is outside RAM", IN, 0n, [16], [512, 1], {
    outside: ["writable", 1],
  }),
  c("ram", "an IN whose data buffer is outside RAM", IN, 0n, [16], [512, 1], {
    outside: ["writable", 0],
  }),
  c("ram", "an OUT whose header buffer is outside RAM", OUT, 0n, [16, 512], [1], {
    outside: ["readable", 0],
  }),
  c("short", "a chain with 15 readable bytes", IN, 0n, [15], [513]),
  c("short", "a chain with 12 readable bytes in two buffers", IN, 0n, [8, 4], [1]),
  c("short", "a chain with nothing readable", IN, 0n, [], [513]),
  c("direction", "an IN carrying 512 device-readable data bytes", IN, 0n, [528], [1]),
  c("direction", "an OUT carrying 512 device-writable data bytes", OUT, 0n, [16], [512, 1]),
  c("direction", "a GET_ID carrying 20 device-readable bytes", GET_ID, 0n, [36], [21]),
  c("length", "an IN of 100 data bytes", IN, 0n, [16], [100, 1]),
  c("length", "an OUT of 1000 data bytes", OUT, 0n, [1016], [1]),
  c("length", "an IN of 513 data bytes", IN, 0n, [16], [514]),
  c("capacity", "an IN of the last sector, 63", IN, 63n, [16], [512, 1]),
  c("capacity", "an IN of 1 sector at sector 64, the capacity", IN, 64n, [16], [512, 1]),
  c("capacity", "an IN of 2 sectors at sector 63", IN, 63n, [16], [1025]),
  c("capacity", "an IN at sector 2^32 + 1", IN, 2n ** 32n + 1n, [16], [512, 1]),
  c("capacity", "an IN of 1 sector at sector 2^64 - 1", IN, 2n ** 64n - 1n, [16], [512, 1]),
  c("capacity", "an OUT of 2 sectors at sector 2^64 - 2", OUT, 2n ** 64n - 2n, [1040], [1]),
  c("capacity", "an IN at sector 2^53 + 1", IN, 2n ** 53n + 1n, [16], [512, 1]),
  c("readonly", "an OUT on a read-only disk", OUT, 0n, [528], [1], { readOnly: true }),
  c("readonly", "an IN on a read-only disk", IN, 0n, [16], [513], { readOnly: true }),
  c("readonly", "an OUT past the capacity on a read-only disk", OUT, 64n, [528], [1], {
    readOnly: true,
  }),
  c("getid", "a GET_ID with 19 bytes", GET_ID, 0n, [16], [19, 1]),
  c("getid", "a GET_ID with exactly 20 bytes", GET_ID, 0n, [16], [20, 1]),
  c("getid", "a GET_ID with 21 bytes", GET_ID, 0n, [16], [22]),
  c("getid", "a GET_ID with 20 bytes cut 10 + 10", GET_ID, 0n, [16], [10, 10, 1]),
  c("flush", "a FLUSH at sector 0", FLUSH, 0n, [16], [1]),
  c("flush", "a FLUSH at sector 5", FLUSH, 5n, [16], [1]),
  c("flush", "a FLUSH at sector 2^32", FLUSH, 2n ** 32n, [16], [1]),
  c("flush", "a FLUSH with 512 writable data bytes", FLUSH, 0n, [16], [512, 1]),
  c("flush", "a FLUSH at sector 1 with 512 readable data bytes", FLUSH, 1n, [528], [1]),
  c("unsupp", "a type 2 (VIRTIO_BLK_T_SCSI_CMD)", 2, 0n, [16], [1]),
  c("unsupp", "a type 11 (VIRTIO_BLK_T_DISCARD)", 11, 0n, [32], [1]),
  c("unsupp", "a type 0x100 (IN in its low byte)", 0x100, 0n, [16], [512, 1]),
  c("unsupp", "a type 0x80000001 (VIRTIO_BLK_T_BARRIER | VIRTIO_BLK_T_OUT)", 0x8000_0001, 0n, [
    528,
  ], [1]),
  c("limits", "an IN of 3 data buffers, seg_max 2", IN, 0n, [16], [512, 512, 512, 1], {
    limits: { segMax: 2 },
  }),
  c("limits", "an IN of 2 data buffers and a status buffer, seg_max 2", IN, 0n, [16], [
    512,
    512,
    1,
  ], { limits: { segMax: 2 } }),
  c("limits", "an OUT of 2048 bytes in one buffer, size_max 1024", OUT, 0n, [16, 2048], [1], {
    limits: { sizeMax: 1024 },
  }),
  c("limits", "an OUT of 1024 bytes sharing the header's buffer, size_max 1024", OUT, 0n, [1040], [
    1,
  ], { limits: { sizeMax: 1024 } }),
  c("limits", "an IN of 1024 bytes sharing the status's buffer, size_max 1024", IN, 0n, [16], [
    1025,
  ], { limits: { sizeMax: 1024, segMax: 1 } }),
];
