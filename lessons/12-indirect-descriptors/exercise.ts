// deno-lint-ignore-file no-unused-vars
/**
 * "Indirect descriptors": your exercise.
 *
 * Three functions, both ends of an indirect descriptor table (§2.7.5.3):
 *
 * - the device finishes a chain whose walk stopped at a descriptor with
 *   `VIRTQ_DESC_F_INDIRECT`: it checks that descriptor and reads the table
 *   it points to ({@linkcode readIndirectTable});
 * - the driver writes a chain into a table that takes one descriptor of the
 *   ring ({@linkcode addIndirectChain}), and chooses, for each chain, a table
 *   or direct descriptors, falling back to direct ones when no table can be
 *   allocated ({@linkcode addBuffers}).
 *
 * The lab's queues call your `readIndirectTable` for every chain that ends
 * in a table, and your `addBuffers` (with your `addIndirectChain`) for every
 * chain the drivers add, on every queue of both devices
 * (`deno task lab boot --mine`, which offers VIRTIO_F_INDIRECT_DESC once
 * this lesson passes). Freeing the table when the chain comes back is the
 * `detachChain` you already wrote: it frees `ring.tables[head]`.
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §2.7.5.3. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTQ_DESC_F_NEXT,     // 1
 *   VIRTQ_DESC_F_WRITE,    // 2
 *   VIRTQ_DESC_F_INDIRECT, // 4
 *   VIRTQ_DESC_SIZE,       // 16 bytes per descriptor, in the ring's table and in a table
 * } from "../../virtqueue/constants.ts";
 * import {
 *   descOffset,            // i -> 16 * i: where descriptor (or entry) i starts
 *   VIRTQ_DESC_ADDR_OFFSET, VIRTQ_DESC_LEN_OFFSET,   // 0 (u64), 8 (u32)
 *   VIRTQ_DESC_FLAGS_OFFSET, VIRTQ_DESC_NEXT_OFFSET, // 12 (u16), 14 (u16)
 * } from "../../virtqueue/layout.ts";
 * import { breakDeviceRing } from "../../virtqueue/device/ring.ts"; // report, break, return null
 * import { NO_SEGMENTS } from "../../virtqueue/device/walk.ts";     // a frozen [] for an empty list
 * import { HEAD_ADDED } from "../../virtqueue/driver/ring.ts";      // state[h] of a chain just placed
 * import { VirtqueueChainError, VirtqueueFullError } from "../../virtqueue/types.ts";
 * import { GuestOutOfMemoryError } from "../../memory/allocator.ts"; // what a full allocator throws
 * ```
 *
 * Check your work with `deno task lab check indirect-descriptors`; stuck?
 * `deno task lab hint indirect-descriptors`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../virtqueue/driver/add.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";

/**
 * Device side: finishes a chain whose walk stopped at an indirect
 * descriptor. `chain` is what the walk returned (`indirect: true`): the
 * direct buffers before the indirect descriptor, already checked, and its
 * `descriptorCount`, which counts the indirect descriptor. The indirect
 * descriptor itself is in `ring.indirectDesc`: its `index` in the ring's
 * table and its `addr`, `len` and `flags`, as the walk read them (use these;
 * do not read it again).
 *
 * The table holds `len / 16` entries of 16 bytes, each a descriptor like the
 * ring's, at `addr`. It is read as a chain of its own: from entry 0, along
 * `next` while `VIRTQ_DESC_F_NEXT` is set. A valid chain comes back whole:
 * `head` as given; `readable` the direct readable buffers, then the table's,
 * in chain order, and `writable` likewise; `readableLength` and
 * `writableLength` the totals in bytes; `descriptorCount` the chain's plus
 * the entries walked; `indirect: true`.
 *
 * Which buffers are writable is said by the table's entries alone: the
 * indirect descriptor's `VIRTQ_DESC_F_WRITE` means nothing (2.7.5.3.2/1).
 * Direct descriptors before the indirect one are part of the chain
 * (2.7.5.3.2/2), and the order rule runs across both: a readable entry after
 * a writable direct buffer is out of order.
 *
 * A chain that breaks a rule is refused: `breakDeviceRing(ring, id, message,
 * values)` (it reports, breaks the ring and returns `null`), then return
 * `null`. A chain that breaks several rules may cite any one of them; the
 * message is yours.
 *
 * | id            | broken when                                                                     |
 * | ------------- | ------------------------------------------------------------------------------- |
 * | `2.7.5.3.1/1` | `ring.indirect` is false: VIRTIO_F_INDIRECT_DESC was not negotiated              |
 * | `2.7.5.3.1/4` | the indirect descriptor's flags also have `VIRTQ_DESC_F_NEXT`                    |
 * | `2.7.5.3/D1`  | its `len` is 0 or not a multiple of 16                                           |
 * | `2.7.5.3.1/3` | the table has more than Queue Size (`ring.size`) entries; its walk would take more entries than it has (a loop); or the whole chain is longer than Queue Size: the direct buffers (`descriptorCount - 1`, the indirect descriptor stands for its table) plus the entries walked |
 * | `2.7.5/D2`    | the table, or a buffer an entry names, is not inside RAM (`ring.memory.contains`) |
 * | `2.7.5.3.1/2` | an entry has `VIRTQ_DESC_F_INDIRECT` (a table inside a table)                    |
 * | `2.7.5/D1`    | an entry with `VIRTQ_DESC_F_NEXT` has a `next` of the table's entries or more     |
 * | `2.7.5/D3`    | an entry's `len` is 0                                                            |
 * | `2.7.5.2/1`   | the whole chain, direct buffers and entries, adds up to more than 2^32 bytes     |
 * | `2.7.4.2/1`   | a readable buffer comes after a writable one, anywhere in the whole chain        |
 *
 * Read each field of an entry at most once, through `ring.memory`'s
 * accessors, and return the values you checked; never read outside the
 * table, never write to it, never throw for anything the driver wrote (a
 * strict log's `ConformanceError` out of `breakDeviceRing` is the one
 * exception).
 *
 * @param ring The device ring (healthy); `ring.indirectDesc` is the descriptor the walk stopped at.
 * @param chain The direct part of the chain, `indirect: true`.
 * @returns The whole chain, or `null` if it was refused (and the ring broken).
 * @throws {ConformanceError} Only from a strict log, through `breakDeviceRing`.
 */
