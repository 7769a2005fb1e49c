/**
 * The virtio-blk request on the wire (virtio v1.2 §5.2.6), both halves:
 *
 * ```text
 * struct virtio_blk_req {
 *     le32 type;       // VIRTIO_BLK_T_IN, _OUT, _FLUSH, _GET_ID, ...
 *     le32 reserved;
 *     le64 sector;     // in 512-byte sectors, whatever blk_size says
 *     u8 data[];       // device-writable for IN and GET_ID, device-readable for OUT
 *     u8 status;       // device-writable: VIRTIO_BLK_S_OK, _IOERR, _UNSUPP
 * };
 * ```
 *
 * The driver builds the chain of one request ({@linkcode buildBlockRequest})
 * and turns its status byte into a result ({@linkcode finishBlockRequest});
 * the device parses a chain it popped ({@linkcode parseBlockRequest}) and
 * completes it ({@linkcode completeBlockRequest}). Each is a plain function
 * over plain records, so either half can be someone else's while the other
 * is the reference.
 *
 * The records are mutable on purpose: the reference device keeps one
 * {@linkcode BlockRequest} per descriptor head and the reference driver one
 * request record per slot (Linux's per-tag `struct virtblk_req`), and both
 * reuse them, so the hot path allocates nothing.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import type { ConformanceReporter, Violation } from "../../conformance/log.ts";
import { type GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import type { BufferSegment, ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import { readChain } from "../../virtqueue/chain.ts";
import { blkRequestTypeName, blkStatusName } from "./constants.ts";
import * as blk from "./constants.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  SECTOR_SIZE,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_RESERVED_OFFSET,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} = blk;

/**
 * The value the driver stores in the status byte before it posts a request:
 * not a status the spec defines, so a device that completes a request
 * without writing its status is visible.
 */
export const VIRTIO_BLK_S_UNSET = 0xff;
/** {@linkcode VIRTIO_BLK_S_UNSET} for this module's own use (a local constant, which V8 folds). */
const STATUS_UNSET = VIRTIO_BLK_S_UNSET;

/** The largest sector number a `number` holds exactly, as two u32 halves: high word below 2^21. */
const EXACT_HIGH_WORD_LIMIT = 0x20_0000;

// ===================================================================== device

/** What the device does for a request it accepted. */
export type BlockOperation = "read" | "write" | "flush" | "get-id";

/**
 * A request the device accepted, as {@linkcode parseBlockRequest} fills it
 * in: what to ask of the backend. The device keeps one per descriptor head
 * and reuses it.
 */
export interface BlockRequest {
  /** The backend work: read into the writable data, write the readable data, flush, or the ID. */
  op: BlockOperation;
  /** The header's `type`, such as VIRTIO_BLK_T_IN. */
  type: number;
  /**
   * The header's `sector`. Exact below 2^53; a read or write that far out is
   * refused (it is past any capacity), so only a flush's ignored sector can
   * be rounded here.
   */
  sector: number;
  /** Byte offset on the disk of a read or write (`sector × 512`); 0 for the other operations. */
  offset: number;
  /** Data bytes the operation moves: the data part of a read or write, 20 for GET_ID, 0 for flush. */
  length: number;
  /** Rules the driver broke that did not stop the request (each reported, such as 5.2.6.1/3). */
  warnings: number;
}

/**
 * A chain the device completes at once, without backend work: a request the
 * driver got wrong, an OUT on a read-only disk, or a type the device does not
 * support.
 */
export interface BlockRejection {
  /** Tells a rejection from a {@linkcode BlockRequest}. */
  readonly op: "reject";
  /** The header's `type`, or -1 when the chain has no readable header. */
  readonly type: number;
  /** The status to complete with: VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP. */
  readonly status: number;
  /**
   * The rule that decided it: one the driver broke (then {@linkcode violation}
   * is its report), 5.2.6.2/1 for a write to a read-only disk (the device's
   * own duty, no violation), or `null` for an unsupported type.
   */
  readonly id: RequirementId | null;
  /** The report of the driver's violation, or `null`. */
  readonly violation: Violation | null;
  /**
   * Whether the chain can be completed. `false` when there is no status byte
   * to write (5.2.6/D2), or it lies outside guest RAM: the device cannot tell
   * the driver anything, so it keeps the chain and asks for a reset
   * (DEVICE_NEEDS_RESET) instead of returning it with a stale status.
   */
  readonly complete: boolean;
}

