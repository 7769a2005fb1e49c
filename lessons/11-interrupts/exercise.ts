// deno-lint-ignore-file no-unused-vars
/**
 * "Interrupts": your exercise.
 *
 * The device side of a used buffer notification: whether the driver wants
 * one ({@linkcode needsInterrupt}), and the `InterruptStatus` register an
 * event sets ({@linkcode raiseInterrupt}) and the driver's `InterruptACK`
 * clears ({@linkcode acknowledgeInterrupt}). The driver side: the interrupt
 * handler ({@linkcode handleInterrupt}), notifications off and on again
 * ({@linkcode disableCallbacks}, {@linkcode enableCallbacks}), and the reap
 * loop a used buffer notification runs ({@linkcode drainUsed}). Once they
 * pass, the lab machine's transport and both halves of every ring run on
 * your code, with the parts of the earlier lessons (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson, in §2.7.7,
 * §2.7.14, §4.2.2 and §4.2.3.4. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_MMIO_INTERRUPT_STATUS, // 0x060 (R)
 *   VIRTIO_MMIO_INTERRUPT_ACK,    // 0x064 (W)
 *   VIRTIO_MMIO_INT_VRING,        // bit 0: a used buffer notification
 *   VIRTIO_MMIO_INT_CONFIG,       // bit 1: a configuration change notification
 *   VIRTIO_MMIO_INT_MASK,         // 0b11: the bits an event defines
 * } from "../../transport/mmio_registers.ts";
 * import { VIRTIO_CONFIG_S_DRIVER_OK } from "../../virtio/status.ts"; // 0x04
 * import { VIRTQ_AVAIL_F_NO_INTERRUPT } from "../../virtqueue/constants.ts"; // 1
 * import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../virtqueue/layout.ts";
 * import { checkAvailFlags } from "../../virtqueue/device/avail.ts"; // logs bad avail flags (2.7.7.1/1)
 * ```
 *
 * `VIRTIO_F_EVENT_IDX` is withheld until the lesson that teaches it: every
 * ring here has `eventIdx` false, and that lesson extends your ring functions
 * for it. Check your work with `deno task lab check interrupts`; stuck?
 * `deno task lab hint interrupts`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { InterruptAcknowledgement, InterruptRaise } from "../../transport/interrupt_status.ts";
import type { InterruptHandlers, InterruptResult } from "../../transport/driver_interrupt.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { UsedBufferSource } from "../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../virtqueue/types.ts";

/**
 * Device side: an event happens, and `InterruptStatus` shows it (§4.2.2).
 * Pure; never throws.
 *
 * | `event` names          | `status` has DRIVER_OK | returns                                           |
 * | ---------------------- | ---------------------- | ------------------------------------------------- |
 * | bit 0 or bit 1         | yes                    | `{ interruptStatus: before with that bit, sent: true }` |
 * | bit 0 or bit 1         | no                     | `{ interruptStatus: before, sent: false }` (2.1.2/1) |
 * | neither (bits 2 to 31 only, or 0) | either      | `{ interruptStatus: before, sent: false }`        |
 *
 * The bits of events not acknowledged yet stay set (4.2.2.1/3), and no bit
 * an event does not define is ever set (4.2.2.1/4): bits 2 to 31 of `event`
 * are dropped. `sent` says whether a notification went out (the transport
 * counts it); it is true even when the bit was already set.
 *
 * @param interruptStatus `InterruptStatus` before: 0 to 3.
 * @param event `VIRTIO_MMIO_INT_VRING` or `VIRTIO_MMIO_INT_CONFIG`.
 * @param status The device status byte.
 * @returns The new `InterruptStatus`, and whether a notification was sent.
 */
export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  return todo("raiseInterrupt", `raise event 0x${event.toString(16)} in ${interruptStatus}`);
}

/**
 * Device side: the driver wrote `value` to `InterruptACK` (§4.2.2). Pure;
 * never throws.
 *
 * The events `value` names are acknowledged: their bits are clear in the
 * `interruptStatus` returned, and every other bit stays as it was
 * (4.2.2.1/3). Bits of `value` that no event defines (2 to 31) change
 * nothing; if there are any, `problem` is `{ id: "4.2.2.2/13", message,
 * values, action }` (the driver must not set them; the wording of `message`,
 * the `values` and the `action` are yours, `message` not empty), else `null`.
 *
 * @param interruptStatus `InterruptStatus` before: 0 to 3.
 * @param value The value written (an unsigned 32-bit number).
 * @returns The new `InterruptStatus`, and the problem with undefined bits.
 */
export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  return todo("acknowledgeInterrupt", `acknowledge 0x${value.toString(16)} of ${interruptStatus}`);
}