export function readIndirectTable(
  ring: SplitDeviceRing,
  chain: DescriptorChain,
): DescriptorChain | null {
  return todo(
    "readIndirectTable",
    `check descriptor ${ring.indirectDesc.index} of queue ${ring.index} and read the ` +
      `${ring.indirectDesc.len}-byte table it points to`,
  );
}

/**
 * Driver side: places a chain of n = `readable.length + writable.length`
 * buffers in an indirect table and takes **one** descriptor of the ring for
 * it, the first of the free list (`ring.freeHead`). It is not available yet:
 * the queue then puts the head in the available ring.
 *
 * The table comes from `allocTable(16 * n)`, called once, which returns the
 * guest-physical address of 16 * n bytes aligned to 16 (or throws, as a full
 * allocator's `GuestOutOfMemoryError`). Entry k (at `table + 16 * k`) gets
 * buffer k of `[...readable, ...writable]`: its `addr` and `len`,
 * `VIRTQ_DESC_F_WRITE` if it is device-writable, and `VIRTQ_DESC_F_NEXT`
 * with `next = k + 1` unless it is the last (whose `next` is free); never
 * `VIRTQ_DESC_F_INDIRECT` (2.7.5.3.1/2). The ring descriptor `head` gets
 * `addr` = the table, `len` = 16 * n, and `VIRTQ_DESC_F_INDIRECT`, never
 * with `VIRTQ_DESC_F_NEXT` (2.7.5.3.1/4); `VIRTQ_DESC_F_WRITE` there is
 * allowed (the device ignores it, 2.7.5.3.2/1) and its `next` is free.
 * Nothing else in guest memory is stored into (2.7.5.3/D2).
 *
 * Afterwards the record says, and nothing else in it changes:
 *
 * | field            | value                                                  |
 * | ---------------- | ------------------------------------------------------ |
 * | `numFree`        | one fewer                                              |
 * | `freeHead`       | `ring.next[head]` (the second descriptor of the list)  |
 * | `state[head]`    | `HEAD_ADDED`                                           |
 * | `tokens[head]`   | `token`                                                |
 * | `count[head]`    | 1: the chain takes one descriptor of the ring          |
 * | `writable[head]` | the sum of the writable buffers' lengths, in bytes     |
 * | `tables[head]`   | the table's address: `detachChain` frees it (2.7.5.3/D3) |
 * | `inFlight`       | one more                                               |
 *
 * Refusals come before `allocTable` is called and change nothing, memory or
 * record (a table allocated for a refused chain would never be freed,
 * 2.7.5.3/D3). A chain that breaks several rules may be refused for any one:
 *
 * | the chain, or the ring                             | throws                                        |
 * | -------------------------------------------------- | --------------------------------------------- |
 * | VIRTIO_F_INDIRECT_DESC not negotiated (`ring.indirect` false) | `VirtqueueChainError("2.7.5.3.1/1", -1, ...)` |
 * | has no buffers                                     | `VirtqueueChainError(null, -1, ...)`          |
 * | has a buffer of length 0                           | `VirtqueueChainError("2.7.5/D3", k, ...)`     |
 * | has a length above 0xffff_ffff                     | `VirtqueueChainError(null, k, ...)`           |
 * | is more than 2^32 bytes in total                   | `VirtqueueChainError("2.7.5.2/1", -1, ...)`   |
 * | is more buffers than Queue Size (`ring.size`)      | `VirtqueueChainError("2.7.5.3.1/3", -1, ...)` |
 * | has a buffer not inside guest RAM                  | `VirtqueueChainError("2.7.5/D2", k, ...)`     |
 * | finds no free descriptor (`numFree` is 0)          | `VirtqueueFullError(1, 0)`                    |
 *
 * `k` is the offending buffer's index in `[...readable, ...writable]`.
 * Whatever `allocTable` throws is passed on, with nothing changed; once it
 * has returned, nothing can fail.
 *
 * @param ring The driver's record of the ring (not broken).
 * @param readable Device-readable buffers, in order.
 * @param writable Device-writable buffers, in order.
 * @param token What the driver gets back when the device returns the chain.
 * @param allocTable Allocates `bytes` for the table, 16-byte aligned; returns its address.
 * @returns The head: the ring descriptor that points to the table.
 * @throws {VirtqueueChainError} When the chain breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} When no descriptor is free (nothing changed).
 * @throws {unknown} Whatever `allocTable` throws (nothing changed).
 */