/** What {@linkcode parseBlockRequest} needs to know about the disk. */
export interface BlockDisk {
  /** `capacity`, in 512-byte sectors. */
  readonly capacity: number;
  /** Whether VIRTIO_BLK_F_RO is offered: writes fail with IOERR (5.2.6.2/1). */
  readonly readOnly: boolean;
  /** `seg_max` when VIRTIO_BLK_F_SEG_MAX was negotiated, else `null` (no limit to check). */
  readonly segMax?: number | null;
  /** `size_max` when VIRTIO_BLK_F_SIZE_MAX was negotiated, else `null`. */
  readonly sizeMax?: number | null;
}

/** Makes an empty {@linkcode BlockRequest} record, for {@linkcode parseBlockRequest} to fill. */
export function emptyBlockRequest(): BlockRequest {
  return { op: "flush", type: 0, sector: 0, offset: 0, length: 0, warnings: 0 };
}

/**
 * Parses and validates one popped chain as a block request (§5.2.6), the way
 * a hardened device does. Every rule the driver broke is reported to
 * `reporter` with its id, and none of it throws (unless the log is strict).
 *
 * Checks, in order:
 *
 * - a device-writable last byte for the status (5.2.6/D2): without one the
 *   chain cannot be completed; the status is the *last* writable byte, after
 *   however many data bytes, never a fixed offset;
 * - every buffer inside guest RAM (2.7.5/D2): a queue that validated the
 *   chain already ensured it, but a device must not trust that (Firecracker
 *   PR #1982 dereferenced unchecked data and status addresses); a bad
 *   buffer is IOERR, a bad status buffer means no completion;
 * - a 16-byte device-readable header (5.2.6/D1), however it is split across
 *   descriptors: 1 + 15 is as good as 16 (2.7.4.1/1; Firecracker issue #1560
 *   refused valid split headers and corrupted file systems);
 * - data in the direction the type implies (5.2.6/D3);
 * - IN and OUT data in whole sectors (5.2.6.1/5), inside the capacity with
 *   no u64 wrap-around (5.2.6.1/1: `sector + sectors` is computed exactly,
 *   so a sector near 2^64 never wraps to a small one);
 * - OUT on a read-only disk: IOERR, and the backend is never touched
 *   (5.2.6.2/1, the device's own duty, so nothing is reported);
 * - IN and OUT within the negotiated `seg_max` data segments of at most
 *   `size_max` bytes (5.2.3/D1): reported, and served anyway (the device
 *   can; the limits are there for devices that cannot);
 * - GET_ID with exactly 20 bytes of data (5.2.6.1/7): fewer is IOERR, more
 *   is reported and served with the ID in the first 20 bytes;
 * - FLUSH with sector 0 (5.2.6.1/3) and no data (5.2.6.1/4): reported, and
 *   the flush is done anyway;
 * - any other type: VIRTIO_BLK_S_UNSUPP, which is no violation.
 *
 * @param memory Guest RAM.
 * @param chain The chain as the queue popped it.
 * @param disk Capacity and read-only flag.
 * @param reporter Where the driver's violations go (scoped to the queue).
 * @param request A record to fill and return for an accepted request
 *   (default: a new one), so a caller can reuse one per descriptor head.
 * @param read The stream copy out of the chain's readable buffers (the
 *   requestq's `readChain` part, `DeviceQueue.streams`), for a header cut
 *   across descriptors; a header in its first buffer is read field by field.
 * @returns The accepted request, or a rejection to complete at once.
 * @throws {ConformanceError} When the conformance log is strict and a rule is broken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { parseBlockRequest } from "./request.ts";
 *
 * const memory = new GuestMemory(4096);
 * memory.writeU32(0x100, 0); // VIRTIO_BLK_T_IN
 * memory.writeU64(0x108, 2n); // sector 2
 * const chain = {
 *   head: 0, descriptorCount: 3, indirect: false,
 *   readable: [{ addr: 0x100, len: 16 }], readableLength: 16,
 *   writable: [{ addr: 0x200, len: 512 }, { addr: 0x400, len: 1 }], writableLength: 513,
 * };
 * const parsed = parseBlockRequest(memory, chain, { capacity: 8, readOnly: false }, new ConformanceLog().scoped("blk"));
 * assert.equal(parsed.op, "read");
 * assert.equal(parsed.op === "read" && parsed.offset, 1024);
 * ```
 */
