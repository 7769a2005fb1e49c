/**
 * Console output, both halves (virtio v1.2 §5.3.6): the driver cuts output
 * into pieces ({@linkcode transmitChunks}) and posts each as a transmit chain
 * ({@linkcode postTransmitBuffer}); the device streams the
 * bytes out of each chain it pops ({@linkcode takeTransmitChain}) and
 * returns it with `len` 0, having written nothing into it.
 *
 * @module
 */

import type { ConformanceReporter } from "../../conformance/log.ts";
import { type GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain, DriverQueue } from "../../virtqueue/types.ts";
import { readChain } from "../../virtqueue/chain.ts";
import { VIRTIO_CONSOLE_TRANSMITQ } from "./constants.ts";

/**
 * Where the device is in a transmit chain's byte stream: the readable
 * buffer it reads next and the offset in it. Start at `{ segment: 0,
 * offset: 0 }`.
 */
export interface TransmitCursor {
  /** Index into the chain's `readable` buffers. */
  segment: number;
  /** Bytes of that buffer already taken. */
  offset: number;
}

/**
 * Takes the next bytes of a transmit chain (§5.3.6), up to `dest.length`,
 * and moves the cursor past them. Called again until it returns 0, it
 * streams the whole chain in pieces no larger than `dest`, across however
 * many descriptors the chain has (Cloud Hypervisor PR #7802 sent only the
 * first).
 *
 * The device's memory and time per call are bounded by `dest`, never by
 * what the driver claims: a chain of 256 descriptors over the same 16 MiB of
 * RAM says 4 GiB, and a device that copies a chain whole when it pops it
 * spends seconds and gigabytes on it before sending a byte. Streamed, the
 * device copies only what its backend takes, and stops where a reset stops
 * it.
 *
 * A chain with device-writable buffers breaks 5.3.6.1/2: it is reported
 * (once, at the start) and nothing is read. A buffer outside guest RAM (a
 * chain no queue validated) is reported (2.7.5/D2) and ends the chain.
 *
 * @param memory Guest RAM.
 * @param chain A chain popped from the transmitq.
 * @param cursor Where to go on from; updated.
 * @param dest Receives the bytes.
 * @param reporter Where the driver's violations go.
 * @param read The stream copy out of the chain's readable buffers (the
 *   transmitq's `readChain` part, `DeviceQueue.streams`); the cursor moves
 *   by the bytes it copied.
 * @returns Bytes copied into `dest`: 0 once the chain is done, -1 when it is
 *   refused.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { takeTransmitChain } from "./transmit.ts";
 *
 * const memory = new GuestMemory(4096);
 * memory.write(0x100, new TextEncoder().encode("hello, "));
 * memory.write(0x200, new TextEncoder().encode("world"));
 * const chain = {
 *   head: 0, descriptorCount: 2, indirect: false, writable: [], writableLength: 0,
 *   readable: [{ addr: 0x100, len: 7 }, { addr: 0x200, len: 5 }], readableLength: 12,
 * };
 * const cursor = { segment: 0, offset: 0 };
 * const chunk = new Uint8Array(8);
 * const reporter = new ConformanceLog().scoped("tx");
 * assert.equal(takeTransmitChain(memory, chain, cursor, chunk, reporter), 8); // "hello, w"
 * assert.equal(takeTransmitChain(memory, chain, cursor, chunk, reporter), 4); // "orld"
 * assert.equal(takeTransmitChain(memory, chain, cursor, chunk, reporter), 0);
 * ```
 */
