/**
 * "Popping a chain without trusting the driver": your exercise.
 *
 * The device walks the descriptor chain that starts at a head the driver
 * made available and validates every descriptor before a device model sees
 * a byte of it ({@linkcode walkChain}). The lab's block and console devices
 * take every chain through your walker (`deno task lab boot --mine`), and the
 * grader throws hostile tables at it.
 *
 * The doc comment below is the contract; the how is in the lesson and in
 * §2.7.4 and §2.7.5. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTQ_DESC_F_NEXT,     // 1: the chain goes on at `next`
 *   VIRTQ_DESC_F_WRITE,    // 2: device-writable (else device-readable)
 *   VIRTQ_DESC_F_INDIRECT, // 4: the buffer is a table of descriptors
 * } from "../../virtqueue/constants.ts";
 * import {
 *   descOffset,            // i -> 16 * i: where descriptor i starts in the table
 *   VIRTQ_DESC_ADDR_OFFSET, VIRTQ_DESC_LEN_OFFSET, // 0 (u64), 8 (u32)
 *   VIRTQ_DESC_FLAGS_OFFSET, VIRTQ_DESC_NEXT_OFFSET, // 12 (u16), 14 (u16)
 * } from "../../virtqueue/layout.ts";
 * import { breakDeviceRing } from "../../virtqueue/device/ring.ts"; // report, break, return null
 * import { NO_SEGMENTS } from "../../virtqueue/device/walk.ts"; // a frozen [] for an empty list
 * import { hexAddress } from "../../memory/guest_memory.ts"; // 0x40001000, for your messages
 * ```
 *
 * Check your work with `deno task lab check device-pop`; stuck?
 * `deno task lab hint device-pop`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";

/**
 * Device side: walks the chain that starts at descriptor `head` of the
 * descriptor table (at `ring.descAddr`, `ring.size` descriptors of 16 bytes)
 * and validates it, trusting nothing the driver wrote (§2.7.4, §2.7.5).
 *
 * A valid chain comes back as a {@linkcode DescriptorChain}: `head`; its
 * buffers as `{ addr, len }`, the device-readable ones in `readable` and the
 * device-writable ones in `writable`, each list in chain order; their totals
 * `readableLength` and `writableLength` in bytes; `descriptorCount`, the
 * descriptors walked; and `indirect: false`. Every valid chain is taken,
 * whatever its arrangement (2.7.4.1/1): one descriptor or Queue Size of them,
 * readable or writable buffers only, a header split over several
 * descriptors, descriptors anywhere in the table in any order, a buffer that
 * ends on the last byte of RAM.
 *
 * A chain that breaks a rule is refused: report the rule and break the ring
 * with `breakDeviceRing(ring, id, message, values)` (from
 * `virtqueue/device/ring.ts`; it returns `null`), and return `null`. A broken
 * ring is how the device stops using the queue: the transport then sets
 * DEVICE_NEEDS_RESET (2.1.2/3), so reporting alone is not enough.
 *
 * | id            | the chain breaks it when                                                   |
 * | ------------- | -------------------------------------------------------------------------- |
 * | `2.7.5/D1`    | a descriptor with `VIRTQ_DESC_F_NEXT` has a `next` of Queue Size or more    |
 * | `2.7.5.3.1/3` | following it would take more than Queue Size descriptors: a loop           |
 * | `2.7.5/D3`    | a descriptor's `len` is 0                                                  |
 * | `2.7.5.2/1`   | the lengths add up to more than 2^32 bytes                                 |
 * | `2.7.4.2/1`   | a device-readable descriptor comes after a device-writable one             |
 * | `2.7.5/D2`    | a buffer is not entirely inside guest RAM (`ring.memory.contains(addr, len)`) |
 *
 * A chain that breaks several rules may be refused citing any one of them;
 * the message is one sentence of yours with the values that matter.
 *
 * A descriptor with `VIRTQ_DESC_F_INDIRECT` ends the walk, whatever its other
 * flags and its `len`: it counts in `descriptorCount`; its index and its
 * `addr`, `len` and `flags` as read go into `ring.indirectDesc`; and the chain
 * so far (the direct buffers before it, checked) comes back with
 * `indirect: true`. The ring's `readIndirectTable` step finishes such a chain
 * (and refuses it while `VIRTIO_F_INDIRECT_DESC` is not negotiated).
 *
 * Read each field of a descriptor at most once, through `ring.memory`'s
 * accessors (`readU64Number` for `addr`, which gives `Infinity` above 2^53;
 * `readU32`, `readU16`), and check and return the values you read: a driver on
 * another CPU may rewrite the table while you walk it. Never write to the
 * descriptor table (2.7.5.1/2). Never throw for anything the driver wrote; a
 * strict log's `ConformanceError` out of `breakDeviceRing` is the only
 * exception.
 *
 * @param ring The device ring (healthy; `head` was just taken from the available ring).
 * @param head The head's descriptor index, below `ring.size`.
 * @returns The chain, or `null` if it was refused (and the ring broken).
 * @throws {ConformanceError} Only from a strict log, through `breakDeviceRing`.
 */
export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  return todo(
    "walkChain",
    `walk and check the chain at descriptor ${head} of queue ${ring.index} (Queue Size ${ring.size})`,
  );
}