export function parseBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  disk: BlockDisk,
  reporter: ConformanceReporter,
  request: BlockRequest = emptyBlockRequest(),
  read: ChainStreamParts["readChain"] = readChain,
): BlockRequest | BlockRejection {
  const head = chain.head;
  const writable = chain.writable;
  const readableLength = chain.readableLength;
  const writableLength = chain.writableLength;

  // 5.2.6/D2: the status byte is the last writable byte. Without one there
  // is nothing to tell the driver with.
  if (writable.length === 0 || writableLength === 0) {
    const violation = reporter.report(
      "5.2.6/D2",
      `Request at head ${head} has no device-writable byte for its status`,
      { head, readable: readableLength },
      "request cannot be completed; device needs reset",
    );
    return reject(-1, VIRTIO_BLK_S_IOERR, "5.2.6/D2", violation, false);
  }
  const last = writable[writable.length - 1];
  if (!memory.contains(last.addr, last.len)) {
    const violation = reporter.report(
      "2.7.5/D2",
      `Status buffer of ${last.len} byte(s) at ${hexAddress(last.addr)} in request ${head} ` +
        "is not inside guest RAM",
      { head, addr: last.addr, len: last.len },
      "request cannot be completed; device needs reset",
    );
    return reject(-1, VIRTIO_BLK_S_IOERR, "2.7.5/D2", violation, false);
  }
  const outside = firstOutsideRam(memory, chain);
  if (outside !== null) {
    const violation = reporter.report(
      "2.7.5/D2",
      `Buffer of ${outside.len} byte(s) at ${hexAddress(outside.addr)} in request ${head} ` +
        "is not inside guest RAM",
      { head, addr: outside.addr, len: outside.len },
      "completed with VIRTIO_BLK_S_IOERR",
    );
    return reject(-1, VIRTIO_BLK_S_IOERR, "2.7.5/D2", violation, true);
  }

  // 5.2.6/D1: the 16-byte header, in however many readable descriptors.
  if (readableLength < VIRTIO_BLK_REQ_HEADER_SIZE) {
    const violation = reporter.report(
      "5.2.6/D1",
      `Request at head ${head} has ${readableLength} device-readable byte(s), ` +
        `less than the ${VIRTIO_BLK_REQ_HEADER_SIZE}-byte header`,
      { head, readable: readableLength, writable: writableLength },
      "completed with VIRTIO_BLK_S_IOERR",
    );
    return reject(-1, VIRTIO_BLK_S_IOERR, "5.2.6/D1", violation, true);
  }
  const readable = chain.readable;
  let type: number;
  let sectorLow: number;
  let sectorHigh: number;
  if (readable[0].len >= VIRTIO_BLK_REQ_HEADER_SIZE) {
    const at = readable[0].addr;
    type = memory.readU32(at + VIRTIO_BLK_REQ_TYPE_OFFSET);
    sectorLow = memory.readU32(at + VIRTIO_BLK_REQ_SECTOR_OFFSET);
    sectorHigh = memory.readU32(at + VIRTIO_BLK_REQ_SECTOR_OFFSET + 4);
  } else {
    // A header cut across descriptors (2.7.4.1/1): read as a stream.
    const got = read(memory, readable, HEADER, 0);
    if (got !== VIRTIO_BLK_REQ_HEADER_SIZE) {
      const violation = reporter.report(
        "5.2.6/D1",
        `Request at head ${head}: ${got} of the ${VIRTIO_BLK_REQ_HEADER_SIZE} header bytes ` +
          `could be read from its ${readable.length} device-readable buffer(s)`,
        { head, readable: readableLength, got },
        "completed with VIRTIO_BLK_S_IOERR",
      );
      return reject(-1, VIRTIO_BLK_S_IOERR, "5.2.6/D1", violation, true);
    }
    type = HEADER_VIEW.getUint32(VIRTIO_BLK_REQ_TYPE_OFFSET, true);
    sectorLow = HEADER_VIEW.getUint32(VIRTIO_BLK_REQ_SECTOR_OFFSET, true);
    sectorHigh = HEADER_VIEW.getUint32(VIRTIO_BLK_REQ_SECTOR_OFFSET + 4, true);
  }
  const exact = sectorHigh < EXACT_HIGH_WORD_LIMIT;
  const sector = sectorHigh * 0x1_0000_0000 + sectorLow;
  const readData = readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
  const writeData = writableLength - 1;
  request.type = type;
  request.sector = sector;
  request.offset = 0;
  request.warnings = 0;
  switch (type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT: {
      const isRead = type === VIRTIO_BLK_T_IN;
      const name = blkRequestTypeName(type);
      const wrong = isRead ? readData : writeData;
      if (wrong !== 0) {
        return refuse(
          reporter,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "5.2.6/D3",
          `${name} request at head ${head} carries ${wrong} ${
            isRead ? "device-readable" : "device-writable"
          } data byte(s); its data must be ${isRead ? "device-writable" : "device-readable"}`,
        );
      }
      const length = isRead ? writeData : readData;
      if (length % SECTOR_SIZE !== 0) {
        return refuse(
          reporter,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "5.2.6.1/5",
          `${name} request at head ${head} moves ${length} data byte(s), not a multiple of ${SECTOR_SIZE}`,
        );
      }
      // Division, not a shift: chains reach 4 GiB and `>>` is a signed
      // 32-bit shift. `sector > capacity - sectors` is exact in doubles
      // (both sides below 2^53), where `sector + sectors > capacity` in u64
      // would wrap for a sector near 2^64.
      const sectors = length / SECTOR_SIZE;
      if (!exact || sector > disk.capacity - sectors) {
        return refuse(
          reporter,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "5.2.6.1/1",
          `${name} request at head ${head} for ${sectors} sector(s) at sector ${
            u64(sectorLow, sectorHigh)
          } reaches past the capacity of ${disk.capacity} sectors`,
        );
      }
      if (!isRead && disk.readOnly) {
        // 5.2.6.2/1: with VIRTIO_BLK_F_RO offered a write fails with IOERR
        // and changes nothing. The device's own duty, not a driver error.
        return reject(type, VIRTIO_BLK_S_IOERR, "5.2.6.2/1", null, true);
      }
      request.op = isRead ? "read" : "write";
      request.offset = sector * SECTOR_SIZE;
      request.length = length;
      const segMax = disk.segMax ?? null;
      const sizeMax = disk.sizeMax ?? null;
      if ((segMax !== null || sizeMax !== null) && length > 0) {
        // The data segments: the writable buffers of an IN up to the status
        // byte, the readable ones of an OUT past the header.
        const segments = isRead ? writable : readable;
        let skip = isRead ? 0 : VIRTIO_BLK_REQ_HEADER_SIZE;
        let left = length;
        let count = 0;
        let largest = 0;
        for (let i = 0; i < segments.length && left > 0; i++) {
          const len = segments[i].len;
          if (skip >= len) {
            skip -= len;
            continue;
          }
          const share = Math.min(len - skip, left);
          skip = 0;
          left -= share;
          count++;
          if (share > largest) largest = share;
        }
        if ((segMax !== null && count > segMax) || (sizeMax !== null && largest > sizeMax)) {
          request.warnings++;
          reporter.report(
            "5.2.3/D1",
            `${name} request at head ${head} has ${count} data segment(s) of up to ${largest} ` +
              `byte(s); the limits are seg_max ${segMax ?? "none"}, size_max ${sizeMax ?? "none"}`,
            { head, type, segments: count, largest, segMax, sizeMax },
            "served anyway",
          );
        }
      }
      return request;
    }
    case VIRTIO_BLK_T_FLUSH: {
      if (sectorLow !== 0 || sectorHigh !== 0) {
        request.warnings++;
        reporter.report(
          "5.2.6.1/3",
          `Flush request at head ${head} has sector ${u64(sectorLow, sectorHigh)}, not 0`,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "flushed anyway",
        );
      }
      if (readData !== 0 || writeData !== 0) {
        request.warnings++;
        reporter.report(
          "5.2.6.1/4",
          `Flush request at head ${head} carries ${readData + writeData} data byte(s)`,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "data ignored; flushed anyway",
        );
      }
      request.op = "flush";
      request.length = 0;
      return request;
    }
    case VIRTIO_BLK_T_GET_ID: {
      if (readData !== 0) {
        return refuse(
          reporter,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "5.2.6/D3",
          `VIRTIO_BLK_T_GET_ID request at head ${head} carries ${readData} device-readable data ` +
            "byte(s); its data must be device-writable",
        );
      }
      if (writeData < VIRTIO_BLK_ID_BYTES) {
        return refuse(
          reporter,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "5.2.6.1/7",
          `VIRTIO_BLK_T_GET_ID request at head ${head} has a ${writeData}-byte buffer, ` +
            `less than the ${VIRTIO_BLK_ID_BYTES} bytes of the ID`,
        );
      }
      if (writeData > VIRTIO_BLK_ID_BYTES) {
        request.warnings++;
        reporter.report(
          "5.2.6.1/7",
          `VIRTIO_BLK_T_GET_ID request at head ${head} has a ${writeData}-byte buffer, ` +
            `not ${VIRTIO_BLK_ID_BYTES}`,
          blockValues(head, type, sectorLow, sectorHigh, readData, writeData),
          "ID written to the first 20 bytes, the rest zeroed; completed with VIRTIO_BLK_S_OK",
        );
      }
      request.op = "get-id";
      request.length = VIRTIO_BLK_ID_BYTES;
      return request;
    }
    default:
      // Types this device does not offer (SCSI, discard, lifetime...) and
      // unknown ones: VIRTIO_BLK_S_UNSUPP, which is no violation (§5.2.6).
      return reject(type, VIRTIO_BLK_S_UNSUPP, null, null, true);
  }
}

