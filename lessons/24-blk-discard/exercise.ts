// deno-lint-ignore-file no-unused-vars
/**
 * "virtio-blk discard and write zeroes": your exercise.
 *
 * The device says how much one request may discard or zero, in its
 * configuration space ({@linkcode layoutDiscardConfig}), checks each
 * request's segments ({@linkcode parseDiscardRequest}) and has its backend
 * do them ({@linkcode executeDiscardRequest}); the driver reads the limits
 * ({@linkcode readDiscardConfig}), cuts lists of ranges into requests
 * ({@linkcode splitDiscard}) and lays each one out
 * ({@linkcode buildDiscardRequest}). The lab's block device and driver call
 * yours once this lesson passes (`deno task lab boot --mine`).
 *
 * A segment is 16 bytes: le64 `sector`, le32 `num_sectors`, le32 `flags`
 * (bit 0 `unmap`, bits 1-31 reserved). Each doc comment below is a
 * contract; the how is in the lesson and in §5.2.4-§5.2.6. Pieces of the
 * library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,        // 11, 13
 *   VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES,        // bits 13, 14
 *   VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP,                // 1, 2
 *   VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,                     // 0x1
 *   VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,                  // 36 (le32), then 40, 44
 *   VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,             // 48 (le32), then 52
 *   VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,               // 56 (u8)
 *   VIRTIO_BLK_REQ_HEADER_SIZE, SECTOR_SIZE,                // 16, 512
 * } from "../../devices/blk/constants.ts";
 * import { VIRTIO_BLK_S_UNSET } from "../../devices/blk/request.ts"; // 0xff
 * import { hasFeature } from "../../virtio/features.ts";   // (features, bit) -> boolean
 * ```
 *
 * Check your work with `deno task lab check blk-discard`; stuck?
 * `deno task lab hint blk-discard`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { ConformanceReporter } from "../../conformance/log.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { BufferSegment, ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import type { BlockBackend } from "../../devices/blk/backends.ts";
import type { BlockConfigReader } from "../../devices/blk/config.ts";
import type { BlockRejection } from "../../devices/blk/request.ts";
import type {
  BlockDiscardConfig,
  DiscardCursor,
  DiscardDisk,
  DiscardDriverRequest,
  DiscardIoOptions,
  DiscardRange,
  DiscardSegment,
  DiscardSplitLimits,
} from "../../devices/blk/discard.ts";

/**
 * Device side: writes the discard and write zeroes limits into the 72
 * configuration bytes `bytes` (the rest of `struct virtio_blk_config` is
 * already there): for `config.discard`, le32 `maxSectors` at 36,
 * `maxSegments` at 40, `alignment` at 44; for `config.writeZeroes`, le32
 * `maxSectors` at 48, `maxSegments` at 52, and `write_zeroes_may_unmap` at
 * 56 (one byte: 1 when `mayUnmap`, else 0). A command that is `null` is not
 * offered: its bytes stay as they are. No other byte changes.
 *
 * @param config The limits of the commands offered.
 * @param bytes The configuration bytes, changed in place.
 * @throws {RangeError} If `bytes` is not 72 bytes, a value is not an integer
 *   that fits its le32, or an offered command's `maxSectors` or
 *   `maxSegments` is 0: no request could carry a range (5.2.4/D1). Then
 *   whatever was written before the throw is free.
 */
export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  return todo("layoutDiscardConfig", "lay out the discard and write zeroes limits");
}

