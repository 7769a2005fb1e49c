// deno-lint-ignore-file no-unused-vars
/**
 * Lesson 4, "Where a split virtqueue lives": your exercise.
 *
 * A split virtqueue is three pieces of guest memory, and both sides must
 * agree on where every byte of them is. Three functions:
 *
 * - the driver sizes and aligns the three parts ({@linkcode splitQueueLayout})
 *   and allocates them ({@linkcode allocateQueueAreas});
 * - the device decides, when the driver sets `QueueReady`, whether it can use
 *   what the queue registers say ({@linkcode queueAreaProblem}).
 *
 * The guest's driver allocates every queue of both devices with your
 * `allocateQueueAreas`, sized by your `splitQueueLayout`, and the lab's
 * register file asks your `queueAreaProblem` before it takes any queue live
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in §2.7
 * and §4.2.3.2. Pieces of the library you may use:
 *
 * ```ts
 * import { QueueSizeError } from "../../virtqueue/layout.ts"; // new QueueSizeError(size)
 * import { join64 } from "../../transport/queue_registers.ts"; // (low, high) => bigint address
 * import {
 *   VIRTQ_DESC_SIZE,      // 16: bytes of one descriptor
 *   VIRTQ_USED_ELEM_SIZE, // 8: bytes of one used element
 *   VIRTQ_MAX_SIZE,       // 32768: the largest Queue Size
 * } from "../../virtqueue/constants.ts";
 * // GuestAllocator (memory/allocator.ts): alloc(size, align, { zero }) -> address, free(address);
 * // GuestMemory (memory/guest_memory.ts): fill(address, length, byte).
 * ```
 *
 * Check your work with `deno task lab check 4`; stuck? `deno task lab hint 4`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitQueueLayout } from "../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../virtqueue/types.ts";
import type { GuestAllocator } from "../../memory/allocator.ts";
import type { QueueAreaContext, QueueRegisters } from "../../transport/queue_registers.ts";
import type { RuleProblem } from "../../transport/types.ts";

/**
 * Driver side: how large the three parts of a split virtqueue of `size`
 * descriptors are, how they must be aligned, and where the event fields sit
 * (§2.7; the `SplitQueueLayout` fields are documented in
 * `virtqueue/layout.ts`).
 *
 * | field                | what it is                                                                  |
 * | -------------------- | --------------------------------------------------------------------------- |
 * | `size`, `eventIdx`   | the arguments                                                               |
 * | `descTableSize`      | bytes of the descriptor table (Descriptor Area)                             |
 * | `availRingSize`      | bytes of the available ring (Driver Area), `used_event` included with event idx |
 * | `usedRingSize`       | bytes of the used ring (Device Area), `avail_event` included with event idx |
 * | `*Align`             | the alignment §2.7 requires of each part, in bytes (2.7.1/1)                |
 * | `usedEventOffset`    | offset of `used_event` from the start of the available ring; `null` without event idx |
 * | `availEventOffset`   | offset of `avail_event` from the start of the used ring; `null` without event idx |
 *
 * `eventIdx` says whether `VIRTIO_F_EVENT_IDX` is in use; when it is left
 * out, the event fields count (the sizes of the spec's table). Pure.
 *
 * @param size Queue Size, in descriptors.
 * @param eventIdx Whether the rings carry their event fields (default `true`).
 * @returns The layout.
 * @throws {QueueSizeError} With `size` as given, unless `size` is a power of
 *   two from 1 to 32768 (2.7/D1).
 * @example
 * ```ts ignore
 * splitQueueLayout(256).descTableSize; // 4096
 * splitQueueLayout(256, false).usedEventOffset; // null
 * splitQueueLayout(100); // throws QueueSizeError, size 100
 * ```
 */
export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  return todo(
    "splitQueueLayout",
    `lay out a split virtqueue of ${size} descriptors (event idx ${eventIdx ? "on" : "off"})`,
  );
}

