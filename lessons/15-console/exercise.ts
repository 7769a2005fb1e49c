// deno-lint-ignore-file no-unused-vars
/**
 * "virtio-console": your exercise.
 *
 * Both halves of a console's port 0 (§5.3): the device fills receive chains
 * with input ({@linkcode fillReceiveChain}), streams transmit chains out
 * ({@linkcode takeTransmitChain}), takes emergency writes
 * ({@linkcode emergencyWriteByte}) and lays out its configuration space
 * ({@linkcode consoleConfigSpace}); the driver keeps receive buffers posted
 * ({@linkcode postReceiveBuffers}), takes the bytes out of each one the
 * device returns ({@linkcode receivedBytes}), cuts output into pieces
 * ({@linkcode transmitChunks}), posts each as a transmit chain
 * ({@linkcode postTransmitBuffer}) and reads the console size
 * ({@linkcode readConsoleSize}). The lab's console device and driver call
 * your functions for every keystroke and every line of output
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §5.3. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_CONSOLE_CONFIG_COLS,     // 0: le16 cols
 *   VIRTIO_CONSOLE_CONFIG_ROWS,     // 2: le16 rows
 *   VIRTIO_CONSOLE_CONFIG_EMERG_WR, // 8: le32 emerg_wr
 *   VIRTIO_CONSOLE_CONFIG_SIZE,     // 12 bytes of struct virtio_console_config
 * } from "../../devices/console/constants.ts";
 * ```
 *
 * Check your work with `deno task lab check console`; stuck?
 * `deno task lab hint console`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { ConformanceReporter } from "../../conformance/log.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain, DriverQueue } from "../../virtqueue/types.ts";
import type { ConsoleSize } from "../../devices/console/backends.ts";
import type { TransmitCursor } from "../../devices/console/transmit.ts";
import type { ConsoleConfigReader } from "../../devices/console/config.ts";

// ------------------------------------------------------------ device side

/**
 * Device side: fills one chain popped from the receiveq with input.
 *
 * | the chain                                  | you                                                  | return              |
 * | ------------------------------------------ | ---------------------------------------------------- | ------------------- |
 * | has a device-readable buffer               | report `5.3.6.1/1`, store nothing                    | -1                  |
 * | device-writable buffers only               | write the first `n` bytes of `input` into them, as one stream from the first buffer's first byte, across every buffer | `n`, the bytes written |
 *
 * where `n` is the smaller of `input.length` and `chain.writableLength`.
 * Copy with `write` (`write(memory, segments, bytes, offset)` returns the
 * bytes it wrote): it is the queue's stream part, the `writeChain` of the
 * descriptors lesson when you have passed it. Store nothing else in guest
 * memory. Report with `reporter.report(id, message, values, action)`; the
 * wording of `message`, the `values` and `action` are yours.
 *
 * The queue walked and validated the chain: every buffer is inside guest RAM
 * and none is empty. `input` holds at least one byte.
 *
 * @param memory Guest RAM.
 * @param chain A chain popped from the receiveq.
 * @param input The bytes waiting for the driver.
 * @param reporter Where the driver's violations go.
 * @param write The stream copy into the chain's writable buffers.
 * @returns The used `len` (bytes written), or -1 for a refused chain.
 */
export function fillReceiveChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  input: Uint8Array,
  reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"],
): number {
  return todo(
    "fillReceiveChain",
    `fill receive chain ${chain.head} (${chain.writableLength} writable bytes) with ${input.length} byte(s)`,
  );
}

