/**
 * Lesson 6, "Descriptors, chains and the free list": your exercise.
 *
 * Four functions, the two ends of a descriptor chain:
 *
 * - the driver places a chain in the descriptor table from its free list
 *   ({@linkcode addChain}) and takes it back when the device returns it
 *   ({@linkcode detachChain}), keeping everything it needs in its own record
 *   of the ring, never in the table the device can write;
 * - the device reads the chain's device-readable buffers, and writes its
 *   device-writable ones, as one byte stream whatever the framing
 *   ({@linkcode readChain}, {@linkcode writeChain}).
 *
 * The lab's driver queues call your `addChain` for every request the guest
 * makes and your `detachChain` for every chain the device returns, on every
 * queue of both devices (`deno task lab boot --mine`). `readChain` and
 * `writeChain` are graded here; the lab's device models do their own copying
 * (the console and block lessons).
 *
 * Each doc comment below is a contract: what the function is given, what it
 * returns or throws, what it may touch. How to get there is the lesson's and
 * the spec's to explain (§2.7.4, §2.7.5, §2.7.13.1). Pieces of the library
 * you may use:
 *
 * ```ts
 * import {
 *   VIRTQ_DESC_F_NEXT,  // 1
 *   VIRTQ_DESC_F_WRITE, // 2
 *   VIRTQ_DESC_SIZE,    // 16 bytes per descriptor
 * } from "../../virtqueue/constants.ts";
 * import {
 *   descOffset,              // i => 16 * i, the offset of descriptor i in the table
 *   VIRTQ_DESC_ADDR_OFFSET,  // 0  (le64)
 *   VIRTQ_DESC_LEN_OFFSET,   // 8  (le32)
 *   VIRTQ_DESC_FLAGS_OFFSET, // 12 (le16)
 *   VIRTQ_DESC_NEXT_OFFSET,  // 14 (le16)
 * } from "../../virtqueue/layout.ts";
 * import {
 *   HEAD_FREE,         // state[h]: not the head of a chain
 *   HEAD_ADDED,        // state[h]: placed, not yet published
 *   NO_INDIRECT_TABLE, // tables[h] of a chain without an indirect table
 * } from "../../virtqueue/driver/ring.ts";
 * import { VirtqueueChainError, VirtqueueFullError } from "../../virtqueue/types.ts";
 * // new VirtqueueChainError(rule, segment, message); new VirtqueueFullError(needed, free)
 * ```
 *
 * Guest memory: `memory.writeU64(address, value)`, `writeU32`, `writeU16`,
 * `readU16`..., `memory.contains(address, length)` (is the range inside
 * RAM?), and `memory.bytes(address, length)` (a view of guest bytes, for
 * data). Ring fields and descriptors go through the accessors, never through
 * a view.
 *
 * Check your work with `deno task lab check 6`; stuck? `deno task lab hint 6`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";

/**
 * Driver side: places a chain in the descriptor table (§2.7.13.1) and
 * remembers it in the ring record. It is not available yet: the queue then
 * puts `head` in the available ring.
 *
 * The chain is `readable` then `writable`: n = `readable.length +
 * writable.length` buffers, device-readable ones first (2.7.4.2/1). It takes
 * the **first n descriptors of the free list** (`ring.freeHead`, then
 * `ring.next[...]`), in that order, the k-th buffer in the k-th descriptor,
 * which gets the buffer's `addr` and `len`, `VIRTQ_DESC_F_WRITE` if the
 * buffer is device-writable, and `VIRTQ_DESC_F_NEXT` with `next` = the
 * (k+1)-th descriptor unless it is the last one (2.7.13.1/D1; the last one's
 * `next` is never read, any value will do). Nothing else in guest memory is
 * stored into.
 *
 * Afterwards the record says (2.7.13.1/D2), and nothing else in it changes:
 *
 * | field                   | value                                                  |
 * | ----------------------- | ------------------------------------------------------ |
 * | `numFree`               | n fewer                                                |
 * | `freeHead`              | the (n+1)-th descriptor of the free list before        |
 * | `next`                  | unchanged (the free list's links are the chain's)      |
 * | `state[head]`           | `HEAD_ADDED` (every other descriptor keeps its state)  |
 * | `tokens[head]`          | `token`                                                |
 * | `count[head]`           | n                                                      |
 * | `writable[head]`        | the sum of the writable buffers' lengths, in bytes     |
 * | `tables[head]`          | `NO_INDIRECT_TABLE`                                    |
 * | `inFlight`              | one more                                               |
 *
 * (`freeHead` means nothing once `numFree` is 0.) The available ring,
 * `added`, `pending` and the indices are not touched.
 *
 * Refusals come before any store and change nothing, memory or record. A
 * chain that breaks several rules may be refused for any of them:
 *
 * | the chain                                            | throws                                      |
 * | ---------------------------------------------------- | ------------------------------------------- |
 * | has no buffers                                       | `VirtqueueChainError(null, -1, ...)`        |
 * | has a buffer of length 0                             | `VirtqueueChainError("2.7.5/D3", k, ...)`   |
 * | has a length above 0xffff_ffff (no le32 holds it)    | `VirtqueueChainError(null, k, ...)`         |
 * | is more than 2^32 bytes in total                     | `VirtqueueChainError("2.7.5.2/1", -1, ...)` |
 * | is more buffers than Queue Size (`ring.size`)        | `VirtqueueChainError("2.7.5.3.1/3", -1, ...)` |
 * | has a buffer not inside guest RAM                    | `VirtqueueChainError("2.7.5/D2", k, ...)`   |
 * | needs more descriptors than are free (`numFree`)     | `VirtqueueFullError(n, ring.numFree)`       |
 *
 * `k` is the offending buffer's index in `[...readable, ...writable]`. A
 * full queue is the one refusal that passes: room comes back when the device
 * returns chains. A chain longer than the queue never fits.
 *
 * @param ring The driver's record of the ring (lengths are integers; the ring is not broken).
 * @param readable Device-readable buffers, in order.
 * @param writable Device-writable buffers, in order.
 * @param token What the driver gets back when the device returns the chain.
 * @returns The head: the index of the chain's first descriptor.
 * @throws {VirtqueueChainError} When the chain breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} When fewer than n descriptors are free (nothing changed).
 */
