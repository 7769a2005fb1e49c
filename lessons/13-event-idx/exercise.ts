/**
 * "VIRTIO_F_EVENT_IDX": your exercise.
 *
 * With `VIRTIO_F_EVENT_IDX` each side says *where* it next wants to hear
 * from the other, as a ring index: the driver in `used_event` (after the
 * available ring), the device in `avail_event` (after the used ring). This
 * exercise is both sides of moving and reading them. The device side: where
 * the next kick should come from after each chain it takes
 * ({@linkcode updateAvailEvent}), and whether the entries it just returned
 * call for an interrupt ({@linkcode needsInterrupt}). The driver side: where
 * the next interrupt should come from after each reap
 * ({@linkcode updateUsedEvent}), and notifications off and on again
 * ({@linkcode disableCallbacks}, {@linkcode enableCallbacks}).
 *
 * Three of these are parts you wrote without event idx before: they now
 * answer for both cases (with `ring.eventIdx` false they do what they did).
 * Once this passes, the lab machine offers `VIRTIO_F_EVENT_IDX` to your code
 * again and runs on these five (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson, in §2.7.7
 * and §2.7.10. Pieces of the library you may use:
 *
 * ```ts
 * import { vringNeedEvent } from "../../virtqueue/event_idx.ts"; // the event test, as you wrote it
 * import {
 *   VIRTQ_AVAIL_F_NO_INTERRUPT, // 1: bit 0 of the available ring's flags
 * } from "../../virtqueue/constants.ts";
 * import {
 *   VIRTQ_AVAIL_FLAGS_OFFSET,   // 0: the available ring's flags, at ring.availAddr + 0 (u16)
 *   VIRTQ_USED_IDX_OFFSET,      // 2: the used idx, at ring.usedAddr + 2 (u16)
 * } from "../../virtqueue/layout.ts";
 * import { checkAvailFlags } from "../../virtqueue/device/avail.ts"; // reports bad avail flags once
 * // used_event (u16) is at ring.usedEventAddr, avail_event (u16) at ring.availEventAddr,
 * // on both sides' records.
 * ```
 *
 * Read and write ring fields through `ring.memory` (`readU16`, `writeU16`):
 * the grader watches every access. Check your work with
 * `deno task lab check event-idx`; stuck? `deno task lab hint event-idx`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";

/**
 * Device side: the device has just taken a chain (`ring.lastAvail` has moved
 * past its entry); say where the driver's next notification should come
 * from (§2.7.10). The queue calls it after every head taken, with or without
 * the feature, and before it looks at the available `idx` again.
 *
 * | the ring                              | stores                                                        |
 * | ------------------------------------- | ------------------------------------------------------------- |
 * | broken (`ring.broken` is set)         | nothing                                                       |
 * | `ring.eventIdx` false                 | nothing: without the feature the used ring ends before `avail_event`, and those bytes are the driver's (2.7.10/D3) |
 * | `ring.notifications` true             | `avail_event` = `ring.lastAvail`: the driver notifies when it publishes that entry, the next one the device has not taken (2.7.10/D2) |
 * | `ring.notifications` false            | `avail_event` = a value no publish the driver can make before the device takes another chain reaches (`ring.lastAvail - 1`, mod 2^16, is one) |
 *
 * Stores into `avail_event` only (the used ring's `flags` stay 0 with the
 * feature, 2.7.10.2/2); reads nothing it needs but the record.
 *
 * @param ring The device ring.
 */
export function updateAvailEvent(ring: SplitDeviceRing): void {
  return todo(
    "updateAvailEvent",
    `move avail_event of queue ${ring.index} after taking the entry before ${ring.lastAvail}`,
  );
}