/** A u64 from its two little-endian halves. */
function u64(low: number, high: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low);
}

/** The values a report about a request shows. */
function blockValues(
  head: number,
  type: number,
  sectorLow: number,
  sectorHigh: number,
  readData: number,
  writeData: number,
): Record<string, number | bigint> {
  return { head, type, sector: u64(sectorLow, sectorHigh), readData, writeData };
}

/** Reports a rule the driver broke and rejects the request with IOERR. */
function refuse(
  reporter: ConformanceReporter,
  values: Record<string, number | bigint>,
  id: RequirementId,
  message: string,
): BlockRejection {
  const violation = reporter.report(id, message, values, "completed with VIRTIO_BLK_S_IOERR");
  return reject(Number(values.type), VIRTIO_BLK_S_IOERR, id, violation, true);
}

function reject(
  type: number,
  status: number,
  id: RequirementId | null,
  violation: Violation | null,
  complete: boolean,
): BlockRejection {
  return { op: "reject", type, status, id, violation, complete };
}

/** The first buffer of the chain not inside guest RAM, or `null`. */
function firstOutsideRam(memory: GuestMemory, chain: DescriptorChain): BufferSegment | null {
  return outsideRam(memory, chain.readable) ?? outsideRam(memory, chain.writable);
}

function outsideRam(memory: GuestMemory, segments: readonly BufferSegment[]): BufferSegment | null {
  for (let i = 0; i < segments.length; i++) {
    if (!memory.contains(segments[i].addr, segments[i].len)) return segments[i];
  }
  return null;
}