/**
 * Device side: takes the next bytes of a transmit chain, from `cursor` on.
 * The device calls it first with an empty `dest` and a fresh cursor when it
 * pops the chain (a look at its shape), then with its chunk buffer, over and
 * over with the same cursor, until it returns 0 (or -1).
 *
 * | the chain                               | you                                                             | return          |
 * | --------------------------------------- | --------------------------------------------------------------- | --------------- |
 * | has a device-writable buffer            | report `5.3.6.1/2` (when the cursor is at the start), read nothing | -1           |
 * | device-readable buffers only            | copy the next `n` bytes of its stream into `dest[0..n)` and move `cursor` past them | `n` |
 *
 * where `n` is the smaller of `dest.length` and the bytes left after the
 * cursor: 0 once the whole chain has been taken, or for an empty `dest`.
 * Successive calls take the chain's bytes across every buffer, in order.
 * Copy with `read` (`read(memory, segments, dest, offset)`, the queue's
 * `readChain` part, returns the bytes it copied from stream offset
 * `offset`). Store nothing in guest memory.
 *
 * `cursor` is `{ segment, offset }`: the index of a readable buffer and the
 * bytes of it already taken. A fresh one is `{ segment: 0, offset: 0 }`;
 * after that you are only ever given back a cursor you moved, so a buffer
 * taken to its end may be left as `{ segment: i, offset: len }` or as
 * `{ segment: i + 1, offset: 0 }`, as you prefer. The chain is validated
 * (inside RAM, no empty buffer). Report as in `fillReceiveChain`.
 *
 * @param memory Guest RAM.
 * @param chain A chain popped from the transmitq.
 * @param cursor Where to go on from; update it.
 * @param dest Receives the bytes.
 * @param reporter Where the driver's violations go.
 * @param read The stream copy out of the chain's readable buffers.
 * @returns Bytes copied into `dest`, 0 when done, or -1 for a refused chain.
 */
export function takeTransmitChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  cursor: TransmitCursor,
  dest: Uint8Array,
  reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"],
): number {
  return todo(
    "takeTransmitChain",
    `take up to ${dest.length} byte(s) of transmit chain ${chain.head} from buffer ${cursor.segment}, offset ${cursor.offset}`,
  );
}

/**
 * Device side: what a driver's write into configuration space sends out,
 * at any time, before FEATURES_OK too: the device calls it for every write
 * and knows nothing more about the device's state than you do.
 *
 * | the write                        | return                        |
 * | -------------------------------- | ----------------------------- |
 * | to `emerg_wr` (offset 8)         | its low byte, 0 to 255        |
 * | to any other offset              | -1: nothing else is writable  |
 *
 * @param offset Byte offset in configuration space.
 * @param value The value written (an unsigned 32-bit number).
 * @returns The byte to send, or -1.
 */
export function emergencyWriteByte(offset: number, value: number): number {
  return todo("emergencyWriteByte", `decide what a write of ${value} at offset ${offset} sends`);
}

/**
 * Device side: lays out `struct virtio_console_config` (§5.3.4), 12 bytes.
 * Given a size, `cols` and `rows` are little-endian 16-bit fields at offsets
 * 0 and 2. The other bytes (`max_nr_ports` means something only with
 * VIRTIO_CONSOLE_F_MULTIPORT, `emerg_wr` is for writing) and, for `null`
 * (VIRTIO_CONSOLE_F_SIZE not offered), all twelve are yours to fill as you
 * like.
 *
 * @param size The console size in character cells (`cols` and `rows` from
 *   0 to 65535), or `null`.
 * @returns A new `Uint8Array` of exactly 12 bytes.
 */
export function consoleConfigSpace(size: ConsoleSize | null): Uint8Array {
  return todo("consoleConfigSpace", `lay out cols and rows of ${JSON.stringify(size)}`);
}

// ------------------------------------------------------------ driver side

