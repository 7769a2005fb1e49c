// deno-lint-ignore-file no-unused-vars
/**
 * "Returning buffers": your exercise.
 *
 * The device hands a chain back through the used ring
 * ({@linkcode pushUsed}); the driver notices that something came back
 * ({@linkcode moreUsed}) and takes it, checking it against what it posted
 * ({@linkcode getBuf}). The lab's queues call your `pushUsed` every time a
 * device model finishes a chain, and your `getBuf` and `moreUsed` every time
 * a driver reaps (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §2.7.8 and §2.7.14. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   usedElemOffset,             // slot -> byte offset of ring[slot] in the used ring (4 + 8 * slot)
 *   VIRTQ_USED_FLAGS_OFFSET,    // 0: le16 flags
 *   VIRTQ_USED_IDX_OFFSET,      // 2: le16 idx
 *   VIRTQ_USED_ELEM_ID_OFFSET,  // 0: le32 id, inside an element
 *   VIRTQ_USED_ELEM_LEN_OFFSET, // 4: le32 len, inside an element
 * } from "../../virtqueue/layout.ts";
 * import {
 *   breakDriverRing, // (ring, id, message, values) -> null: report the device's fault, break the ring
 *   HEAD_PUBLISHED,  // ring.state[head] of a chain the device may return
 * } from "../../virtqueue/driver/ring.ts";
 * ```
 *
 * Guest memory is read and written only through `ring.memory`'s accessors
 * (`readU16`, `readU32`, `writeU16`, `writeU32`...). Check your work with
 * `deno task lab check used-ring`; stuck? `deno task lab hint used-ring`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { UsedBuffer } from "../../virtqueue/types.ts";

/**
 * Device side: returns the chain at `head` to the driver (§2.7.8).
 *
 * Afterwards:
 *
 * - the used element in slot `ring.usedIdx % ring.size` holds `id = head`
 *   and `len` (both are le32 fields, and both are written whole: the slot may
 *   hold anything from a previous lap);
 * - the used ring's `idx` and `ring.usedIdx` are one further than
 *   `ring.usedIdx` was, as a free-running 16-bit index (0xffff is followed
 *   by 0). Count from `ring.usedIdx`, the device's own record, whatever
 *   the `idx` in guest memory says (a driver could have scribbled over it).
 *
 * Both fields of the element are stored, in either order, before the
 * store of `idx` that makes the entry visible (2.7.8.2/1), and nothing else
 * is stored: no other field of the used ring, nothing in the descriptor
 * table or the available ring.
 *
 * `len` is what the device model says it wrote into the chain's writable
 * buffers, from the first one on (2.7.8.2/2): store it as given. The queue
 * class has checked that `head` is a chain the device holds and that `len`
 * fits it, and it keeps `ring.inUse` and `ring.inFlight` itself.
 *
 * @param ring The device ring.
 * @param head The chain's head index, as popped.
 * @param len Bytes written, from 0 to the chain's writable length.
 * @throws {GuestMemoryError} If the used ring is not inside RAM (the memory's
 *   accessors throw it; the queue class turns it into a 2.7.5/D2 violation).
 */
export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  return todo(
    "pushUsed",
    `return chain ${head} (${len} byte(s) written) at used idx ${ring.usedIdx}`,
  );
}

/**
 * Driver side: has the device returned anything not reaped yet? True
 * exactly when the used ring's `idx` differs from `ring.lastUsed`, both
 * free-running 16-bit indices (Linux's `more_used_split`).
 *
 * A check only: it reads the used `idx` and changes nothing, in memory or
 * in the record. (`getBuf` is what validates the entries.)
 *
 * @param ring The driver ring.
 * @returns Whether used entries are waiting.
 */
export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return todo("moreUsed", `compare the used idx with last used ${ring.lastUsed}`);
}

/**
 * Driver side: reaps the used entry at `ring.lastUsed`, if the used `idx`
 * has moved past it, and checks it against the shadow of what was posted
 * before trusting any of it (§2.7.14).
 *
 * | the device wrote                                                         | rule      |
 * | ------------------------------------------------------------------------ | --------- |
 * | a used `idx` more than `ring.published` entries past `ring.lastUsed`     | 2.7.8/D2  |
 * | an `id` that is Queue Size or more, or not a head in state `HEAD_PUBLISHED` | 2.7.8/D1  |
 * | a `len` above `ring.writable[id]`, the device-writable bytes posted      | 2.7.8.2/2 |
 *
 * The `idx` is checked before any element is read, and an element's `id`
 * before its `len`. The first rule broken is reported with
 * `breakDriverRing(ring, id, message, values)`, which also breaks the ring
 * (the wording of `message` and the `values` are yours); then `getBuf`
 * returns `null` and changes nothing else: nothing is reaped or freed on the
 * word of a device that broke a rule.
 *
 * | the used ring                         | returns                 | and the record                                  |
 * | ------------------------------------- | ----------------------- | ----------------------------------------------- |
 * | `idx` equals `ring.lastUsed`          | `null`                  | unchanged                                       |
 * | an entry that keeps every rule        | `{ token, len }`        | `lastUsed` one further (16-bit), `published` one less, the chain freed by `detach(id)`, which gives its token |
 * | an entry that breaks a rule           | `null`                  | `broken` set (by `breakDriverRing`)             |
 *
 * The order of those record updates and the `detach` call is yours. You may
 * also read the used ring's `flags` (and log bad ones with `checkUsedFlags`
 * from `virtqueue/driver/avail.ts`), but nothing requires it. The queue
 * never calls `getBuf` on a broken ring.
 *
 * @param ring The driver ring.
 * @param detach Frees the chain at a head and returns its token (the queue
 *   binds the ring's `detachChain` to it); call it once, for an entry you reap.
 * @returns The token and the device's `len`, or `null`.
 * @throws {ConformanceError} When the log is strict and a rule is broken
 *   (`breakDriverRing` throws it, the ring broken first).
 */
export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  return todo(
    "getBuf",
    `reap the used entry at ${ring.lastUsed} (${ring.published} chain(s) outstanding)`,
  );
}
