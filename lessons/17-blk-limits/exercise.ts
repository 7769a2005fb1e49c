// deno-lint-ignore-file no-unused-vars
/**
 * "virtio-blk limits": your exercise.
 *
 * The device says how big the disk is and how big a request may be, in its
 * configuration space ({@linkcode blockConfigSpace}), and serves accepted
 * requests on its backend ({@linkcode executeBlockRequest}); the driver
 * reads that configuration ({@linkcode readBlockConfig}), turns it into
 * request limits ({@linkcode blockTransferLimits}) and cuts every transfer
 * into requests that keep them ({@linkcode splitTransfer}). The lab's block
 * device and driver call yours once this lesson passes
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §5.2.3-§5.2.6. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_BLK_CONFIG_CAPACITY, VIRTIO_BLK_CONFIG_SIZE_MAX, // 0 (le64), 8 (le32)
 *   VIRTIO_BLK_CONFIG_SEG_MAX, VIRTIO_BLK_CONFIG_BLK_SIZE,  // 12, 20 (le32)
 *   VIRTIO_BLK_CONFIG_UNUSED0, VIRTIO_BLK_CONFIG_SIZE,      // 33 (u8), 72 bytes in all
 *   VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, // bits 1, 2, 6
 *   VIRTIO_BLK_REQ_HEADER_SIZE, SECTOR_SIZE,                // 16, 512
 * } from "../../devices/blk/constants.ts";
 * import { hasFeature } from "../../virtio/features.ts";   // (features, bit) -> boolean
 * import { MAX_SEGMENT_BYTES } from "../../devices/blk/transfer.ts"; // 2^32 - 1
 * ```
 *
 * Check your work with `deno task lab check blk-limits`; stuck?
 * `deno task lab hint blk-limits`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import type { BlockBackend } from "../../devices/blk/backends.ts";
import type { BlockConfig, BlockConfigReader } from "../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../devices/blk/io.ts";
import type { BlockRequest } from "../../devices/blk/request.ts";
import type { BlockTransferLimits, MutableBufferSegment } from "../../devices/blk/transfer.ts";

/**
 * Device side: lays out `struct virtio_blk_config` (§5.2.4): a new
 * 72-byte array, little-endian, holding `capacity` (le64 at 0, in 512-byte
 * sectors), `size_max` (le32 at 8), `seg_max` (le32 at 12) and `blk_size`
 * (le32 at 20). A field given as `null` reads 0; so does every other byte,
 * `unused0` and `unused1` included (5.2.5.2/3).
 *
 * @param config The values.
 * @returns The 72 bytes.
 * @throws {RangeError} If `capacity` is not from 0 to 2^64 - 1, or a 32-bit
 *   field is not an integer from 0 to 2^32 - 1.
 */
export function blockConfigSpace(config: BlockConfig): Uint8Array {
  return todo("blockConfigSpace", `lay out a disk of ${config.capacity} sectors`);
}

/**
 * Device side: does the backend work of one request `parseBlockRequest`
 * accepted (every buffer is inside RAM):
 *
 * | `request.op` | the backend calls                                                         | settles when          |
 * | ------------ | ------------------------------------------------------------------------- | --------------------- |
 * | `"read"`     | `backend.read(offset, view)` for the `length` bytes at `request.offset`, into the chain's writable buffers from the first byte on (views of guest RAM from `memory.bytes`) | every read settled |
 * | `"write"`    | `backend.write(offset, view)` for the `length` readable bytes after the 16-byte header (which may share a buffer with data); then, only with `options.writeThrough`, `backend.flush()` after every write has resolved | the writes, then the flush, settled |
 * | `"flush"`    | `backend.flush()`                                                         | the flush settled     |
 * | `"get-id"`   | none: `options.id` (20 bytes) into the writable buffers from the first byte (`write`, the queue's stream copy, does it) | at once |
 *
 * How many backend calls a read or write makes is yours (one per buffer, one
 * per byte range...), as long as together they cover exactly the data, each
 * byte once, at its disk offset. Pass `options.signal` to each. The promise
 * resolves when the work is done and rejects when any backend call rejects
 * or throws, but never before every call made has settled: no backend may
 * still be filling guest memory when the device reports the status. A
 * write with `writeThrough` is stable before it completes (5.2.6.2/9), and
 * no write without it waits for a flush.
 *
 * @param backend The storage.
 * @param memory Guest RAM.
 * @param chain The request's chain.
 * @param request The accepted request: `op`, `offset` and `length` in bytes.
 * @param options `writeThrough`, the 20-byte `id`, the reset `signal`.
 * @param write The queue's stream copy into the writable buffers, `write(memory,
 *   segments, src, skip)` → bytes copied.
 * @returns A promise of the work.
 */