/**
 * Device side: the device has pushed used entries; does the driver want a
 * used buffer notification for them (§2.7.7.2)? The transport calls it after
 * a device model returns buffers, and raises the interrupt when it says so.
 *
 * | the ring                                             | returns |
 * | ---------------------------------------------------- | ------- |
 * | broken (`ring.broken` is set)                        | `false` |
 * | nothing pushed since the last call (`ring.usedIdx === ring.signalledUsed`) | `false` |
 * | the available ring's `flags` have `VIRTQ_AVAIL_F_NO_INTERRUPT` (bit 0) | `false` |
 * | otherwise                                            | `true`  |
 *
 * A call that finds entries pushed consumes them, whatever it returns:
 * `ring.signalledUsed` becomes `ring.usedIdx`. `used_event` is not looked at
 * (2.7.7.2/1: it means nothing without `VIRTIO_F_EVENT_IDX`). `flags` with
 * any bit but bit 0 set break 2.7.7.1/1: report it to `ring.reporter` (as
 * `checkAvailFlags` does) and still honour bit 0. Nothing is stored in guest
 * memory.
 *
 * @param ring The device ring (`ring.eventIdx` is false).
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
 * Driver side: the interrupt handler of one virtio-mmio window (§4.2.3.4).
 *
 * It reads `InterruptStatus` (0x060) once, as an unsigned 32-bit value,
 * before anything else (4.2.3.4.1/1). Then:
 *
 * | bits 0 and 1 of what it read | it writes to `InterruptACK` (0x064) | it calls      | returns |
 * | ---------------------------- | ----------------------------------- | ------------- | ------- |
 * | neither set (a spurious interrupt, 2.7.7.1/3) | nothing (a 0 is harmless too) | nothing | `{ status, acknowledged: 0 }` |
 * | some set                     | exactly those bits (in one write or several), all before calling any handler, none after | `configChanged()` if bit 1, `usedBuffers()` if bit 0, once each, in either order | `{ status, acknowledged: those bits }` |
 *
 * `status` is the value read, bits 2 to 31 included (the transport reports
 * them as the device's fault); those bits are never acknowledged (4.2.2.2/13)
 * nor handled (4.2.2.2/12). Acknowledging before handling is what keeps an
 * event that happens while the handlers run: it sets its bit again and the
 * line rises again (4.2.3.4.1/3). No other register is touched. The handlers
 * given do not throw.
 *
 * @param window The window's registers.
 * @param handlers What to do for each event.
 * @returns What was read and what was acknowledged.
 */
export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  return todo(
    "handleInterrupt",
    `handle an interrupt of the window at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: asks the device for no used buffer notifications (§2.7.7):
 * `ring.callbacks` becomes false, and the available ring's `flags` hold
 * `VIRTQ_AVAIL_F_NO_INTERRUPT` (1), the only value besides 0 that they may
 * have (2.7.7.1/1). Nothing else is stored in guest memory.
 *
 * @param ring The driver ring (`ring.eventIdx` is false).
 */
export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  return todo("disableCallbacks", `turn used buffer notifications off on queue ${ring.index}`);
}

/**
 * Driver side: asks for used buffer notifications again (§2.7.7), then looks
 * at the used ring once more: `ring.callbacks` becomes true, the available
 * ring's `flags` become 0, and after that store the used `idx` is read
 * (2.7.14/D1).
 *
 * @param ring The driver ring (`ring.eventIdx` is false).
 * @returns `true` when the used `idx` read equals `ring.lastUsed` (nothing is
 *   waiting); `false` when entries are waiting: reap them, since the device,
 *   which saw notifications off, may not announce them. Nothing else is
 *   stored in guest memory.
 */
export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  return todo("enableCallbacks", `turn used buffer notifications on again on queue ${ring.index}`);
}

/**
 * Driver side: everything a used buffer notification calls for on one queue
 * (§2.7.14). It reaps with `queue.getBuf()` until that returns `null`, calling
 * `onUsed` with each entry, in the order `getBuf` returns them, while used
 * buffer notifications are off (`queue.disableCallbacks()` called, not yet
 * `queue.enableCallbacks()`). It returns only after `queue.enableCallbacks()`
 * has returned `true`, and calls nothing on the queue after that: when it
 * returns, notifications are on and no entry is waiting unseen (2.7.14/D1).
 * A broken queue's `getBuf` returns `null` and its `enableCallbacks` `true`.
 *
 * @param queue The queue's `getBuf`, `disableCallbacks` and `enableCallbacks`.
 * @param onUsed The driver's work for one entry; it does not throw, and it
 *   may add and publish chains (which the device may return at once).
 */
export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  return todo("drainUsed", "reap every used entry, then turn notifications back on");
}
