/**
 * Console input, both halves (virtio v1.2 §5.3.6): the driver keeps
 * device-writable buffers posted on the receiveq
 * ({@linkcode postReceiveBuffers}) and takes the bytes out of each one the
 * device returns ({@linkcode receivedBytes}); the device fills the chains
 * it pops with input ({@linkcode fillReceiveChain}).
 *
 * @module
 */

import type { ConformanceReporter } from "../../conformance/log.ts";
import { type GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain, DriverQueue } from "../../virtqueue/types.ts";
import { writeChain } from "../../virtqueue/chain.ts";
import { VIRTIO_CONSOLE_RECEIVEQ } from "./constants.ts";

/**
 * Fills one receive chain with input (§5.3.6): as many bytes of `input` as
 * its device-writable buffers hold, across however many descriptors the
 * chain has, in order (2.7.4.1/1: a device must not assume one buffer per
 * chain; Cloud Hypervisor PR #7802 filled only the first and dropped the
 * rest).
 *
 * A chain with device-readable buffers breaks 5.3.6.1/1: it is reported and
 * nothing is written. A buffer outside guest RAM (a chain no queue
 * validated) is reported (2.7.5/D2) and ends the fill there.
 *
 * @param memory Guest RAM.
 * @param chain A chain popped from the receiveq.
 * @param input The bytes waiting for the driver.
 * @param reporter Where the driver's violations go.
 * @param write The stream copy into the chain's writable buffers (the
 *   receiveq's `writeChain` part, `DeviceQueue.streams`); its answer is the
 *   bytes written.
 * @returns Bytes written from the first writable byte on (the used `len`,
 *   2.7.8.2/2), or -1 when the chain is refused.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { fillReceiveChain } from "./receive.ts";
 *
 * const memory = new GuestMemory(4096);
 * const chain = {
 *   head: 0, descriptorCount: 2, indirect: false, readable: [], readableLength: 0,
 *   writable: [{ addr: 0x100, len: 2 }, { addr: 0x200, len: 8 }], writableLength: 10,
 * };
 * const n = fillReceiveChain(memory, chain, new TextEncoder().encode("hello"), new ConformanceLog().scoped("rx"));
 * assert.equal(n, 5);
 * assert.equal(new TextDecoder().decode(memory.bytes(0x200, 3)), "llo");
 * ```
 */
export function fillReceiveChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  input: Uint8Array,
  reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"] = writeChain,
): number {
  if (chain.readable.length > 0) {
    reporter.report(
      "5.3.6.1/1",
      `Receive chain ${chain.head} has ${chain.readable.length} device-readable buffer(s) ` +
        `(${chain.readableLength} bytes)`,
      {
        queue: VIRTIO_CONSOLE_RECEIVEQ,
        head: chain.head,
        readable: chain.readableLength,
        writable: chain.writableLength,
      },
      "chain returned unused with len 0",
    );
    return -1;
  }
  // The prefix of the chain inside guest RAM takes the input; the copy
  // itself is the queue's stream part.
  const writable = chain.writable;
  let fits = 0;
  for (let i = 0; i < writable.length && fits < input.length; i++) {
    const { addr, len } = writable[i];
    const n = Math.min(len, input.length - fits);
    if (!memory.contains(addr, n)) {
      reporter.report(
        "2.7.5/D2",
        `Receive buffer of ${len} byte(s) at ${hexAddress(addr)} in chain ${chain.head} is not ` +
          "inside guest RAM",
        { queue: VIRTIO_CONSOLE_RECEIVEQ, head: chain.head, addr, len },
        `filled up to it: ${fits} byte(s)`,
      );
      break;
    }
    fits += n;
  }
  if (fits === 0) return 0;
  return write(memory, writable, fits === input.length ? input : input.subarray(0, fits), 0);
}

/**
 * Posts receive buffers (§5.3.6): each becomes a chain of one
 * device-writable buffer (5.3.6.1/1) whose token is its address, and the
 * available `idx` is advanced so the device may use them.
 *
 * Whether to notify the device is for the caller to carry out, and the
 * answer is `false` before DRIVER_OK whatever the queue says: the driver
 * sends no available buffer notification until then (3.1.1/6). NetBSD's
 * viocon filled and kicked its receive queue before attachment had finished
 * (PR kern/58555); buffers posted during probe are announced once the
 * device is live.
 *
 * @param queue The receiveq, already set up.
 * @param buffers Guest addresses of the buffers, each `size` bytes.
 * @param size Bytes per buffer.
 * @param driverOk Whether DRIVER_OK has been set.
 * @returns Whether the caller should notify the device now.
 * @throws {VirtqueueFullError} If the queue has no room for them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
 * import { postReceiveBuffers } from "./receive.ts";
 *
 * const memory = new GuestMemory(1 << 16);
 * const allocator = new GuestAllocator(memory);
 * const queue = SplitQueueDriver.create<number>({
 *   memory, allocator, index: 0, size: 8, eventIdx: false, indirect: false,
 *   reporter: new ConformanceLog().scoped("rx"),
 * });
 * const buffers = [allocator.alloc(64), allocator.alloc(64)];
 * assert.equal(postReceiveBuffers(queue, buffers, 64, false), false); // during probe: no kick
 * assert.equal(queue.inFlight, 2);
 * ```
 */
export function postReceiveBuffers(
  queue: DriverQueue<number>,
  buffers: readonly number[],
  size: number,
  driverOk: boolean,
): boolean {
  if (buffers.length === 0) return false;
  for (let i = 0; i < buffers.length; i++) {
    const addr = buffers[i];
    queue.add([], [{ addr, len: size }], addr);
  }
  const kick = queue.kickPrepare();
  return kick && driverOk;
}

/**
 * The bytes of a receive buffer the device returned (§5.3.6): a copy of the
 * first `len` bytes, since the buffer goes straight back to the device.
 *
 * `len` comes from the device and is not trusted: it may not claim more
 * than the buffer holds (2.7.8.2/2). A larger `len` is reported and cut to
 * the buffer (Linux d00d8da5869a "virtio_console: Assure used length from
 * device is limited", CVE-2021-38160: the driver copied `len` bytes out of a
 * smaller buffer). Nothing past `len` is read (2.7.8.3/1).
 *
 * @param memory Guest RAM.
 * @param buffer Guest address of the receive buffer.
 * @param size Its size in bytes, as posted.
 * @param len The used `len`.
 * @param reporter Where the device's violations go.
 * @returns A new array of `min(len, size)` bytes.
 * @throws {ConformanceError} When the log is strict and `len` is too large.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { receivedBytes } from "./receive.ts";
 *
 * const memory = new GuestMemory(4096);
 * const log = new ConformanceLog();
 * assert.equal(receivedBytes(memory, 0x100, 16, 4096, log.scoped("rx")).length, 16);
 * assert.equal(log.entries[0].id, "2.7.8.2/2");
 * ```
 */
export function receivedBytes(
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  reporter: ConformanceReporter,
): Uint8Array {
  let n = len;
  if (len > size) {
    n = size;
    reporter.report(
      "2.7.8.2/2",
      `Used length ${len} for the ${size}-byte receive buffer at ${
        hexAddress(buffer)
      } is more than it holds`,
      { queue: VIRTIO_CONSOLE_RECEIVEQ, buffer, size, len },
      `${n} byte(s) taken`,
    );
  }
  return memory.bytes(buffer, n).slice();
}
