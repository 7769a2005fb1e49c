/**
 * Lesson 7, "Making buffers available": your exercise.
 *
 * Four functions, the two ends of the available ring:
 *
 * - the driver puts each chain's head in the next entry of the ring
 *   ({@linkcode placeAvailEntry}) and then, for a whole batch at once, moves
 *   the available `idx` past them ({@linkcode publishAvail});
 * - the device counts the entries the driver made available, trusting
 *   nothing ({@linkcode availableCount}), and takes the next head
 *   ({@linkcode availHead}).
 *
 * The lab's driver queues call your two driver functions for every chain the
 * guest adds and every batch it publishes, and its device queues call your
 * two device functions every time a device looks for work
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract. How to get there is the lesson's and
 * the spec's to explain (§2.7.6, §2.7.13.2, §2.7.13.3). Pieces of the
 * library you may use:
 *
 * ```ts
 * import {
 *   availRingEntryOffset,   // slot => 4 + 2 * slot, the offset of ring[slot] in the available ring
 *   VIRTQ_AVAIL_FLAGS_OFFSET, // 0 (le16)
 *   VIRTQ_AVAIL_IDX_OFFSET,   // 2 (le16)
 * } from "../../virtqueue/layout.ts";
 * import { HEAD_PUBLISHED } from "../../virtqueue/driver/ring.ts";
 * import { breakDeviceRing } from "../../virtqueue/device/ring.ts";
 * // breakDeviceRing(ring, id, message, values): reports the driver's violation, breaks the ring
 * import { checkAvailFlags } from "../../virtqueue/device/avail.ts";
 * // checkAvailFlags(ring, flags): logs available ring flags the rules do not allow, once per value
 * ```
 *
 * Ring fields go through the memory's accessors: `ring.memory.readU16(address)`
 * and `ring.memory.writeU16(address, value)`.
 *
 * Check your work with `deno task lab check 7`; stuck? `deno task lab hint 7`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";

/**
 * Driver side: puts `head` in the next entry of the available ring
 * (§2.7.13.2), without making it visible.
 *
 * The entry is `ring[(availIdx + added) mod Queue Size]` (2.7.13.2/D1):
 * `ring.availIdx` is the `idx` as last published, `ring.added` the heads
 * placed since. One 16-bit store, of `head`, into that slot, and nothing else
 * in guest memory; the available `idx` does not move. Afterwards
 * `ring.pending[added]` is `head` and `ring.added` is one more.
 *
 * @param ring The driver's record, with fewer than Queue Size heads placed
 *   since the last publish.
 * @param head A head `addChain` returned.
 */
export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  return todo(
    "placeAvailEntry",
    `put head ${head} in the available ring of queue ${ring.index} (idx ${ring.availIdx}, ` +
      `${ring.added} placed since)`,
  );
}

/**
 * Driver side: makes the entries placed since the last call visible
 * (§2.7.13.3): the available `idx` moves forward by their number, modulo
 * 2^16, never modulo Queue Size (2.7.13.3/D1), in one 16-bit store to `idx`
 * made after the entries and their descriptors are in place
 * (2.7.13.3.1/1). Nothing else in guest memory changes, the ring's `flags`
 * included (2.7.7.1/1).
 *
 * Afterwards:
 *
 * | field                       | value                                                 |
 * | --------------------------- | ----------------------------------------------------- |
 * | `availIdx`                  | the new `idx`: 0 to 0xffff                            |
 * | `state[h]`, each pending h  | `HEAD_PUBLISHED`: the device may return it from now   |
 * | `published`                 | that many more (chains the device may return)         |
 * | `added`                     | 0                                                     |
 *
 * With nothing placed it returns 0 and changes nothing.
 *
 * @param ring The driver's record.
 * @returns How many chains it published.
 */
export function publishAvail(ring: SplitDriverRing<unknown>): number {
  return todo(
    "publishAvail",
    `publish the ${ring.added} head(s) placed on queue ${ring.index} (idx ${ring.availIdx})`,
  );
}

/**
 * Device side: how many chains the driver made available that the device has
 * not taken: the distance from `ring.lastAvail` to the available `idx`, over
 * the whole 16-bit plane (idx 0x0002 seen from lastAvail 0xfffe is 4 ahead).
 * It reads `idx` once, and trusts nothing it read.
 *
 * | distance d = (idx - lastAvail) mod 2^16 | returns | reports, and breaks the ring (`breakDeviceRing`) |
 * | --------------------------------------- | ------- | ------------------------------------------------ |
 * | 0 to Queue Size                         | d       | nothing                                          |
 * | Queue Size + 1 to 0x8000                | 0       | `"2.7.6/D1"`: more entries than the ring has      |
 * | 0x8001 to 0xffff                        | 0       | `"2.7.6.1/1"`: the driver moved idx back          |
 *
 * On a broken ring (`ring.broken` is not `null`) it returns 0: the driver
 * has lost its queue until it resets the device. It never throws for what
 * the driver wrote (a strict log's `ConformanceError` aside), changes
 * nothing in the record but through `breakDeviceRing`, and stores nothing.
 *
 * @param ring The device's record.
 * @returns The chains available, 0 to Queue Size.
 */
export function availableCount(ring: SplitDeviceRing): number {
  return todo(
    "availableCount",
    `count what the driver made available on queue ${ring.index} (lastAvail ${ring.lastAvail})`,
  );
}

/**
 * Device side: takes the next available head. Call it only when
 * {@linkcode availableCount} said there is one.
 *
 * It reads the available ring's `flags` and hands them to
 * `checkAvailFlags(ring, flags)`, which logs values the rules do not allow
 * (2.7.7.1/1); the queue goes on either way. Then it reads the head in
 * `ring[lastAvail mod Queue Size]` and checks it:
 *
 * | the head                                        | returns | reports, and breaks the ring |
 * | ----------------------------------------------- | ------- | ---------------------------- |
 * | Queue Size or more: no such descriptor          | -1      | `"2.7.5/D1"`                 |
 * | one the device holds (`ring.inUse[head]` is 1)  | -1      | `"2.7.6/D2"`                 |
 * | anything else                                   | head    | nothing                      |
 *
 * Taking a head moves `ring.lastAvail` on by one, modulo 2^16 (after a
 * refusal it does not matter: the ring is broken). On a broken ring it
 * returns -1. No store to guest memory; nothing thrown for what the driver
 * wrote.
 *
 * @param ring The device's record.
 * @returns The head, or -1.
 */
export function availHead(ring: SplitDeviceRing): number {
  return todo(
    "availHead",
    `take the head in slot ${ring.lastAvail & ring.mask} of queue ${ring.index}'s available ring`,
  );
}
