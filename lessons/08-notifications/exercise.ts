/**
 * "Notifications and suppression": your exercise.
 *
 * The driver decides whether the device wants to hear about the chains it
 * just published ({@linkcode needsKick}, with the event-index test
 * {@linkcode vringNeedEvent}); the device decides which queue a write to
 * `QueueNotify` names ({@linkcode queueNotifyTarget}), and asks for no
 * notifications while it drains a queue and for them again when it is done
 * ({@linkcode disableNotifications}, {@linkcode enableNotifications}). The
 * guest's queues call your `needsKick` after every publish, the lab's register
 * file calls your `queueNotifyTarget` on every `QueueNotify` write, and the
 * block and console devices call your suppression pair around every drain
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §2.7.10, §2.7.13.4 and §4.2.3.3. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTQ_USED_F_NO_NOTIFY,     // 1: bit 0 of the used ring's flags
 * } from "../../virtqueue/constants.ts";
 * import {
 *   VIRTQ_USED_FLAGS_OFFSET,    // 0: the used ring's flags, at ring.usedAddr + 0 (u16)
 *   VIRTQ_AVAIL_IDX_OFFSET,     // 2: the available idx, at ring.availAddr + 2 (u16)
 * } from "../../virtqueue/layout.ts";
 * // avail_event (u16) is at ring.availEventAddr, on both sides' records.
 * import { checkUsedFlags } from "../../virtqueue/driver/avail.ts"; // reports bad used flags once
 * import { VIRTIO_CONFIG_S_DRIVER_OK } from "../../virtio/status.ts"; // 0x04
 * ```
 *
 * Read and write ring fields through `ring.memory` (`readU16`, `writeU16`):
 * the grader watches every access. Check your work with
 * `deno task lab check notifications`; stuck? `deno task lab hint notifications`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { NotifyContext, NotifyTarget } from "../../transport/queue_notify.ts";

/**
 * Whether moving a ring index from `oldIdx` to `newIdx` crossed `eventIdx`:
 * whether one of the entries `oldIdx`, `oldIdx + 1`, ..., `newIdx - 1` sits at
 * index `eventIdx` (Linux's `vring_need_event`). All three are free-running
 * 16-bit ring indices, 0 to 0xffff, and the count wraps at 65536: from
 * `oldIdx` 0xfffe to `newIdx` 0x0001 the entries 0xfffe, 0xffff and 0x0000
 * were published. `newIdx === oldIdx` published nothing.
 *
 * Defined for every triple of 16-bit values; pure; never throws.
 *
 * @param eventIdx `avail_event` (or `used_event`), as the other side wrote it.
 * @param newIdx The index after publishing.
 * @param oldIdx The index before publishing.
 * @returns `true` if the entry at `eventIdx` was among those published.
 * @example
 * ```ts ignore
 * vringNeedEvent(5, 6, 5); // true: entry 5 was the one asked for
 * vringNeedEvent(7, 6, 5); // false: not there yet
 * vringNeedEvent(0xffff, 0x0001, 0xfffe); // true, across the wrap
 * ```
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return todo(
    "vringNeedEvent",
    `say whether going from idx ${oldIdx} to ${newIdx} published the entry at ${eventIdx}`,
  );
}

/**
 * Driver side: whether the device wants an available buffer notification for
 * the chains just published (§2.7.10.1). Called right after the new available
 * `idx` was stored: `ring.availIdx` holds it and memory agrees, and `oldIdx`
 * is the available `idx` before that publish.
 *
 * | `ring.eventIdx` (VIRTIO_F_EVENT_IDX) | returns `true` exactly when                                                                        |
 * | ------------------------------------ | -------------------------------------------------------------------------------------------------- |
 * | `false`                              | the used ring's `flags` lacks `VIRTQ_USED_F_NO_NOTIFY`, bit 0 (2.7.10.1/2)                         |
 * | `true`                               | an entry just published sits at `avail_event`: `vringNeedEvent(avail_event, ring.availIdx, oldIdx)`; `flags` ignored (2.7.10.1/3) |
 *
 * The field is read from memory when called, never taken from an earlier
 * read: only a read made after the `idx` store can see a device that turned
 * notifications back on meanwhile (2.7.13.4.1/1). Without event idx, `flags`
 * other than 0 and 1 break the device's rule 2.7.10.2/1: report it through
 * `ring.reporter` (the library's `checkUsedFlags(ring, flags)` does, once per
 * bad value in a row) and honour bit 0 alone. Reads only; stores nothing.
 *
 * @param ring The driver ring, just after the publish.
 * @param oldIdx The available `idx` before it (16-bit).
 * @returns Whether to write the queue's index to `QueueNotify`.
 * @throws {ConformanceError} Only what a strict `ring.reporter` throws.
 */
