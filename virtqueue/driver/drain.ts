/**
 * The driver's reap loop (virtio v1.2 §2.7.14): everything a used buffer
 * notification calls for. The loop every Linux virtio driver writes around
 * `virtqueue_disable_cb`, `virtqueue_get_buf` and `virtqueue_enable_cb`
 * (virtio_blk's `virtblk_done`, virtio_console's `in_intr`), as one step.
 *
 * @module
 */

import type { UsedBuffer } from "../types.ts";

/**
 * What {@linkcode drainUsed} needs of a queue: the three driver steps it
 * repeats. Every `DriverQueue` is one.
 *
 * @typeParam T The token type of the queue's chains.
 */
export interface UsedBufferSource<T> {
  /**
   * Reaps one used entry, checked against the shadow.
   *
   * @returns The entry, or `null` when none is pending (or the queue is broken).
   */
  getBuf(): UsedBuffer<T> | null;
  /** Asks the device not to send used buffer notifications (§2.7.7). */
  disableCallbacks(): void;
  /**
   * Asks for used buffer notifications again, then looks at the used `idx` once more.
   *
   * @returns `false` if used entries are pending (reap them); `true` otherwise,
   *   and always once the queue is broken.
   */
  enableCallbacks(): boolean;
}

/**
 * Reaps every used entry the device has returned, calling `onUsed` with
 * each one in used ring order, with used buffer notifications off while
 * it does; then turns them back on and looks at the used ring once more,
 * and goes round again if an entry arrived meanwhile.
 *
 * That last look is the point (2.7.14/D1). The device returns a buffer
 * between the driver's last `getBuf` and its `enableCallbacks`: it saw
 * notifications off, so it sent none. Only `enableCallbacks` returning
 * `false` tells the driver, and a driver that returns there anyway leaves
 * the entry waiting for an interrupt that never comes (the queue stalls).
 *
 * On return notifications are on, and every entry the device returned
 * before they were turned on has been given to `onUsed`; one returned
 * after comes with a notification of its own. A broken queue ends the
 * loop (its `getBuf` returns `null`, its `enableCallbacks` `true`).
 *
 * @param queue The queue's `getBuf`, `disableCallbacks` and `enableCallbacks`.
 * @param onUsed What the driver does with one used entry (its token and the
 *   bytes the device wrote); it must not throw (the lab's drivers catch their
 *   own errors), and it may add and publish new chains.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { drainUsed } from "./drain.ts";
 *
 * // "a" and "b" are waiting; "c" comes back right after the last getBuf.
 * const used = ["a", "b"];
 * const late = ["c"];
 * const calls: string[] = [];
 * const reaped: string[] = [];
 * drainUsed({
 *   getBuf() {
 *     calls.push("getBuf");
 *     const token = used.shift();
 *     if (token === undefined) used.push(...late.splice(0));
 *     return token === undefined ? null : { token, len: 0 };
 *   },
 *   disableCallbacks: () => void calls.push("disable"),
 *   enableCallbacks() {
 *     calls.push("enable");
 *     return used.length === 0;
 *   },
 * }, (u) => void reaped.push(u.token));
 * assert.deepEqual(reaped, ["a", "b", "c"]);
 * assert.deepEqual(calls.filter((c) => c !== "getBuf"), ["disable", "enable", "disable", "enable"]);
 * ```
 */
export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  do {
    queue.disableCallbacks();
    for (let used = queue.getBuf(); used !== null; used = queue.getBuf()) onUsed(used);
    // enableCallbacks stores the new flags before it reads the used idx
    // again: an entry returned in between is seen here, or the device saw
    // notifications on and sends one.
  } while (!queue.enableCallbacks());
}
