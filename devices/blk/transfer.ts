/**
 * How the block driver cuts a transfer into requests (virtio v1.2 §5.2.3,
 * §5.2.6): the limits follow from `seg_max`, `size_max` and the queue size
 * ({@linkcode blockTransferLimits}), and each request takes as much of the
 * transfer as they allow ({@linkcode splitTransfer}).
 *
 * `seg_max` counts *data* segments: a request is a header, up to `seg_max`
 * data segments of up to `size_max` bytes each, and a status byte, so one
 * request moves up to `seg_max × size_max` bytes. NetBSD's ld@virtio read it
 * wrong twice (PR kern/58338, PR kern/57981): it counted the header and the
 * status among the `seg_max` segments, and used SEG_MAX and SIZE_MAX as
 * limits on the whole transfer, so a device with a small `size_max` could
 * not be attached at all.
 *
 * @module
 */

import * as blk from "./constants.ts";
import type { BlockConfig } from "./config.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  SECTOR_SIZE,
} = blk;

/** Largest `len` one descriptor can carry (le32), the segment size when `size_max` is absent. */
export const MAX_SEGMENT_BYTES = 0xffff_ffff;

/** The limits every request obeys, as {@linkcode blockTransferLimits} computes them. */
export interface BlockTransferLimits {
  /** Data segments per request, at least 1. */
  readonly segMax: number;
  /** Bytes per data segment, at least 1. */
  readonly sizeMax: number;
  /** Bytes per request: a positive multiple of 512, at most `segMax × sizeMax`. */
  readonly maxRequestBytes: number;
}

/** A buffer segment {@linkcode splitTransfer} may overwrite in place. */
export interface MutableBufferSegment {
  /** Guest-physical address. */
  addr: number;
  /** Length in bytes. */
  len: number;
}

/**
 * The limits of the driver's requests, from the device's configuration:
 *
 * - `segMax`: `seg_max`, or 1 without VIRTIO_BLK_F_SEG_MAX; a `seg_max` of 0
 *   is read as 1 (Linux: "We need at least one SG element, whatever they
 *   say"); and at most `queueSize - 2`, because the header and the status
 *   take two more descriptors and no chain, counting an indirect table's
 *   entries, may be longer than the queue (2.7.5.3.1/3);
 * - `sizeMax`: `size_max`, or 2^32 - 1 (what one descriptor holds) without
 *   VIRTIO_BLK_F_SIZE_MAX or when it reads 0;
 * - `maxRequestBytes`: `segMax × sizeMax`, capped at `maxTransferBytes`, in
 *   whole sectors. The product is computed in doubles, exact up to 2^53:
 *   `size_max` near 2^32 must not wrap to a small or zero segment size when
 *   squeezed into 32 bits (Linux fafb51a67fb8 "virtio-blk: fix implicit
 *   overflow on virtio_max_dma_size").
 *
 * @param config The configuration as read.
 * @param queueSize Queue Size of the request queue, in descriptors.
 * @param maxTransferBytes The driver's own cap on one request, in bytes.
 * @returns The limits.
 * @throws {RangeError} If the queue has fewer than 3 descriptors (a header,
 *   one data segment and a status), or the limits allow less than one sector
 *   per request: the device is unusable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockTransferLimits } from "./transfer.ts";
 * const limits = blockTransferLimits(
 *   { capacity: 1024n, sizeMax: 4096, segMax: 32, blkSize: 512 },
 *   128,
 *   1024 * 1024,
 * );
 * assert.deepEqual(limits, { segMax: 32, sizeMax: 4096, maxRequestBytes: 131072 });
 * ```
 */
export function blockTransferLimits(
  config: BlockConfig,
  queueSize: number,
  maxTransferBytes: number,
): BlockTransferLimits {
  if (queueSize < 3) {
    throw new RangeError(
      `Request queue of ${queueSize} descriptor(s) cannot hold a request: a header, a data ` +
        "segment and a status need 3",
    );
  }
  const segMax = Math.min(Math.max(1, config.segMax ?? 1), queueSize - 2);
  const sizeMax = config.sizeMax === null || config.sizeMax === 0
    ? MAX_SEGMENT_BYTES
    : config.sizeMax;
  const perRequest = Math.min(segMax * sizeMax, maxTransferBytes);
  const maxRequestBytes = perRequest - (perRequest % SECTOR_SIZE);
  if (maxRequestBytes < SECTOR_SIZE) {
    throw new RangeError(
      `seg_max ${segMax} × size_max ${sizeMax} is less than one ${SECTOR_SIZE}-byte sector`,
    );
  }
  return { segMax, sizeMax, maxRequestBytes };
}

/**
 * Cuts the next request off a transfer: the data segments of a request that
 * takes as many of the `length` bytes at `data` as the limits allow. No
 * segment is longer than `sizeMax`, there are at most `segMax` of them, the
 * request holds at most `maxRequestBytes`, and it is a whole number of
 * sectors (5.2.6.1/5): when `sizeMax` is not a multiple of 512 the last
 * segment is shortened to end on a sector boundary.
 *
 * @param limits The request limits.
 * @param data Guest address of the rest of the transfer.
 * @param length Bytes left in the transfer: a positive multiple of 512.
 * @param segments Where the request's data segments go: emptied, then
 *   filled, reusing the objects already in it (so a caller that keeps one
 *   array per request slot allocates nothing once it has grown).
 * @returns The request's length in bytes: the sum of the segments, a
 *   multiple of 512, at most `length`; positive unless the limits allow less
 *   than one sector (which {@linkcode blockTransferLimits} refuses).
 * @throws {RangeError} If `length` is not a positive multiple of 512.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitTransfer } from "./transfer.ts";
 * const segments: { addr: number; len: number }[] = [];
 * const limits = { segMax: 3, sizeMax: 700, maxRequestBytes: 2048 };
 * assert.equal(splitTransfer(limits, 0x10000, 4096, segments), 2048);
 * assert.deepEqual(segments.map((s) => s.len), [700, 700, 648]);
 * ```
 */
export function splitTransfer(
  limits: BlockTransferLimits,
  data: number,
  length: number,
  segments: MutableBufferSegment[],
): number {
  if (!Number.isSafeInteger(length) || length <= 0 || length % SECTOR_SIZE !== 0) {
    throw new RangeError(`Transfer of ${length} byte(s) is not a positive number of sectors`);
  }
  const { segMax, sizeMax } = limits;
  let take = Math.min(length, limits.maxRequestBytes);
  // Never more than segMax segments of sizeMax, whatever maxRequestBytes says.
  take = Math.min(take, segMax * sizeMax);
  take -= take % SECTOR_SIZE;
  let count = 0;
  for (let at = 0; at < take; at += sizeMax) {
    const len = Math.min(sizeMax, take - at);
    const segment = segments[count];
    if (segment === undefined) {
      segments.push({ addr: data + at, len });
    } else {
      segment.addr = data + at;
      segment.len = len;
    }
    count++;
  }
  // A store to `length` is a runtime call even when nothing changes: only
  // when the list shrinks.
  if (segments.length !== count) segments.length = count;
  return take;
}
