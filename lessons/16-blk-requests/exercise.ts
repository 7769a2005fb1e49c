// deno-lint-ignore-file no-unused-vars
/**
 * "virtio-blk requests": your exercise.
 *
 * A virtio-blk request is one chain: a 16-byte header the device reads, the
 * data, and one status byte the device writes (§5.2.6). The device parses a
 * chain it popped ({@linkcode parseBlockRequest}) and, once the backend is
 * done, completes it ({@linkcode completeBlockRequest}); the driver builds a
 * request ({@linkcode buildBlockRequest}) and reads its status
 * ({@linkcode finishBlockRequest}). The lab's block device and driver call
 * yours for every request once this lesson passes (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §5.2.6. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, // 0, 1, 4, 8
 *   VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP,                  // 0, 1, 2
 *   VIRTIO_BLK_REQ_HEADER_SIZE, // 16: le32 type at 0, le32 reserved at 4, le64 sector at 8
 *   VIRTIO_BLK_ID_BYTES,        // 20: the GET_ID string
 *   SECTOR_SIZE,                // 512
 * } from "../../devices/blk/constants.ts";
 * import { BlockIoError, VIRTIO_BLK_S_UNSET } from "../../devices/blk/request.ts";
 * ```
 *
 * Guest memory is read and written only through `memory`'s accessors
 * (`readU32`, `writeU64`, `fill`, `contains`, `bytes`...). Check your work
 * with `deno task lab check blk-requests`; stuck? `deno task lab hint blk-requests`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { ConformanceReporter } from "../../conformance/log.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import type {
  BlockDisk,
  BlockDriverRequest,
  BlockIoError,
  BlockRejection,
  BlockRequest,
  BlockRequestChain,
} from "../../devices/blk/request.ts";

/**
 * Device side: parses one chain the requestq popped (its buffers in
 * `chain.readable` and `chain.writable`, each list in chain order) and says
 * what to do with it. Nothing the driver wrote may make it throw.
 *
 * The request is: a device-readable header of 16 bytes (`le32 type`,
 * `le32 reserved`, `le64 sector`), however the driver cut it into buffers;
 * after it, the data; the status is the **last** byte of the last writable
 * buffer. Data bytes are the readable bytes after the header
 * (`readableLength - 16`) and the writable bytes before the status
 * (`writableLength - 1`).
 *
 * Rules, checked in this order; the first broken one decides, and every
 * rejection carries the header's `type` (or -1 when it was not read):
 *
 * | the chain                                                       | returns                                    | report      |
 * | --------------------------------------------------------------- | ------------------------------------------ | ----------- |
 * | no writable byte                                                | rejection, IOERR, `complete: false`        | 5.2.6/D2    |
 * | its last writable buffer outside RAM (`memory.contains`)        | rejection, IOERR, `complete: false`        | 2.7.5/D2    |
 * | any other buffer outside RAM                                    | rejection, IOERR                           | 2.7.5/D2    |
 * | fewer than 16 readable bytes                                    | rejection, IOERR                           | 5.2.6/D1    |
 * | IN with readable data, OUT with writable data, GET_ID with readable data | rejection, IOERR                  | 5.2.6/D3    |
 * | IN or OUT data not a multiple of 512 bytes                      | rejection, IOERR                           | 5.2.6.1/5   |
 * | IN or OUT reaching past `disk.capacity` sectors (`sector` is a u64: no wrap-around) | rejection, IOERR       | 5.2.6.1/1   |
 * | OUT with `disk.readOnly`                                        | rejection, IOERR, `id: "5.2.6.2/1"`, `violation: null` | none |
 * | GET_ID with less than 20 data bytes                             | rejection, IOERR                           | 5.2.6.1/7   |
 * | any type but IN, OUT, FLUSH, GET_ID                             | rejection, UNSUPP, `id: null`, `violation: null` | none  |
 *
 * and accepted, each rule broken counted in `warnings`:
 *
 * | the request                 | `op`       | `offset`       | `length`        | reported but served       |
 * | --------------------------- | ---------- | -------------- | --------------- | ------------------------- |
 * | IN                          | `"read"`   | `sector × 512` | its data bytes  | 5.2.3/D1 (below)          |
 * | OUT                         | `"write"`  | `sector × 512` | its data bytes  | 5.2.3/D1 (below)          |
 * | FLUSH                       | `"flush"`  | 0              | 0               | sector not 0: 5.2.6.1/3; data: 5.2.6.1/4 |
 * | GET_ID                      | `"get-id"` | 0              | 20              | more than 20 bytes: 5.2.6.1/7 |
 *
 * 5.2.3/D1: when `disk.segMax` or `disk.sizeMax` is a number (the driver
 * negotiated that limit), an IN or OUT whose data lies in more than
 * `segMax` buffers (counting each buffer that holds at least one data
 * byte), or has a data buffer with more than `sizeMax` data bytes in it.
 *
 * A rejection is `{ op: "reject", type, status, id, violation, complete }`:
 * `id` the rule's id, `violation` what `reporter.report(id, message,
 * values, action)` returned (the wording is yours), `complete` true unless
 * the table says otherwise. An accepted request also has `type` and
 * `sector` (the header's); you may fill and return `request`, or a record
 * of your own. A rule reported is reported once; nothing else is reported.
 *
 * @param memory Guest RAM.
 * @param chain The popped chain: buffers, their total lengths, the head.
 * @param disk `capacity` (512-byte sectors), `readOnly`, and the negotiated
 *   `segMax`/`sizeMax` (or `null`/absent).
 * @param reporter Where the driver's violations go.
 * @param request A record you may fill and return for an accepted request.
 * @param read The requestq's stream copy, `read(memory, segments, into,
 *   skip)` → bytes copied: yours to use for a header cut across buffers (or
 *   read it however you like).
 * @returns The accepted request, or a rejection.
 */