export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  return todo(
    "needsKick",
    `decide whether queue ${ring.index} needs a notification after publishing idx ${oldIdx} to ${ring.availIdx}`,
  );
}

/**
 * Device side: what a write of `value` to `QueueNotify` (0x050) does
 * (§4.2.3.3). A notification that names nothing usable is logged (the
 * register file reports `problem`) and ignored; it never stops the device.
 *
 * | the device                                        | `value` names                                   | returns                                           |
 * | ------------------------------------------------- | ----------------------------------------------- | ------------------------------------------------- |
 * | status lacks DRIVER_OK                            | anything                                        | `deliver: false`, problem `"3.1.1/6"`             |
 * | DRIVER_OK, but not active (FAILED, NEEDS_RESET)   | anything                                        | `deliver: false`, `problem: null` (silently)      |
 * | active                                            | no queue: `value >= device.queues.length`       | `deliver: false`, problem `"4.2.3.3/D1"`          |
 * | active                                            | a queue whose `ready` is false                  | `deliver: false`, problem `"4.2.3.3/D1"`          |
 * | active                                            | a ready queue                                   | `deliver: true`, `problem: null`                  |
 *
 * `queue` is always `value` read as an unsigned 32-bit number, all of it:
 * `0xffff_ffff` is queue 4294967295, which does not exist, and `0x1_0000` is
 * not queue 0. A problem is `{ id, message, values, action }`: `message` is
 * one sentence of yours (not empty), `values` an object of the numbers that
 * matter (any, or none), `action` what the device does (`"ignored"`). Pure;
 * never throws.
 *
 * @param value The value written (u32).
 * @param device Status, whether the device is active, and every queue's `ready`.
 * @returns Whether to deliver, the queue index, and the problem to log.
 */
export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  return todo(
    "queueNotifyTarget",
    `decide where a QueueNotify write of ${value} goes (the device has ${device.queues.length} queue(s))`,
  );
}

/**
 * Device side: asks the driver not to send available buffer notifications
 * (§2.7.10), as a device does while it drains a queue. Sets
 * `ring.notifications` to `false`, and:
 *
 * | `ring.eventIdx` | stores                                                                                                  |
 * | --------------- | ------------------------------------------------------------------------------------------------------- |
 * | `false`         | the used ring's `flags` = `VIRTQ_USED_F_NO_NOTIFY` (1); flags is only ever 0 or 1 (2.7.10.2/1)          |
 * | `true`          | `flags` stays 0 (2.7.10.2/2); `avail_event` = a value no publish the driver can make before the device takes another chain reaches: `ring.lastAvail - 1` (mod 2^16) is one |
 *
 * Stores only into those fields: without event idx the used ring's `flags`
 * alone (`avail_event` is the device's only with `VIRTIO_F_EVENT_IDX`; a
 * driver need not even leave room for it). The request is advice: the driver
 * may still notify, and the device copes (2.7.10.2/3). Never called on a
 * broken ring (the queue class checks `ring.broken` first).
 *
 * @param ring The device ring.
 */
export function disableNotifications(ring: SplitDeviceRing): void {
  return todo(
    "disableNotifications",
    `ask for no notifications on queue ${ring.index} (event idx ${ring.eventIdx ? "on" : "off"})`,
  );
}

/**
 * Device side: asks for available buffer notifications again (§2.7.10), then
 * says whether chains are already waiting. Sets `ring.notifications` to
 * `true`, and:
 *
 * | `ring.eventIdx` | stores                                                                     |
 * | --------------- | -------------------------------------------------------------------------- |
 * | `false`         | the used ring's `flags` = 0                                                |
 * | `true`          | `flags` stays 0; `avail_event` = `ring.lastAvail`: the next publish notifies |
 *
 * Then, after that store, it reads the available `idx` (2.7.10/D1): chains a
 * driver published while notifications were off came with no notification,
 * and only a look taken after the store is sure to see them.
 *
 * @param ring The device ring.
 * @returns `true` exactly when the available `idx` read after the store is
 *   not `ring.lastAvail` (take the chains now: no notification will come for
 *   them); `false` when the device has taken everything. It takes nothing
 *   itself, and does not judge how far ahead `idx` is (taking chains does).
 *   Stores only into the fields above (without event idx, `flags` alone).
 *   Never called on a broken ring.
 */
export function enableNotifications(ring: SplitDeviceRing): boolean {
  return todo(
    "enableNotifications",
    `ask for notifications again on queue ${ring.index} and look at the available idx`,
  );
}