export function executeBlockRequest(
  backend: BlockBackend,
  memory: GuestMemory,
  chain: DescriptorChain,
  request: BlockRequest,
  options: BlockIoOptions,
  write?: ChainStreamParts["writeChain"],
): Promise<void> {
  return todo("executeBlockRequest", `serve a ${request.op} of ${request.length} byte(s)`);
}

/**
 * Driver side: reads the block configuration of the bound device (§5.2.4):
 *
 * - `capacity` with `device.readConfig64(0)` (two 32-bit halves: a disk
 *   above 2^32 sectors is common);
 * - `size_max`, `seg_max`, `blk_size` with `device.readConfig(offset, 4)`,
 *   each only when its feature bit is in `device.features` (a field without
 *   its feature does not exist: never read it), else `null`;
 * - `unused0` (1 byte at 33): if it is not 0, report 5.2.5.2/3 with
 *   `device.reporter.report(id, message, values, action)` and go on;
 *
 * every read inside one `device.readConfigConsistent(() => ...)` call, so the
 * fields come from one generation (§2.5.1). Nothing is clamped or defaulted.
 *
 * @param device The bound device.
 * @returns `{ capacity, sizeMax, segMax, blkSize }`.
 * @throws {RangeError} If `blk_size` was read and is not a power of two from
 *   512 to 65536.
 */
export function readBlockConfig(device: BlockConfigReader): BlockConfig {
  return todo("readBlockConfig", "read capacity and the negotiated limits");
}

/**
 * Driver side: the limits of every request, from the configuration:
 *
 * | field             | value                                                                      |
 * | ----------------- | -------------------------------------------------------------------------- |
 * | `segMax`          | `seg_max` (1 without it; 0 read as 1), at most `queueSize - 2`: the header and the status take two more descriptors, and no chain may be longer than the queue (2.7.5.3.1/3) |
 * | `sizeMax`         | `size_max`, or `MAX_SEGMENT_BYTES` (2^32 - 1) without it or when it is 0   |
 * | `maxRequestBytes` | `segMax × sizeMax`, at most `maxTransferBytes`, rounded down to a multiple of 512; computed exactly (no 32-bit wrap) |
 *
 * @param config The configuration as read.
 * @param queueSize The request queue's size, in descriptors.
 * @param maxTransferBytes The driver's own cap on one request, in bytes.
 * @returns `{ segMax, sizeMax, maxRequestBytes }`.
 * @throws {RangeError} If `queueSize` is below 3, or `maxRequestBytes`
 *   would be below 512.
 */
export function blockTransferLimits(
  config: BlockConfig,
  queueSize: number,
  maxTransferBytes: number,
): BlockTransferLimits {
  return todo("blockTransferLimits", `limits for a ${queueSize}-descriptor queue`);
}

/**
 * Driver side: cuts the next request off a transfer of `length` bytes at
 * guest address `data`. Afterwards `segments` holds exactly the request's
 * data segments, in order, contiguous from `data` on: at most
 * `limits.segMax` of them, none longer than `limits.sizeMax`, together a
 * whole number of sectors and at most `limits.maxRequestBytes`, and as many
 * bytes as those limits allow (the largest multiple of 512 that fits).
 * Reusing the objects already in `segments` is yours to do or not.
 *
 * @param limits The request limits.
 * @param data Guest address of the rest of the transfer.
 * @param length Bytes left: a positive multiple of 512.
 * @param segments The array to fill (its old entries are not the request's).
 * @returns The request's bytes: the sum of the segments.
 * @throws {RangeError} If `length` is not a positive multiple of 512.
 */
export function splitTransfer(
  limits: BlockTransferLimits,
  data: number,
  length: number,
  segments: MutableBufferSegment[],
): number {
  return todo("splitTransfer", `cut a request off ${length} byte(s)`);
}
