/**
 * The device side of `QueueNotify` (virtio v1.2 §4.2.2, §4.2.3.3): which
 * queue an available buffer notification names, or why it is ignored.
 *
 * The value written is the queue index (this transport never offers
 * `VIRTIO_F_NOTIFICATION_DATA`, which would pack more into it), a full u32:
 * an index is compared as an unsigned number against the number of queues,
 * so `0xffff_ffff` names no queue rather than "queue -1". QEMU's
 * CVE-2011-2512 was a signed compare that let such a value through.
 *
 * @module
 */

import { formatStatus } from "../virtio/status.ts";
import * as status from "../virtio/status.ts";
import { hex8 } from "./mmio_registers.ts";
import type { QueueRegisters } from "./queue_registers.ts";
import type { RuleProblem } from "./types.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  VIRTIO_CONFIG_S_DRIVER_OK,
} = status;

/** What the device knows when a notification arrives. */
export interface NotifyContext {
  /** The device status byte. */
  readonly status: number;
  /** Whether the device is processing queues: DRIVER_OK set, FEATURES_OK accepted, neither FAILED nor DEVICE_NEEDS_RESET. */
  readonly active: boolean;
  /** Every queue's registers, by index; the length is the number of queues. */
  readonly queues: readonly Pick<QueueRegisters, "ready">[];
}

/** Where a notification goes. */
export interface NotifyTarget {
  /** Hand the notification to the device model for {@linkcode queue}. */
  readonly deliver: boolean;
  /** The value written, read as a queue index (u32; may name no queue). */
  readonly queue: number;
  /** Why it is ignored, when that is a rule the driver broke; `null` if delivered or ignored silently. */
  readonly problem: RuleProblem | null;
}

/**
 * Decides what a write to `QueueNotify` does. It is never an error that
 * stops the device: a notification that names nothing usable is logged and
 * ignored.
 *
 * - before DRIVER_OK the driver must not notify (3.1.1/6);
 * - a device that is not active (FAILED, or DEVICE_NEEDS_RESET) ignores it
 *   silently: the driver has to reset it first;
 * - an index at or beyond the number of queues, `0xffff_ffff` included, or a
 *   queue whose `QueueReady` is 0, breaks 4.2.3.3/D1;
 * - otherwise the notification is delivered to that queue.
 *
 * @param value The value written to `QueueNotify` (u32).
 * @param device Status, activity and the queues' registers.
 * @returns Whether to deliver, the queue index, and the problem to log (for a delivery to one
 *   of the first 64 queues, a frozen record shared between calls).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queueNotifyTarget } from "./queue_notify.ts";
 * const device = { status: 0x0f, active: true, queues: [{ ready: true }] };
 * assert.equal(queueNotifyTarget(0, device).deliver, true);
 * const huge = queueNotifyTarget(0xffff_ffff, device);
 * assert.equal(huge.deliver, false);
 * assert.equal(huge.problem?.id, "4.2.3.3/D1");
 * ```
 */
export function queueNotifyTarget(value: number, device: NotifyContext): NotifyTarget {
  const queue = value >>> 0;
  if ((device.status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "3.1.1/6",
        message: `Notification for queue ${queue} before DRIVER_OK (status ${
          formatStatus(device.status)
        })`,
        values: { queue },
        action: "ignored",
      },
    };
  }
  if (!device.active) return { deliver: false, queue, problem: null };
  const count = device.queues.length;
  if (queue >= count) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "4.2.3.3/D1",
        message: `Notification for queue ${queue} (${hex8(queue)}), which does not exist ` +
          `(the device has ${count})`,
        values: { queue, queues: count },
        action: "ignored",
      },
    };
  }
  if (!device.queues[queue].ready) {
    return {
      deliver: false,
      queue,
      problem: {
        id: "4.2.3.3/D1",
        message: `Notification for queue ${queue}, which is not ready`,
        values: { queue, queues: count },
        action: "ignored",
      },
    };
  }
  return queue < DELIVERIES.length ? DELIVERIES[queue] : { deliver: true, queue, problem: null };
}

/**
 * The verdict "deliver to queue N" for the first queues, made once and
 * frozen: a notification allocates nothing to say so.
 */
const DELIVERIES: readonly NotifyTarget[] = Array.from(
  { length: 64 },
  (_, queue) => Object.freeze({ deliver: true, queue, problem: null }),
);
