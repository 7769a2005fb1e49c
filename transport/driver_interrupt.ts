/**
 * The driver's interrupt handler for a virtio-mmio window (virtio v1.2
 * §4.2.3.4), as Linux's `vm_interrupt` does it: read `InterruptStatus`,
 * acknowledge what was read at once, then handle a configuration change and
 * used buffers.
 *
 * @module
 */

import * as registers from "./mmio_registers.ts";
import type { RegisterWindow } from "./types.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
} = registers;

/** The results for an `InterruptStatus` without undefined bits, made once and frozen. */
const HANDLED: readonly InterruptResult[] = [0, 1, 2, 3].map((status) =>
  Object.freeze({ status, acknowledged: status })
);

/** Marks "no handler threw" (a handler may throw anything, `undefined` included). */
const NO_ERROR: unique symbol = Symbol("no error");

/** What the handler does with each event. */
export interface InterruptHandlers {
  /**
   * A configuration change notification (bit 1): the configuration changed,
   * or the device set DEVICE_NEEDS_RESET (§2.1.2/2). Linux: `virtio_config_changed`.
   */
  configChanged(): void;
  /**
   * A used buffer notification (bit 0): MMIO does not say which queue, so it
   * is one for every live queue (4.2.3.4.1/2). Linux: `vring_interrupt` on each vq.
   */
  usedBuffers(): void;
}

/** What one run of the handler saw and did. */
export interface InterruptResult {
  /** `InterruptStatus` as read (undefined bits included: the device's fault, 4.2.2.1/4). */
  readonly status: number;
  /** The bits written to `InterruptACK`; 0 for a spurious interrupt (nothing was written). */
  readonly acknowledged: number;
}

/**
 * Handles an interrupt from one window:
 *
 * 1. read `InterruptStatus` to learn which events happened (4.2.3.4.1/1);
 * 2. nothing defined set: a spurious interrupt (a shared line, or events
 *    already handled), harmless, return without writing;
 * 3. write exactly the defined bits read to `InterruptACK` (4.2.3.4.1/3,
 *    4.2.2.2/13), immediately, before any handling: an event the handling
 *    causes (a refilled queue the device fills at once) then sets its bit
 *    again and is seen, instead of being acknowledged unseen. xv6 never
 *    acknowledged (7a5fcb2); xv6 before aeaf610 and asterinas before #2493
 *    acknowledged after handling and lost events. Undefined bits are
 *    disregarded (4.2.2.2/12);
 * 4. call `configChanged` for bit 1, then `usedBuffers` for bit 0. If one
 *    throws, the other still runs; the error is thrown afterwards (both
 *    together as an `AggregateError`).
 *
 * @param window The window's registers.
 * @param handlers What to do for each event.
 * @returns What was read and what was acknowledged (when nothing but defined bits was read,
 *   a frozen record shared between calls).
 * @throws {Error} What a handler threw, once both have run.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handleInterrupt } from "./driver_interrupt.ts";
 * import type { RegisterWindow } from "./types.ts";
 * const writes: string[] = [];
 * const window = {
 *   read32: (offset: number) => offset === 0x060 ? 0b11 : 0,
 *   write32: (offset: number, value: number) => void writes.push(`${offset}=${value}`),
 * } as RegisterWindow;
 * const seen: string[] = [];
 * const result = handleInterrupt(window, {
 *   configChanged: () => void seen.push(`config after ${writes.length} write(s)`),
 *   usedBuffers: () => void seen.push("used"),
 * });
 * assert.deepEqual(writes, ["100=3"]); // InterruptACK (0x064) = both bits, first
 * assert.deepEqual(seen, ["config after 1 write(s)", "used"]);
 * assert.equal(result.acknowledged, 3);
 * ```
 */
export function handleInterrupt(
  window: RegisterWindow,
  handlers: InterruptHandlers,
): InterruptResult {
  const status = window.read32(VIRTIO_MMIO_INTERRUPT_STATUS) >>> 0;
  const handled = status & VIRTIO_MMIO_INT_MASK;
  if (handled === 0) return { status, acknowledged: 0 };
  window.write32(VIRTIO_MMIO_INTERRUPT_ACK, handled);
  let configError: unknown = NO_ERROR;
  if (handled & VIRTIO_MMIO_INT_CONFIG) {
    try {
      handlers.configChanged();
    } catch (error) {
      configError = error;
    }
  }
  if (handled & VIRTIO_MMIO_INT_VRING) {
    try {
      handlers.usedBuffers();
    } catch (error) {
      if (configError === NO_ERROR) throw error;
      throw new AggregateError(
        [configError, error],
        "Both interrupt handlers threw (configuration change, used buffers)",
      );
    }
  }
  if (configError !== NO_ERROR) throw configError;
  return status === handled ? HANDLED[status] : { status, acknowledged: handled };
}