/**
 * Device side: decides a VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES
 * request whose framing `parseBlockRequest` already checked (a 16-byte
 * header, a status byte last, every buffer in RAM), and reads its segments.
 * The segments are the device-readable bytes after the header, however the
 * descriptors cut them: read them with `read(memory, chain.readable, dest,
 * offset)` (the queue's stream copy, returns the bytes copied).
 *
 * Checked in this order; the first that applies decides. "Reported" means
 * `reporter.report(id, message, values, action)` once, with that id; the
 * rejection then carries the report as `violation` (message, values and
 * action are yours). Every rejection has `op: "reject"`, `type`, and
 * `complete: true`.
 *
 * | the request                                                             | returns (status, `id`, `violation`)       |
 * | ----------------------------------------------------------------------- | ----------------------------------------- |
 * | its command is `null` in `disk` (not negotiated)                        | UNSUPP, `null`, `null`; nothing reported  |
 * | device-writable bytes besides the status byte                           | IOERR, reported 5.2.6/D3                  |
 * | data after the header not a positive multiple of 16 bytes               | IOERR, reported 5.2.6.1/6                 |
 * | more segments than `maxSegments`                                        | IOERR, reported 5.2.6.1/8 (discard) or 5.2.6.1/10 (write zeroes) |
 * | then, segment by segment in order, the first that breaks a rule:        |                                           |
 * | a discard with `unmap` set                                              | UNSUPP, reported 5.2.6.1/13               |
 * | a flag other than `unmap` set                                           | UNSUPP, `"5.2.6.2/2"`, `null`; nothing reported |
 * | `sector + num_sectors` above `disk.capacity` (exactly, over 64 bits)    | IOERR, reported 5.2.6/D4                  |
 * | `num_sectors` above the command's `maxSectors`                          | IOERR, reported 5.2.6/D5                  |
 * | none of the above                                                       | the number of segments, each in `segments[i]` as `{ sector, sectors, unmap }`; nothing reported |
 *
 * A segment of 0 sectors is valid. `segments` may hold old records: reuse
 * them or replace them, but entry `i` must be segment `i` for every `i`
 * below the count returned.
 *
 * @param memory Guest RAM.
 * @param chain The request's chain.
 * @param type The header's type: 11 (discard) or 13 (write zeroes).
 * @param disk `capacity` in sectors, and each command's limits or `null`.
 * @param reporter Where the driver's violations go.
 * @param segments The records to fill.
 * @param read The queue's stream copy out of the readable buffers.
 * @returns The count of segments, or a rejection.
 */
export function parseDiscardRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  type: number,
  disk: DiscardDisk,
  reporter: ConformanceReporter,
  segments: DiscardSegment[],
  read?: ChainStreamParts["readChain"],
): number | BlockRejection {
  return todo("parseDiscardRequest", `check the segments of a type ${type} request`);
}

/**
 * Device side: does an accepted request's `count` segments (the entries of
 * `segments` after them are not the request's) on the backend, one call per
 * segment, in order, each started after the one before has resolved:
 *
 * | `type`             | the call, in bytes (`sector × 512`, `sectors × 512`)                 |
 * | ------------------ | -------------------------------------------------------------------- |
 * | 11 (discard)       | `backend.discard!(offset, length, options.signal)`                   |
 * | 13 (write zeroes)  | `backend.writeZeroes!(offset, length, segment.unmap, options.signal)` |
 *
 * A segment of 0 sectors makes no call. Each call resolves `true` when the
 * backend deallocated the range. When a call rejects, no later segment is
 * done and the promise rejects with that error, once no call is running.
 *
 * @param backend The storage (it has `discard` and `writeZeroes`).
 * @param type 11 or 13.
 * @param segments The request's segments.
 * @param count How many of them the request holds.
 * @param options The reset `signal`.
 * @returns The sum of the sectors of the segments whose call resolved `true`.
 */
export function executeDiscardRequest(
  backend: BlockBackend,
  type: number,
  segments: readonly DiscardSegment[],
  count: number,
  options: DiscardIoOptions,
): Promise<number> {
  return todo("executeDiscardRequest", `do ${count} segment(s) on the backend`);
}