/** A little-endian u32 at `offset` of the byte stream the segments form, read byte by byte. */
/** Where a header cut across descriptors is gathered (parsing is synchronous: one is enough). */
const HEADER = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE);
const HEADER_VIEW = new DataView(HEADER.buffer);

/**
 * Completes a request in guest memory (§5.2.6): zeroes the data part past
 * the `filled` bytes the backend wrote (so a failed or short request leaves
 * no stale or partial data behind), then writes `status` into the last
 * device-writable byte.
 *
 * @param memory Guest RAM.
 * @param chain The request's chain, as popped.
 * @param status VIRTIO_BLK_S_OK, _IOERR or _UNSUPP.
 * @param filled Data bytes already written from the start of the writable
 *   part (a read's data, the 20-byte ID), 0 for anything else.
 * @returns The used `len`: the bytes written from the first writable byte on,
 *   data and status together (2.7.8.2/2), which for a chain inside RAM is
 *   all of its writable bytes. A writable buffer outside RAM (a chain no
 *   queue validated) ends the count before it: `len` may undercount what was
 *   written (2.7.8.2/3), never overcount.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { completeBlockRequest } from "./request.ts";
 *
 * const memory = new GuestMemory(4096);
 * const chain = {
 *   head: 0, descriptorCount: 2, indirect: false, readable: [{ addr: 0, len: 16 }], readableLength: 16,
 *   writable: [{ addr: 0x200, len: 513 }], writableLength: 513,
 * };
 * assert.equal(completeBlockRequest(memory, chain, 1, 0), 513); // IOERR: 512 zeroes, then the status
 * assert.equal(memory.readU8(0x200 + 512), 1);
 * ```
 */
