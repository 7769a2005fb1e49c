/**
 * The block device's backend I/O for an accepted request (virtio v1.2
 * §5.2.6): moving data between the request's guest buffers and the
 * {@linkcode BlockBackend}, flushing, and the durability rules of §5.2.6.2.
 *
 * @module
 */

import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { BufferSegment, ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import { writeChain } from "../../virtqueue/chain.ts";
import type { BlockBackend } from "./backends.ts";
import * as blk from "./constants.ts";
import type { BlockRequest } from "./request.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  VIRTIO_BLK_REQ_HEADER_SIZE,
} = blk;

/** How {@linkcode executeBlockRequest} serves a request, fixed once features are negotiated. */
export interface BlockIoOptions {
  /**
   * Flush after every write, before it completes: set when the device
   * offered VIRTIO_BLK_F_FLUSH and the driver did not accept it. Such a
   * driver treats the cache as writethrough (5.2.5.1/2): a completed write is
   * stable (§5.2.6, case 1), and on persistent storage a stable write is
   * committed before its completion is reported (5.2.6.2/9).
   */
  readonly writeThrough: boolean;
  /** The 20-byte device ID string for VIRTIO_BLK_T_GET_ID, NUL-padded. */
  readonly id: Uint8Array;
  /** Aborted by a device or queue reset: the backend must then leave the guest buffers alone. */
  readonly signal?: AbortSignal;
}

/**
 * Does the backend work of one accepted request:
 *
 * - `read`: reads `length` bytes at `offset` straight into the chain's
 *   device-writable buffers, one backend read per buffer (zero-copy views of
 *   guest RAM: the data is copied once, by the backend);
 * - `write`: writes the device-readable bytes after the 16-byte header,
 *   wherever the header ends (it may share a buffer with the data), then
 *   flushes first if {@linkcode BlockIoOptions.writeThrough};
 * - `flush`: `backend.flush()`, so writes completed before it are committed
 *   when it completes (5.2.6.2/9);
 * - `get-id`: the 20 ID bytes into the start of the writable part.
 *
 * The promise settles only when every backend operation has settled, failed
 * ones included: none may still be writing into guest memory when the
 * device reports the status.
 *
 * @param backend The storage.
 * @param memory Guest RAM.
 * @param chain The request's chain (validated: every buffer inside RAM).
 * @param request The request as {@linkcode parseBlockRequest} accepted it.
 * @param options Write-through, the ID, the reset signal.
 * @param write The stream copy into the chain's writable buffers (the
 *   requestq's `writeChain` part, `DeviceQueue.streams`), for GET_ID's ID;
 *   data moves between the backend and guest buffers directly (zero copy).
 * @returns Resolves when the work is done; rejects with the first backend error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { MemoryBlockBackend } from "./backends.ts";
 * import { executeBlockRequest } from "./io.ts";
 *
 * const disk = new MemoryBlockBackend(new Uint8Array(4096).fill(7));
 * const memory = new GuestMemory(8192);
 * const chain = {
 *   head: 0, descriptorCount: 3, indirect: false, readable: [{ addr: 0, len: 16 }], readableLength: 16,
 *   writable: [{ addr: 0x1000, len: 256 }, { addr: 0x1100, len: 257 }], writableLength: 513,
 * };
 * const request = { op: "read" as const, type: 0, sector: 1, offset: 512, length: 512, warnings: 0 };
 * await executeBlockRequest(disk, memory, chain, request, { writeThrough: false, id: new Uint8Array(20) });
 * assert.equal(memory.readU8(0x1100 + 255), 7); // the last data byte; the status byte follows
 * ```
 */
export function executeBlockRequest(
  backend: BlockBackend,
  memory: GuestMemory,
  chain: DescriptorChain,
  request: BlockRequest,
  options: BlockIoOptions,
  write: ChainStreamParts["writeChain"] = writeChain,
): Promise<void> {
  try {
    switch (request.op) {
      case "read":
        return transfer(backend, memory, chain.writable, 0, request, options.signal, true);
      case "write": {
        const written = transfer(
          backend,
          memory,
          chain.readable,
          VIRTIO_BLK_REQ_HEADER_SIZE,
          request,
          options.signal,
          false,
        );
        return options.writeThrough ? written.then(() => backend.flush()) : written;
      }
      case "flush":
        return backend.flush();
      case "get-id": {
        const n = write(memory, chain.writable, options.id, 0);
        if (n !== options.id.length) {
          throw new RangeError(
            `GET_ID: ${n} of the ${options.id.length} ID bytes could be written to the request's buffers`,
          );
        }
        return Promise.resolve();
      }
    }
  } catch (e) {
    // A backend (or the stream copy) that throws instead of rejecting still
    // fails only this request.
    return Promise.reject(e);
  }
}

/**
 * Moves `request.length` bytes between the disk at `request.offset` and the
 * part of `segments` that starts `skip` bytes in, one backend call per
 * segment touched.
 */
function transfer(
  backend: BlockBackend,
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  skip: number,
  request: BlockRequest,
  signal: AbortSignal | undefined,
  isRead: boolean,
): Promise<void> {
  const length = request.length;
  if (length === 0) return Promise.resolve();
  // Find the first segment with data in it.
  let i = 0;
  let at = skip;
  while (at >= segments[i].len) at -= segments[i++].len;
  const first = Math.min(segments[i].len - at, length);
  const firstView = memory.bytes(segments[i].addr + at, first);
  if (first === length) {
    // One buffer holds all the data: hand the backend's own promise back.
    return isRead
      ? backend.read(request.offset, firstView, signal)
      : backend.write(request.offset, firstView, signal);
  }
  // Several buffers: one backend call each, settled together. (Reactions
  // to a promise always run later, so none settles while they are issued.)
  return new Promise<void>((resolve, reject) => {
    let pending = 0;
    let failed = false;
    let failure: unknown = null;
    const settle = () => {
      if (--pending > 0) return;
      if (failed) reject(failure);
      else resolve();
    };
    const fail = (e: unknown) => {
      if (!failed) {
        failed = true;
        failure = e;
      }
      settle();
    };
    const issue = (offset: number, view: Uint8Array) => {
      pending++;
      let op: Promise<void>;
      try {
        op = isRead ? backend.read(offset, view, signal) : backend.write(offset, view, signal);
      } catch (e) {
        op = Promise.reject(e);
      }
      op.then(settle, fail);
    };
    issue(request.offset, firstView);
    let done = first;
    for (i++; done < length; i++) {
      const n = Math.min(segments[i].len, length - done);
      issue(request.offset + done, memory.bytes(segments[i].addr, n));
      done += n;
    }
  });
}

/** Copies `src` into the start of the byte stream the segments form. */