export function parseBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  disk: BlockDisk,
  reporter: ConformanceReporter,
  request?: BlockRequest,
  read?: ChainStreamParts["readChain"],
): BlockRequest | BlockRejection {
  return todo(
    "parseBlockRequest",
    `parse the request at head ${chain.head}: ${chain.readableLength} readable, ` +
      `${chain.writableLength} writable byte(s)`,
  );
}

/**
 * Device side: completes a request in guest memory. Afterwards:
 *
 * - the last byte of the last writable buffer holds `status`;
 * - the first `filled` data bytes (what the backend wrote: a read's data,
 *   the ID) are as they were, and every other data byte before the status
 *   is 0, so a failed or short request leaves nothing stale behind;
 * - nothing outside the chain's writable buffers was stored (2.7.5.1/1).
 *
 * A writable buffer outside RAM (`memory.contains` false; only a chain no
 * queue validated has one) is skipped; the last one is always inside RAM.
 *
 * @param memory Guest RAM.
 * @param chain The request's chain.
 * @param status VIRTIO_BLK_S_OK, _IOERR or _UNSUPP.
 * @param filled Data bytes already written, from the first writable byte.
 * @returns The used `len`: the writable bytes from the first writable byte
 *   up to the first buffer outside RAM (all of them when none is), so that
 *   `len` never counts a byte that was not written (2.7.8.2/2).
 */
export function completeBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  status: number,
  filled: number,
): number {
  return todo("completeBlockRequest", `write status ${status} into request ${chain.head}`);
}

/**
 * Driver side: lays out one request. Afterwards:
 *
 * - the 16 bytes at `request.header.addr` are the header: `le32 type`,
 *   `le32 reserved` = 0, `le64 sector` (a `number` below 2^53 or a `bigint`);
 * - the byte at `request.status.addr` is `VIRTIO_BLK_S_UNSET` (0xff), so a
 *   device that never writes the status cannot pass for one that wrote OK;
 * - nothing else in guest memory changed (the data is the caller's);
 * - `chain.readable` is the header, then for OUT the data buffers;
 *   `chain.writable` is for IN and GET_ID the data buffers, then the status
 *   (for FLUSH: the header alone, then the status). The lists hold exactly
 *   these entries, in this order: a reused chain's old entries are gone.
 *
 * @param memory Guest RAM.
 * @param request Type, sector, header, status and data buffers.
 * @param chain Lists to fill (you may fill these two arrays, or use new ones).
 * @returns The chain, filled: the queue posts exactly what it lists.
 */
export function buildBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  chain?: BlockRequestChain,
): BlockRequestChain {
  return todo("buildBlockRequest", `lay out a type-${request.type} request`);
}

/**
 * Driver side: turns a completed request into its result.
 *
 * | the device returned                                            | returns                              |
 * | -------------------------------------------------------------- | ------------------------------------ |
 * | a `usedLen` short of the status byte (2.7.8.3/1): less than the writable bytes posted (IN and GET_ID: data + 1; OUT and FLUSH: 1) | `BlockIoError`, `status` -1, the status byte not trusted |
 * | status VIRTIO_BLK_S_OK                                          | `null`                               |
 * | any other status byte (IOERR, UNSUPP, a value the spec does not define) | `BlockIoError` with that `status` |
 *
 * A `BlockIoError` (`new BlockIoError(type, sector, count, status, reason?)`)
 * carries the request's `type`, its `sector` as a `bigint`, and `count`:
 * the sectors it moves (data bytes / 512) for IN and OUT, 0 otherwise. Its
 * message is yours.
 *
 * @param memory Guest RAM.
 * @param request The request as built.
 * @param usedLen The used `len` the device returned.
 * @returns `null`, or the error to fail the request with.
 */
export function finishBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  usedLen: number,
): BlockIoError | null {
  return todo("finishBlockRequest", `read the status of a type-${request.type} request`);
}