export function completeBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  status: number,
  filled: number,
): number {
  const writable = chain.writable;
  const dataLength = chain.writableLength - 1;
  let written = 0; // bytes of the written prefix
  let intact = true; // every buffer so far was inside RAM
  let at = 0; // stream offset of the current buffer
  for (let i = 0; i < writable.length; i++) {
    const seg = writable[i];
    const end = at + seg.len;
    const inRam = memory.contains(seg.addr, seg.len);
    if (inRam) {
      // Zero this buffer's share of [filled, dataLength).
      const from = Math.max(at, filled);
      const to = Math.min(end, dataLength);
      if (from < to) memory.fill(seg.addr + (from - at), to - from, 0);
    } else {
      intact = false;
    }
    if (intact) written = end;
    at = end;
  }
  const lastSeg = writable[writable.length - 1];
  memory.writeU8(lastSeg.addr + lastSeg.len - 1, status);
  return written;
}

// ===================================================================== driver

/**
 * One request as the driver lays it out in guest memory. The reference
 * driver keeps one per slot and reuses it: the header and status buffers are
 * the slot's own, allocated once, like the `virtblk_req` Linux keeps per tag.
 */
export interface BlockDriverRequest {
  /** VIRTIO_BLK_T_IN, _OUT, _FLUSH or _GET_ID. */
  readonly type: number;
  /** First sector (0 for flush and GET_ID); a `bigint` only above 2^53. */
  readonly sector: number | bigint;
  /** The 16-byte header buffer (device-readable). */
  readonly header: BufferSegment;
  /** The 1-byte status buffer (device-writable). */
  readonly status: BufferSegment;
  /** The data buffers, in order (empty for flush). */
  readonly data: readonly BufferSegment[];
}

/** The buffers of one request chain, as {@linkcode buildBlockRequest} lists them for `DriverQueue.add`. */
export interface BlockRequestChain {
  /** Device-readable buffers: the header, then the data of an OUT. */
  readonly readable: BufferSegment[];
  /** Device-writable buffers: the data of an IN or GET_ID, then the status. */
  readonly writable: BufferSegment[];
}

/**
 * Builds one request (§5.2.6): writes the header (`type`, `reserved` 0,
 * `sector`) into the request's header buffer, marks the status byte
 * {@linkcode VIRTIO_BLK_S_UNSET}, and lists the chain: the header first,
 * the data in the direction the type implies (device-readable for OUT,
 * device-writable for IN and GET_ID: 5.2.6/D3), the status last (5.2.6/D2).
 * Readable buffers come before writable ones (2.7.4.2/1).
 *
 * @param memory Guest RAM.
 * @param request Type, sector and buffers.
 * @param chain Arrays to fill (emptied first), so a caller can reuse them;
 *   default: new ones.
 * @returns `chain`, filled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { buildBlockRequest } from "./request.ts";
 *
 * const memory = new GuestMemory(4096);
 * const chain = buildBlockRequest(memory, {
 *   type: 0, sector: 42, // VIRTIO_BLK_T_IN at sector 42
 *   header: { addr: 0x100, len: 16 }, status: { addr: 0x110, len: 1 },
 *   data: [{ addr: 0x200, len: 512 }],
 * });
 * assert.deepEqual([...memory.bytes(0x100, 16)], [0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
 * assert.deepEqual(chain.writable.map((s) => s.len), [512, 1]);
 * ```
 */
export function buildBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  chain: BlockRequestChain = { readable: [], writable: [] },
): BlockRequestChain {
  const header = request.header.addr;
  const sector = request.sector;
  memory.writeU32(header + VIRTIO_BLK_REQ_TYPE_OFFSET, request.type);
  memory.writeU32(header + VIRTIO_BLK_REQ_RESERVED_OFFSET, 0);
  if (typeof sector === "number") {
    // le64 as two le32 halves: exact for any sector below 2^53. `>>> 0` is
    // the value modulo 2^32 (a `%` of doubles would be a call into C), and
    // what is left divides exactly.
    const low = sector >>> 0;
    memory.writeU32(header + VIRTIO_BLK_REQ_SECTOR_OFFSET, low);
    memory.writeU32(header + VIRTIO_BLK_REQ_SECTOR_OFFSET + 4, (sector - low) / 0x1_0000_0000);
  } else {
    memory.writeU64(header + VIRTIO_BLK_REQ_SECTOR_OFFSET, sector);
  }
  memory.writeU8(request.status.addr, STATUS_UNSET);
  // Fill by index and trim once: emptying an array first (`length = 0`)
  // would drop its storage, and a reused chain would allocate again.
  const { readable, writable } = chain;
  const data = request.data;
  let r = 0;
  let w = 0;
  readable[r++] = request.header;
  if (request.type === VIRTIO_BLK_T_OUT) {
    for (let i = 0; i < data.length; i++) readable[r++] = data[i];
  } else {
    for (let i = 0; i < data.length; i++) writable[w++] = data[i];
  }
  writable[w++] = request.status;
  if (readable.length !== r) readable.length = r;
  if (writable.length !== w) writable.length = w;
  return chain;
}

