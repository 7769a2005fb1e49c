// deno-lint-ignore-file no-unused-vars
/**
 * "The packed virtqueue": your exercise.
 *
 * Five functions, both halves of the packed ring's descriptor ring (§2.8):
 *
 * - the device polls one descriptor, at `ring.nextAvail`, for the next
 *   buffer ({@linkcode descAvailablePacked}), reads and checks the list that
 *   starts there ({@linkcode walkPackedChain}), and writes a used descriptor
 *   when the device model is done with a buffer ({@linkcode pushUsedPacked});
 * - the driver makes a buffer available, one descriptor per element
 *   ({@linkcode addPacked}), and reaps the used descriptor at
 *   `ring.nextUsed` ({@linkcode getBufPacked}).
 *
 * The lab's packed queues call these for every buffer on every queue of
 * both devices (`deno task lab boot --mine --packed`, which offers
 * VIRTIO_F_RING_PACKED once this lesson passes). Indirect tables, event
 * suppression and freeing a Buffer ID stay the library's.
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §2.8. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTQ_DESC_F_AVAIL,   // 1 << 7
 *   VIRTQ_DESC_F_USED,    // 1 << 15
 *   PVIRTQ_DESC_SIZE,     // 16: struct pvirtq_desc
 *   PVIRTQ_DESC_ADDR, PVIRTQ_DESC_LEN,  // 0 (u64), 8 (u32)
 *   PVIRTQ_DESC_ID, PVIRTQ_DESC_FLAGS,  // 12 (u16), 14 (u16)
 * } from "../../virtqueue/packed/constants.ts";
 * import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_INDIRECT } from "../../virtqueue/constants.ts";
 * import { breakPackedDeviceRing } from "../../virtqueue/packed/device_ring.ts"; // report, break, null
 * import { breakPackedDriverRing, PACKED_NO_ID, PACKED_NO_TABLE } from "../../virtqueue/packed/driver_ring.ts";
 * import { VirtqueueChainError, VirtqueueFullError } from "../../virtqueue/types.ts";
 * ```
 *
 * Check your work with `deno task lab check packed-ring`; stuck?
 * `deno task lab hint packed-ring`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { PackedChainRecord, PackedDeviceRing } from "../../virtqueue/packed/device_ring.ts";
import type { PackedDriverRing } from "../../virtqueue/packed/driver_ring.ts";
import type { BufferSegment, UsedBuffer } from "../../virtqueue/types.ts";

/**
 * Device side: whether a buffer starts at `ring.nextAvail`. Reads that
 * descriptor's `flags` (one `readU16`) and stores nothing.
 *
 * With `w = ring.availWrap` (the wrap counter the device expects) and `A`,
 * `U` the flags' `VIRTQ_DESC_F_AVAIL` and `VIRTQ_DESC_F_USED` bits as 0 or 1:
 *
 * | A, U        | returns | and                                                         |
 * | ----------- | ------- | ----------------------------------------------------------- |
 * | `w`, `1-w`  | `true`  | (available, 2.8.15/2)                                       |
 * | `w`, `w`    | `false` | `breakPackedDeviceRing(ring, "2.8.1/D1", ...)`: USED not inverted |
 * | otherwise   | `false` | nothing: not made available yet, or left from the last lap  |
 *
 * Other flag bits do not matter here.
 *
 * @param ring The device ring (healthy).
 * @returns Whether the descriptor at `ring.nextAvail` is available.
 * @throws {ConformanceError} Only from a strict log, through `breakPackedDeviceRing`.
 */
export function descAvailablePacked(ring: PackedDeviceRing): boolean {
  return todo(
    "descAvailablePacked",
    `look at the flags of descriptor ${ring.nextAvail} of queue ${ring.index} against wrap ` +
      `${ring.availWrap}`,
  );
}