export function addChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  void token;
  return todo(
    "addChain",
    `place a chain of ${readable.length} readable and ${writable.length} writable buffer(s) ` +
      `on queue ${ring.index} (${ring.numFree} descriptors free)`,
  );
}

/**
 * Driver side: takes back the chain at `head`, which the device has returned
 * (Linux's `detach_buf_split`), and gives its token back.
 *
 * Everything it needs is in the record: the chain is `count[head]`
 * descriptors from `head` along `ring.next`. It must not follow the
 * descriptor table in guest memory: the device may have overwritten their
 * `flags` and `next`, and a driver that believes them frees descriptors still
 * in use, or loops (2.7.13.1/D2).
 *
 * Afterwards:
 *
 * - the chain's descriptors are on the free list (`numFree` is `count[head]`
 *   more; where on the list they go is yours, Linux puts them at the front),
 *   and the rest of the free list is still on it;
 * - `state[head]` is `HEAD_FREE` and `tokens[head]` is `undefined` (the
 *   driver keeps nothing of a finished request);
 * - `inFlight` is one less; every other chain's record is as it was.
 *
 * If the chain has an indirect table (`tables[head]` is not
 * `NO_INDIRECT_TABLE`; a later lesson places those), `freeTable(table)` is
 * called once, as the **very last step**: by then the descriptors are free
 * and the head's record is cleared, and afterwards nothing of the record is
 * touched. `freeTable` may place a new chain at this very head at once, as
 * another CPU could. Without a table, `freeTable` is not called.
 *
 * @param ring The driver's record of the ring.
 * @param head The head of a chain the driver placed (`state[head]` is not `HEAD_FREE`).
 * @param freeTable Gives an indirect table back to the allocator.
 * @returns The token the chain was added with.
 */
export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  void freeTable;
  return todo(
    "detachChain",
    `take back the chain at head ${head} of queue ${ring.index} (${
      ring.count[head]
    } descriptor(s))`,
  );
}

/**
 * Device side: copies bytes out of a chain's device-readable buffers, as one
 * byte stream (2.7.4.1/1): the stream is `segments[0]`'s bytes, then
 * `segments[1]`'s, and so on, however the driver cut it.
 *
 * Copies stream bytes `[offset, offset + n)` into `dest[0..n)`, where
 * n = `min(dest.length, stream length - offset)`, 0 at or past the end.
 * `dest[n..]` is left as it was, and guest memory is not written.
 *
 * @param memory Guest RAM.
 * @param segments The buffers (every one inside RAM, none of length 0).
 * @param dest Receives the bytes.
 * @param offset Where in the stream to start, in bytes (default 0).
 * @returns n, the bytes copied.
 * @throws {RangeError} If `offset` is not a non-negative integer.
 */
export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  void memory;
  return todo(
    "readChain",
    `read ${dest.length} byte(s) at offset ${offset} of a stream of ${segments.length} buffer(s)`,
  );
}

/**
 * Device side: copies bytes into a chain's device-writable buffers, as one
 * byte stream (2.7.4.1/1), the mirror of {@linkcode readChain}.
 *
 * Writes `src[0..n)` to stream bytes `[offset, offset + n)`, where
 * n = `min(src.length, stream length - offset)`, 0 at or past the end. No
 * other byte of guest memory changes: not the rest of the stream, and never a
 * device-readable buffer, even one right next to the last writable byte
 * (2.7.5.1/1).
 *
 * @param memory Guest RAM.
 * @param segments The buffers (every one inside RAM, none of length 0).
 * @param src The bytes to write.
 * @param offset Where in the stream to start, in bytes (default 0).
 * @returns n, the bytes written.
 * @throws {RangeError} If `offset` is not a non-negative integer.
 */
export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  void memory;
  return todo(
    "writeChain",
    `write ${src.length} byte(s) at offset ${offset} of a stream of ${segments.length} buffer(s)`,
  );
}