/** Device-writable bytes of a request: its data for IN and GET_ID, then the status byte. */
function writableBytes(request: BlockDriverRequest): number {
  if (request.type === VIRTIO_BLK_T_OUT) return 1;
  let total = 1;
  for (let i = 0; i < request.data.length; i++) total += request.data[i].len;
  return total;
}

/**
 * Reads a completed request's status byte (§5.2.6) and turns it into a
 * result.
 *
 * The status is trusted only if the used `len` reaches it: it is the last
 * writable byte, and a driver must not assume anything about bytes past
 * `len` (2.7.8.3/1), even though a device may write more than it counts
 * (2.7.8.2/3).
 *
 * @param memory Guest RAM.
 * @param request The request as built.
 * @param usedLen The used `len` the device returned with it.
 * @returns `null` for VIRTIO_BLK_S_OK; otherwise the error to fail the
 *   request with: VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, a status the spec
 *   does not define, or status -1 when `len` fell short of the status byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { finishBlockRequest } from "./request.ts";
 *
 * const memory = new GuestMemory(4096);
 * const request = { type: 4, sector: 0, header: { addr: 0, len: 16 }, status: { addr: 16, len: 1 }, data: [] };
 * memory.writeU8(16, 2); // VIRTIO_BLK_S_UNSUPP
 * assert.equal(finishBlockRequest(memory, request, 1)?.status, 2);
 * memory.writeU8(16, 0);
 * assert.equal(finishBlockRequest(memory, request, 1), null);
 * ```
 */
export function finishBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  usedLen: number,
): BlockIoError | null {
  const needed = writableBytes(request);
  const type = request.type;
  const count = type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT
    ? dataBytes(request) / SECTOR_SIZE
    : 0;
  if (usedLen < needed) {
    return new BlockIoError(
      type,
      BigInt(request.sector),
      count,
      -1,
      `the device's used length ${usedLen} does not reach the status byte, ${needed} byte(s) in`,
    );
  }
  const status = memory.readU8(request.status.addr);
  if (status === VIRTIO_BLK_S_OK) return null;
  return new BlockIoError(type, BigInt(request.sector), count, status);
}

function dataBytes(request: BlockDriverRequest): number {
  let total = 0;
  for (let i = 0; i < request.data.length; i++) total += request.data[i].len;
  return total;
}

/** A request completed with a status other than VIRTIO_BLK_S_OK. */
export class BlockIoError extends Error {
  /** The request type, such as VIRTIO_BLK_T_IN. */
  readonly type: number;
  /** First sector of the request (0 for flush and GET_ID). */
  readonly sector: bigint;
  /** Sectors in the request (0 for flush and GET_ID). */
  readonly count: number;
  /**
   * The status byte: VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, a value the
   * spec does not define, or -1 when the device's used `len` did not cover
   * the status byte, so no status could be trusted (2.7.8.3/1).
   */
  readonly status: number;

  /**
   * Records the failed request.
   *
   * @param type Request type.
   * @param sector First sector.
   * @param count Sectors.
   * @param status Status byte, or -1.
   * @param reason Why, when it is not the status byte (used with status -1).
   */
  constructor(type: number, sector: bigint, count: number, status: number, reason?: string) {
    super(
      `${blkRequestTypeName(type)} of ${count} sector(s) at sector ${sector} failed` +
        (reason === undefined ? ` with ${blkStatusName(status)} (${status})` : `: ${reason}`),
    );
    this.name = "BlockIoError";
    this.type = type;
    this.sector = sector;
    this.count = count;
    this.status = status;
  }
}