/**
 * Device side: reads the list that starts at `ring.nextAvail` (which
 * `descAvailablePacked` found available) and checks it. The list is the
 * descriptors from there in ring order while `VIRTQ_DESC_F_NEXT` is set,
 * going round past position `ring.size - 1` to 0, where the wrap counter a
 * descriptor must carry flips.
 *
 * A valid list comes back as a record (a `PackedChainRecord`):
 *
 * | field                              | value                                                     |
 * | ---------------------------------- | --------------------------------------------------------- |
 * | `head`                             | the Buffer ID: the `id` of the list's **last** descriptor |
 * | `readable`, `writable`             | the elements `{ addr, len }`, in list order, by `VIRTQ_DESC_F_WRITE` |
 * | `readableLength`, `writableLength` | their totals, in bytes                                    |
 * | `descriptorCount`, `slots`         | the descriptors read: the ring slots the buffer takes     |
 * | `indirect`                         | `false`, or `true` for a lone `VIRTQ_DESC_F_INDIRECT` descriptor (below) |
 * | `inUse`                            | `false` (the queue sets it)                               |
 *
 * and afterwards `ring.chains.get(head)` is that record (a new object, or
 * one the ring holds: filling `ring.scratch` and swapping it in is how the
 * library avoids allocating), and `ring.nextAvail` / `ring.availWrap` are
 * past the list: the position after its last descriptor, the wrap counter
 * flipped once for every time the list went past the ring's end.
 *
 * A descriptor with `VIRTQ_DESC_F_INDIRECT` is a list of its own, of one
 * descriptor (the library reads its table): record its ring position, `addr`
 * and `len` in `ring.indirectDesc`, and return the record with `indirect:
 * true`, no elements, `descriptorCount` and `slots` 1.
 *
 * A list that breaks a rule is refused: `breakPackedDeviceRing(ring, id,
 * message, values)` (it reports, breaks the ring, returns `null`), then
 * return `null`; the record's positions are then free. The message is yours.
 *
 * | id         | broken when                                                                  |
 * | ---------- | ---------------------------------------------------------------------------- |
 * | `2.8.17/6` | a descriptor after the first is not available on the wrap it should carry    |
 * | `2.8.17/2` | the list would take more than `ring.size` descriptors                        |
 * | `2.8.17/3` | a device-readable element comes after a device-writable one                  |
 * | `2.8.4/D1` | an element is not inside RAM (`ring.memory.contains(addr, len)`)             |
 * | `2.8.19/1` | a descriptor has `VIRTQ_DESC_F_INDIRECT` and `ring.indirect` is false        |
 * | `2.8.19/4` | a descriptor with `VIRTQ_DESC_F_INDIRECT` also has `VIRTQ_DESC_F_NEXT`, or is not the list's first |
 * | `2.8.6/D1` | the Buffer ID's record in `ring.chains` is `inUse`: that buffer is still in flight |
 *
 * A list of `ring.size` descriptors whose every one has `VIRTQ_DESC_F_NEXT`
 * may be refused with `2.8.17/2` or `2.8.17/6`. Never write to guest
 * memory, never throw for anything the driver wrote.
 *
 * @param ring The device ring (healthy).
 * @returns The buffer's record, or `null` if the list was refused (and the ring broken).
 * @throws {ConformanceError} Only from a strict log, through `breakPackedDeviceRing`.
 */
export function walkPackedChain(ring: PackedDeviceRing): PackedChainRecord | null {
  return todo(
    "walkPackedChain",
    `read the list at position ${ring.nextAvail} of queue ${ring.index} (wrap ${ring.availWrap})`,
  );
}

/**
 * Device side: returns Buffer ID `id` to the driver with `len` bytes
 * written, as one used descriptor at `ring.nextUsed`. `ring.chains.get(id)`
 * is the buffer's record, as the walk made it; `len` is at most its
 * `writableLength` (the queue checked).
 *
 * Stores, through `ring.memory`, exactly these three fields of that
 * descriptor: `id` (u16) and `len` (u32) in either order, then `flags`
 * (u16) last (2.8.15/3): `VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED` when
 * `ring.usedWrap` is 1 and neither when it is 0 (§2.8.1), plus
 * `VIRTQ_DESC_F_WRITE` exactly when `len > 0` (2.8.3/D1). Its `addr` is
 * left alone.
 *
 * Afterwards `ring.nextUsed` has moved on by the record's `slots`, going
 * round past the end with `ring.usedWrap` flipped, and
 * `ring.usedSinceSignal` has grown by `slots`. Nothing else in the record
 * changes (`inUse` and `inFlight` are the queue's).
 *
 * @param ring The device ring (healthy).
 * @param id The Buffer ID, as popped.
 * @param len Bytes written into the buffer's device-writable elements.
 */
export function pushUsedPacked(ring: PackedDeviceRing, id: number, len: number): void {
  return todo(
    "pushUsedPacked",
    `write the used descriptor of Buffer ID ${id} (${len} bytes) at position ${ring.nextUsed}`,
  );
}