/**
 * Driver side: reads the discard and write zeroes limits of the bound
 * device, every read inside one `device.readConfigConsistent(() => ...)`
 * call, each field with `device.readConfig(offset, width)` and only when its
 * feature bit is in `device.features`:
 *
 * | feature                        | fields read (offset, width)                                  | returned as                                   |
 * | ------------------------------ | ------------------------------------------------------------ | --------------------------------------------- |
 * | VIRTIO_BLK_F_DISCARD (13)      | max_discard_sectors (36, 4), max_discard_seg (40, 4), discard_sector_alignment (44, 4) | `discard: { maxSectors, maxSegments, alignment }` |
 * | VIRTIO_BLK_F_WRITE_ZEROES (14) | max_write_zeroes_sectors (48, 4), max_write_zeroes_seg (52, 4), write_zeroes_may_unmap (56, 1) | `writeZeroes: { maxSectors, maxSegments, mayUnmap }` (`mayUnmap`: the byte is not 0) |
 *
 * A command without its feature is `null`. A command whose `maxSectors` or
 * `maxSegments` reads 0 is reported once, 5.2.4/D1, with
 * `device.reporter.report(id, message, values, action)`, and returned
 * `null` (the driver must never send it). Values are as read: the
 * alignment is not clamped.
 *
 * @param device The bound device.
 * @returns `{ discard, writeZeroes }`.
 */
export function readDiscardConfig(device: BlockConfigReader): BlockDiscardConfig {
  return todo("readDiscardConfig", "read the discard and write zeroes limits");
}

/**
 * Driver side: cuts the next request off a list of ranges, starting at
 * `cursor` (range index, sectors of it already sent) and advancing it past
 * what the request takes. The request is as large as the limits allow:
 *
 * - ranges in order, one segment per range (or piece of one); a range of 0
 *   sectors is skipped;
 * - at most `limits.maxSegments` segments, their sectors together at most
 *   `limits.maxSectors`;
 * - when the sector budget ends inside a range, and `limits.alignment` is
 *   above 1, the piece is shortened to end on a multiple of the alignment,
 *   if at least one sector is left in it (5.2.5/D1); the request then ends
 *   (the rest of the range starts the next one);
 * - every segment's `unmap` is the `unmap` given.
 *
 * Afterwards `segments` holds exactly the request's segments (its length is
 * the count; reusing its records is yours to do or not).
 *
 * @param limits Sectors and segments per request, and the alignment (0 or 1: none).
 * @param ranges The ranges, `{ sector, count }` in sectors.
 * @param cursor Where the request starts; advanced in place.
 * @param segments The array to fill.
 * @param unmap The flag for every segment.
 * @returns The count of segments, 0 once every range is sent.
 */
export function splitDiscard(
  limits: DiscardSplitLimits,
  ranges: readonly DiscardRange[],
  cursor: DiscardCursor,
  segments: DiscardSegment[],
  unmap: boolean,
): number {
  return todo("splitDiscard", `cut a request off ${ranges.length} range(s)`);
}

/**
 * Driver side: lays out one request in guest memory and lists its chain:
 *
 * - the header at `request.header.addr`: le32 `type`, le32 `reserved` 0,
 *   le64 `sector` 0 (unused by these commands);
 * - segment `i` of the first `request.count` at `request.table.addr + 16 ×
 *   i`: le64 `sector`, le32 `sectors`, le32 flags, which is 1 (unmap) only
 *   for a write zeroes (type 13) whose segment has `unmap`, else 0; no
 *   other byte of the table is written;
 * - the status byte at `request.status.addr`: VIRTIO_BLK_S_UNSET (0xff);
 * - `chain.readable` emptied, then `[request.header, { addr:
 *   request.table.addr, len: 16 × count }]`; `chain.writable` emptied, then
 *   `[request.status]`.
 *
 * @param memory Guest RAM.
 * @param request Type, header, status and table buffers, segments, count.
 * @param chain The lists to fill (default: new ones).
 * @returns `chain`, filled.
 * @throws {RangeError} If `count` is not an integer from 1 to
 *   `segments.length`, or `request.table.len` is below 16 × `count`
 *   (nothing is written then).
 */
export function buildDiscardRequest(
  memory: GuestMemory,
  request: DiscardDriverRequest,
  chain?: { readable: BufferSegment[]; writable: BufferSegment[] },
): { readable: BufferSegment[]; writable: BufferSegment[] } {
  return todo("buildDiscardRequest", `lay out a type ${request.type} request`);
}