export function takeTransmitChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  cursor: TransmitCursor,
  dest: Uint8Array,
  reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"] = readChain,
): number {
  if (chain.writable.length > 0) {
    if (cursor.segment === 0 && cursor.offset === 0) {
      reporter.report(
        "5.3.6.1/2",
        `Transmit chain ${chain.head} has ${chain.writable.length} device-writable buffer(s) ` +
          `(${chain.writableLength} bytes)`,
        {
          queue: VIRTIO_CONSOLE_TRANSMITQ,
          head: chain.head,
          readable: chain.readableLength,
          writable: chain.writableLength,
        },
        "chain returned unused with len 0; nothing sent",
      );
    }
    return -1;
  }
  // How far the chain can be read from the cursor, inside guest RAM, into
  // `dest`; the copy itself is the queue's stream part.
  const readable = chain.readable;
  let at = cursor.offset; // the cursor as a stream offset
  for (let i = 0; i < cursor.segment && i < readable.length; i++) at += readable[i].len;
  let want = 0;
  let outside = -1;
  for (
    let i = cursor.segment, skip = cursor.offset;
    want < dest.length && i < readable.length;
    i++
  ) {
    const { addr, len } = readable[i];
    const n = Math.min(len - skip, dest.length - want);
    if (!memory.contains(addr + skip, n)) {
      outside = i;
      break;
    }
    want += n;
    skip = 0;
  }
  const view = want === dest.length ? dest : dest.subarray(0, want);
  const copied = want === 0 ? 0 : Math.max(0, Math.min(read(memory, readable, view, at), want));
  // The cursor moves by what was copied.
  for (let left = copied; left > 0;) {
    const n = Math.min(readable[cursor.segment].len - cursor.offset, left);
    left -= n;
    cursor.offset += n;
    if (cursor.offset === readable[cursor.segment].len) {
      cursor.segment++;
      cursor.offset = 0;
    }
  }
  if (outside >= 0 && copied === want) {
    const { addr, len } = readable[outside];
    cursor.segment = readable.length;
    cursor.offset = 0;
    reporter.report(
      "2.7.5/D2",
      `Transmit buffer of ${len} byte(s) at ${hexAddress(addr)} in chain ${chain.head} is ` +
        "not inside guest RAM",
      { queue: VIRTIO_CONSOLE_TRANSMITQ, head: chain.head, addr, len },
      "the rest of the chain is not sent",
    );
    return copied > 0 ? copied : -1;
  }
  return copied;
}

/**
 * Cuts output into the pieces that become transmit chains (§5.3.6): each
 * at most `chunkSize` bytes, none empty (a zero-length buffer is no
 * descriptor at all, 2.7.5/D3), in order, as views of `data` (nothing is
 * copied here).
 *
 * @param data The output.
 * @param chunkSize Largest piece in bytes, at least 1.
 * @returns The pieces; none for empty output.
 * @throws {RangeError} If `chunkSize` is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transmitChunks } from "./transmit.ts";
 * assert.deepEqual(transmitChunks(new Uint8Array(10), 4).map((c) => c.length), [4, 4, 2]);
 * ```
 */
export function transmitChunks(data: Uint8Array, chunkSize: number): Uint8Array[] {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`Transmit chunk size ${chunkSize} is not a positive integer`);
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += chunkSize) {
    chunks.push(data.subarray(at, Math.min(at + chunkSize, data.length)));
  }
  return chunks;
}

/**
 * Posts one piece of output on the transmitq (§5.3.6), Linux's
 * `__send_to_port`: a chain of one device-readable buffer (5.3.6.1/2: a
 * transmitq holds no device-writable buffer; NetBSD's viocon rev 1.4 had
 * the direction of its transmit DMA backwards), carrying `token` back when
 * the device returns it. The chain is placed, not yet published: the caller
 * publishes and decides the notification (`kickPrepare`), after DRIVER_OK.
 *
 * @param queue The transmitq, already set up.
 * @param addr Guest address of the bytes.
 * @param len Their length in bytes, at least 1.
 * @param token What the used entry gives back.
 * @throws {VirtqueueFullError} If no descriptor is free (`queue.add`'s).
 * @throws {VirtqueueBrokenError} If the device broke the queue (`queue.add`'s).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
 * import { postTransmitBuffer } from "./transmit.ts";
 *
 * const memory = new GuestMemory(1 << 16);
 * const allocator = new GuestAllocator(memory);
 * const queue = SplitQueueDriver.create<string>({
 *   memory, allocator, index: 1, size: 8, eventIdx: false, indirect: false,
 *   reporter: new ConformanceLog().scoped("tx"),
 * });
 * postTransmitBuffer(queue, allocator.alloc(6), 6, "hello\n");
 * assert.equal(queue.inFlight, 1);
 * ```
 */
export function postTransmitBuffer<T>(
  queue: DriverQueue<T>,
  addr: number,
  len: number,
  token: T,
): void {
  queue.add([{ addr, len }], [], token);
}