/**
 * Device side: the device has pushed used entries; does the driver want a
 * used buffer notification for them (§2.7.7.2)? The transport calls it after
 * a device model returns buffers, and raises the interrupt when it says so.
 * The entries pushed since the last decision are those at indices
 * `ring.signalledUsed` up to `ring.usedIdx - 1` (16-bit, wrapping).
 *
 * | the ring                                                  | returns |
 * | --------------------------------------------------------- | ------- |
 * | broken (`ring.broken` is set)                             | `false` |
 * | nothing pushed since the last call (`ring.usedIdx === ring.signalledUsed`) | `false` |
 * | `ring.eventIdx` true                                      | `true` exactly when one of those entries sits at index `used_event`, as read now from memory: `vringNeedEvent(used_event, ring.usedIdx, ring.signalledUsed)` (2.7.7.2/2) |
 * | `ring.eventIdx` false                                     | `false` when the available ring's `flags` have `VIRTQ_AVAIL_F_NO_INTERRUPT` (bit 0), `true` otherwise (2.7.7.2/1) |
 *
 * A call that finds entries pushed consumes them, whatever it returns:
 * `ring.signalledUsed` becomes `ring.usedIdx`. With the feature, `flags`
 * decides nothing (whether you read it, and report a non-zero value as
 * 2.7.7.1/2, is up to you); without it `used_event` is not looked at, and
 * `flags` with any bit but bit 0 set break 2.7.7.1/1: report it to
 * `ring.reporter` (as `checkAvailFlags` does) and still honour bit 0.
 * Nothing is stored in guest memory.
 *
 * @param ring The device ring.
 * @returns Whether to raise the used buffer interrupt.
 * @throws {ConformanceError} When the log is strict and bad flags are reported.
 */
export function needsInterrupt(ring: SplitDeviceRing): boolean {
  return todo(
    "needsInterrupt",
    `decide on the entries from ${ring.signalledUsed} to used idx ${ring.usedIdx}`,
  );
}

/**
 * Driver side: the driver has just reaped a used entry (`ring.lastUsed` has
 * moved past it); say where the device's next notification should come
 * from (§2.7.7). The queue calls it after every entry reaped, with or
 * without the feature.
 *
 * | the ring                            | stores                                                        |
 * | ----------------------------------- | ------------------------------------------------------------- |
 * | `ring.eventIdx` false               | nothing: without the feature the available ring ends before `used_event` (2.7.7/D2) |
 * | `ring.callbacks` true               | `used_event` = `ring.lastUsed`: the device notifies when it returns that entry, the next one the driver has not reaped (2.7.7/D1) |
 * | `ring.callbacks` false              | nothing, or a value no entry the device can return before the driver reaps again reaches: the driver asked for no notifications, and still wants none |
 *
 * Stores into `used_event` only (the available ring's `flags` stay 0 with
 * the feature, 2.7.7.1/2).
 *
 * @param ring The driver ring.
 */
export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  return todo(
    "updateUsedEvent",
    `move used_event of queue ${ring.index} after reaping the entry before ${ring.lastUsed}`,
  );
}

/**
 * Driver side: asks the device for no used buffer notifications (§2.7.7).
 * `ring.callbacks` becomes false, and:
 *
 * | `ring.eventIdx` | stores                                                                         |
 * | --------------- | ------------------------------------------------------------------------------ |
 * | `false`         | the available ring's `flags` = `VIRTQ_AVAIL_F_NO_INTERRUPT` (1), nothing else (2.7.7.1/1) |
 * | `true`          | `flags` stays 0 (2.7.7.1/2); `used_event` = a value no entry the device can return before the driver reaps again reaches (`ring.lastUsed - 1`, mod 2^16, is one) |
 *
 * Stores into that one field only. Advice: a notification may still come
 * (2.7.7.1/3).
 *
 * @param ring The driver ring.
 */
export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  return todo("disableCallbacks", `turn used buffer notifications off on queue ${ring.index}`);
}

/**
 * Driver side: asks for used buffer notifications again (§2.7.7), then looks
 * at the used ring once more. `ring.callbacks` becomes true, and:
 *
 * | `ring.eventIdx` | stores                                                  |
 * | --------------- | ------------------------------------------------------- |
 * | `false`         | the available ring's `flags` = 0                        |
 * | `true`          | `flags` stays 0; `used_event` = `ring.lastUsed` (2.7.7/D1) |
 *
 * Then, after that store, it reads the used `idx` (2.7.14/D1): an entry the
 * device returned while notifications were off came with no notification,
 * and only a read made after the store is sure to see it.
 *
 * @param ring The driver ring.
 * @returns `true` when the used `idx` read equals `ring.lastUsed` (nothing is
 *   waiting); `false` when entries are waiting: reap them, since the device,
 *   which saw notifications off, may not announce them. Stores into that one
 *   field only.
 */
export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  return todo("enableCallbacks", `turn used buffer notifications on again on queue ${ring.index}`);
}