/**
 * Driver side: allocates the three parts of a queue of `size` descriptors,
 * sized and aligned as `layout(size, true)` says (the rings with their event
 * fields, so that they suit either setting of `VIRTIO_F_EVENT_IDX`).
 *
 * When it returns:
 *
 * - each part is its own live allocation of `allocator` (`alloc`), at least
 *   as large as the layout's size and at least as aligned as the layout's
 *   alignment: the caller gives each back with `allocator.free(address)`, and
 *   nothing else it allocated stays allocated;
 * - every byte of the three parts reads 0, whatever the memory held before
 *   (2.7.10.1/1 asks it of the used ring's `flags`; the rest starts both sides
 *   from empty rings).
 *
 * The sizes and alignments are the `layout` you are given, never your own:
 * the machine passes its `splitQueueLayout` part (yours, once this lesson
 * passes).
 *
 * @param allocator The driver side's allocator (its `memory` is guest RAM).
 * @param size Queue Size, in descriptors.
 * @param layout Computes the sizes and alignments; call it with `(size, true)`.
 * @returns The guest-physical addresses of the descriptor table
 *   (`descAddr`), the available ring (`availAddr`) and the used ring
 *   (`usedAddr`).
 * @throws {QueueSizeError} From `layout`, when `size` is not a Queue Size;
 *   nothing is allocated.
 * @throws {GuestOutOfMemoryError} From the allocator, when a part does not
 *   fit; the parts already allocated are freed first, so nothing stays
 *   allocated.
 */
export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  return todo(
    "allocateQueueAreas",
    `allocate the descriptor table, available ring and used ring of a ${size}-descriptor queue`,
  );
}

/**
 * Device side: may the queue go live? The register file asks when the
 * driver writes 1 to `QueueReady` (§4.2.3.2), with the selected queue's
 * registers as the driver left them.
 *
 * | what the registers hold                                   | returns a problem with `id` |
 * | --------------------------------------------------------- | --------------------------- |
 * | `num` 0: no valid `QueueNum` was written                  | `"4.2.3.2/D1"` (`"2.6.1.2.2/1"` instead when `wasReset`) |
 * | any other `num` that is not a power of two up to 32768    | `"2.7/D1"`                  |
 * | `num` above `context.max` (`QueueNumMax`)                 | `"4.2.2.2/9"`               |
 * | an area whose address is not a multiple of its alignment  | `"2.7.1/1"`                 |
 * | an area not wholly inside `context.ram`                   | `"2.7.5/D2"`                |
 * | two areas that overlap                                    | `"2.7/D2"`                  |
 * | none of these                                             | `null`: the queue may go live |
 *
 * The areas are the Descriptor Area (`descLow`/`descHigh`), the Driver Area
 * (`driverLow`/`driverHigh`) and the Device Area (`deviceLow`/`deviceHigh`):
 * each address is `high * 2^32 + low`, all 64 bits of it, and RAM may lie
 * above 4 GiB. An area's length is what the device will touch: the §2.7 size
 * for `num` descriptors, with the ring's event field only when
 * `context.eventIdx`. An area may end on RAM's last byte; two areas may
 * touch (one starting right after another ends).
 *
 * When the registers break several rules, return any one of them. A
 * problem is `{ id, message, values }`: `message` is one sentence of yours
 * for the log (not empty), `values` an object of whatever values you want
 * the log to show (may be empty); `action` is the register file's to add
 * ("QueueReady stays 0"). Pure; never throws.
 *
 * @param registers The queue's registers at the time of the write.
 * @param context The queue's index (for messages), `QueueNumMax`, guest RAM
 *   (`{ base, size }`, bytes) and whether `VIRTIO_F_EVENT_IDX` was negotiated.
 * @returns The problem found, or `null`.
 */
export function queueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  return todo(
    "queueAreaProblem",
    `decide whether queue ${context.queue} (QueueNum ${registers.num}) may go live`,
  );
}