/**
 * Driver side: makes one buffer of n = `readable.length + writable.length`
 * elements available, one descriptor per element, in the ring slots from
 * `ring.nextAvail` on (going round past the end, where the Driver Ring Wrap
 * Counter `ring.availWrap` flips). Its Buffer ID is `ring.freeHead`.
 *
 * Descriptor k gets element k of `[...readable, ...writable]`: its `addr`
 * (u64) and `len` (u32); the Buffer ID in `id` (u16) of the **last**
 * descriptor (in the others `id` is free); and `flags` (u16):
 * `VIRTQ_DESC_F_WRITE` for a device-writable element, `VIRTQ_DESC_F_NEXT`
 * on all but the last, and `VIRTQ_DESC_F_AVAIL` set to the wrap counter at
 * that slot with `VIRTQ_DESC_F_USED` its inverse (§2.8.1). Each
 * descriptor's `flags` are stored after its other fields (2.8.21.1.1/1), and
 * the **first** descriptor's `flags` are the last store of all (2.8.17/6):
 * until then the device must see nothing. Nothing else in memory is stored.
 *
 * Afterwards the record says, and nothing else in it changes:
 *
 * | field                   | value                                              |
 * | ----------------------- | -------------------------------------------------- |
 * | `nextAvail`, `availWrap`| past the last descriptor (wrap flipped if the list went round) |
 * | `numFree`               | n fewer                                            |
 * | `numAdded`              | n more                                             |
 * | `freeHead`              | `ring.nextId[id]`: the next free Buffer ID         |
 * | `inUse[id]`             | 1                                                  |
 * | `descCount[id]`         | n: the slots `getBufPacked` will skip              |
 * | `writable[id]`          | the sum of the writable elements' lengths, in bytes |
 * | `table[id]`             | `PACKED_NO_TABLE`                                  |
 * | `tokens[id]`            | `token`                                            |
 * | `inFlight`              | one more                                           |
 *
 * Refusals come before any store and change nothing, memory or record. A
 * buffer that breaks several rules may be refused for any of them:
 *
 * | the buffer, or the ring                         | throws                                      |
 * | ----------------------------------------------- | ------------------------------------------- |
 * | has no elements                                 | `VirtqueueChainError(null, -1, ...)`        |
 * | has more elements than `ring.size`              | `VirtqueueChainError("2.8.17/2", -1, ...)`  |
 * | has more elements than `ring.numFree` (2.8.17/5) | `VirtqueueFullError(n, ring.numFree)`      |
 * | has an element of length 0 or above 0xffff_ffff | `VirtqueueChainError(null, k, ...)`         |
 * | has an element not inside guest RAM             | `VirtqueueChainError("2.8.4/D1", k, ...)`   |
 *
 * `k` is the offending element's index in `[...readable, ...writable]`.
 *
 * @param ring The driver's record of the ring (not broken).
 * @param readable Device-readable elements, in order.
 * @param writable Device-writable elements, in order.
 * @param token What the driver gets back with the used descriptor.
 * @throws {VirtqueueChainError} When the buffer breaks a rule (nothing changed).
 * @throws {VirtqueueFullError} When the ring has too few free slots (nothing changed).
 */
export function addPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): void {
  return todo(
    "addPacked",
    `make a buffer of ${readable.length + writable.length} element(s) available at position ` +
      `${ring.nextAvail} of queue ${ring.index} (wrap ${ring.availWrap})`,
  );
}

/**
 * Driver side: reaps the used descriptor at `ring.nextUsed`, if there is
 * one. It is used when its `VIRTQ_DESC_F_AVAIL` and `VIRTQ_DESC_F_USED`
 * bits are both equal to `ring.usedWrap` (§2.8.1); otherwise return `null`
 * and change nothing. Read its `flags`, `id` and `len` through `ring.memory`.
 *
 * | the used descriptor                                        | then                                     |
 * | ---------------------------------------------------------- | ---------------------------------------- |
 * | `id` is `ring.size` or more, or `ring.inUse[id]` is 0      | `breakPackedDriverRing(ring, "2.8.22/D1", ...)`, return `null` |
 * | has `VIRTQ_DESC_F_WRITE` and `len > ring.writable[id]`     | `breakPackedDriverRing(ring, "2.8.4/D2", ...)`, return `null`  |
 * | has `VIRTQ_DESC_F_WRITE`                                   | the buffer came back with `len` bytes    |
 * | has no `VIRTQ_DESC_F_WRITE`                                | `len` is reserved: it came back with 0   |
 *
 * A buffer that came back: `ring.nextUsed` moves on by `ring.descCount[id]`
 * slots (going round past the end with `ring.usedWrap` flipped), then
 * `detach(id)` is called once (it frees the id and returns its token), and
 * the result is `{ token: what detach returned, len }`. A refusal calls no
 * `detach`. Store nothing into guest memory; nothing else in the record
 * changes.
 *
 * @param ring The driver's record of the ring (not broken).
 * @param detach Frees a Buffer ID and returns its token.
 * @returns The token and `len`, or `null` (nothing used yet, or a refusal).
 * @throws {ConformanceError} Only from a strict log, through `breakPackedDriverRing`.
 */
export function getBufPacked<T>(
  ring: PackedDriverRing<T>,
  detach: (id: number) => T,
): UsedBuffer<T> | null {
  return todo(
    "getBufPacked",
    `look for a used descriptor at position ${ring.nextUsed} of queue ${ring.index} (wrap ` +
      `${ring.usedWrap})`,
  );
}