/**
 * Driver side: posts receive buffers on the receiveq, during probe (with
 * `driverOk` false) and every time the driver refills (true).
 *
 * Afterwards each buffer of `buffers` is one chain of a single
 * device-writable buffer `{ addr, len: size }` whose token is its address,
 * added with `queue.add(readable, writable, token)`, and the device can see
 * all of them: `queue.kickPrepare()` publishes what was added and answers
 * whether the device wants a notification. Return whether the caller should
 * notify the device now:
 *
 * | `driverOk` | the queue (`kickPrepare`) says | return                |
 * | ---------- | ------------------------------ | --------------------- |
 * | false      | anything                       | false                 |
 * | true       | notify                         | true                  |
 * | true       | no notification needed         | false (true is allowed, and wasteful) |
 *
 * With no buffers, post nothing and return false. A `VirtqueueFullError`
 * from `queue.add` (more buffers than free descriptors) goes to the caller.
 *
 * @param queue The receiveq, set up.
 * @param buffers Guest addresses of the buffers.
 * @param size Bytes per buffer.
 * @param driverOk Whether DRIVER_OK has been set.
 * @returns Whether to notify the device.
 * @throws {VirtqueueFullError} From `queue.add`.
 */
export function postReceiveBuffers(
  queue: DriverQueue<number>,
  buffers: readonly number[],
  size: number,
  driverOk: boolean,
): boolean {
  return todo(
    "postReceiveBuffers",
    `post ${buffers.length} receive buffer(s) of ${size} bytes (DRIVER_OK ${
      driverOk ? "set" : "not set"
    })`,
  );
}

/**
 * Driver side: the bytes of a receive buffer the device returned with used
 * length `len`.
 *
 * Returns a new `Uint8Array` of the first `min(len, size)` bytes of the
 * buffer: a copy, since the buffer goes straight back to the device. A `len`
 * above `size` is the device claiming more than it was given: report
 * `2.7.8.2/2` (as in `fillReceiveChain`) and take `size` bytes. Read no byte
 * of the buffer past those you return.
 *
 * @param memory Guest RAM.
 * @param buffer Guest address of the receive buffer.
 * @param size Its size in bytes, as posted.
 * @param len The used `len`, any unsigned 32-bit number.
 * @param reporter Where the device's violations go.
 * @returns The bytes received.
 */
export function receivedBytes(
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  reporter: ConformanceReporter,
): Uint8Array {
  return todo("receivedBytes", `take ${len} byte(s) out of a ${size}-byte receive buffer`);
}

/**
 * Driver side: cuts output into the pieces that become transmit chains: in
 * order, each at most `chunkSize` bytes and none empty, so that joined they
 * are `data`; none for empty output. Views of `data` or copies, as you like.
 *
 * @param data The output.
 * @param chunkSize Largest piece in bytes, a positive integer.
 * @returns The pieces.
 */
export function transmitChunks(data: Uint8Array, chunkSize: number): Uint8Array[] {
  return todo("transmitChunks", `cut ${data.length} byte(s) into pieces of ${chunkSize}`);
}

/**
 * Driver side: places one piece of output on the transmitq (Linux's
 * `__send_to_port`): a chain of the single buffer `{ addr, len }`, its token
 * `token`, added with `queue.add`. Placed, not published: the driver calls
 * `kickPrepare` itself once it has placed all it can, and notifies as it
 * says. Errors of `queue.add` go to the caller.
 *
 * @param queue The transmitq, set up.
 * @param addr Guest address of the bytes (the driver copied them there).
 * @param len Their length, at least 1.
 * @param token What the used entry gives back.
 * @throws {VirtqueueFullError} From `queue.add`.
 */
export function postTransmitBuffer<T>(
  queue: DriverQueue<T>,
  addr: number,
  len: number,
  token: T,
): void {
  return todo("postTransmitBuffer", `place ${len} byte(s) of output on the transmitq`);
}

/**
 * Driver side: reads `cols` and `rows` (VIRTIO_CONSOLE_F_SIZE is negotiated
 * when this is called) with `device.readConfig(offset, width)`, each at its
 * own width and offset, both inside one `device.readConfigConsistent(read)`,
 * which runs `read` again until ConfigGeneration held still: the two values
 * come from one snapshot. The order of the two reads is yours.
 *
 * @param device The bound device's configuration accessors.
 * @returns The size in character cells.
 */
export function readConsoleSize(device: ConsoleConfigReader): ConsoleSize {
  return todo("readConsoleSize", "read cols and rows from one configuration snapshot");
}