export function addIndirectChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  allocTable: (bytes: number) => number,
): number {
  return todo(
    "addIndirectChain",
    `place a chain of ${readable.length} readable and ${writable.length} writable buffer(s) ` +
      `in an indirect table, taking one of the ${ring.numFree} free descriptors of queue ${ring.index}`,
  );
}

/**
 * Driver side: places one chain, choosing direct descriptors or an indirect
 * table, with one of `steps` (the queue's `addChain` and `addIndirectChain`
 * parts, and its table allocator `steps.allocTable`, `undefined` when the
 * queue has none), and returns the head the step returned.
 *
 * n = `readable.length + writable.length`:
 *
 * | `policy`   | the step                                                                      |
 * | ---------- | ----------------------------------------------------------------------------- |
 * | `"never"`  | `steps.addChain(ring, readable, writable, token)`                             |
 * | `"always"` | `steps.addIndirectChain(..., steps.allocTable)`; without an allocator, a `TypeError` and no step |
 * | `"auto"`   | `steps.addIndirectChain` when `ring.indirect`, `steps.allocTable` is given and n >= 2; else `steps.addChain` |
 *
 * With `"auto"`, when `steps.addIndirectChain` throws a
 * `GuestOutOfMemoryError` (no table could be allocated; it changed
 * nothing), the chain goes into direct descriptors instead:
 * `steps.addChain`, whose result or error is the call's. Every other error
 * of a step is thrown on as it is, and no step is called twice.
 *
 * @param ring The driver's record of the ring (not broken).
 * @param readable Device-readable buffers, in order.
 * @param writable Device-writable buffers, in order.
 * @param token What the driver gets back when the device returns the chain.
 * @param policy `"auto"`, `"always"` or `"never"`, as the table says.
 * @param steps The two placing steps and the allocator.
 * @returns The head the step returned.
 * @throws {unknown} What the step throws (see above), or a `TypeError` for `"always"` without an allocator.
 */
export function addBuffers<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  policy: IndirectPolicy,
  steps: AddBufferSteps,
): number {
  return todo(
    "addBuffers",
    `choose direct descriptors or an indirect table ("${policy}") for a chain of ` +
      `${readable.length + writable.length} buffer(s) on queue ${ring.index}`,
  );
}
