// deno-lint-ignore-file no-unused-vars
/**
 * "DEVICE_NEEDS_RESET and recovery": your exercise.
 *
 * The device side: what its status becomes when it breaks and whether it
 * tells the driver ({@linkcode markNeedsReset}), and what a write to
 * `QueueReset` does to one queue ({@linkcode resetQueue}). The driver side:
 * recovering a device that asked for a reset, or that the driver gave up
 * on ({@linkcode recoverDevice}). Once they pass, the lab machine breaks and
 * recovers on your code (`deno task lab boot --mine`; the notebook breaks a
 * disk and recovers it), and `VIRTIO_F_RING_RESET` is offered to your
 * machine again.
 *
 * Each doc comment below is a contract; the how is in the lesson, in §2.1,
 * §2.6.1 and §4.2.2. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_CONFIG_S_DRIVER_OK,   // 0x04
 *   VIRTIO_CONFIG_S_FAILED,      // 0x80
 *   VIRTIO_CONFIG_S_NEEDS_RESET, // 0x40
 * } from "../../virtio/status.ts";
 * import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts"; // 0x070
 * import { INITIAL_QUEUE_REGISTERS } from "../../transport/queue_registers.ts";
 * import { DeviceResetError } from "../../transport/driver_init.ts"; // new DeviceResetError(status, polls)
 * ```
 *
 * Check your work with `deno task lab check needs-reset`; stuck?
 * `deno task lab hint needs-reset`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { NeedsResetTransition } from "../../transport/device_status.ts";
import type {
  QueueRegisterOutcome,
  QueueRegisters,
  QueueResetWrite,
} from "../../transport/queue_registers.ts";
import type { RecoveryOutcome, RecoverySteps } from "../../transport/driver_core.ts";
import type { RegisterWindow } from "../../transport/types.ts";

export type { NeedsResetTransition, QueueRegisterOutcome, RecoveryOutcome, RecoverySteps };

/**
 * Device side: the device entered an error state only a reset cures.
 *
 * | `status` before                          | `status` returned           | `notify` |
 * | ---------------------------------------- | --------------------------- | -------- |
 * | DEVICE_NEEDS_RESET (0x40) clear, DRIVER_OK (0x04) set   | `status \| 0x40`  | `true`   |
 * | DEVICE_NEEDS_RESET clear, DRIVER_OK clear               | `status \| 0x40`  | `false`  |
 * | DEVICE_NEEDS_RESET set already                          | `status`, unchanged | `false` |
 *
 * No other bit changes (the driver's bits are the driver's: 2.1.1/2). The
 * register file stores `status`, stops using every queue, and raises the
 * configuration change interrupt when `notify` is true (2.1.2/2). Pure;
 * `status` is 0 to 0xff; never throws.
 *
 * @param status The device status byte now.
 * @returns The status afterwards and whether to send a configuration change notification.
 */
export function markNeedsReset(status: number): NeedsResetTransition {
  return todo("markNeedsReset", `set DEVICE_NEEDS_RESET over status 0x${status.toString(16)}`);
}

/**
 * Device side: what a driver's write of `write.value` to `QueueReset` does
 * to the selected queue (§2.6.1, §4.2.2).
 *
 * | the write                                   | result                                                            |
 * | ------------------------------------------- | ----------------------------------------------------------------- |
 * | 1, `write.ringReset` true                   | `registers`: `{ ...INITIAL_QUEUE_REGISTERS, resetUnconfirmed: true, wasReset: true }`; `reset: true`; `stopped` = the queue was `ready` |
 * | 1 with `write.ringReset` false, or any other value | `registers`: the record given, itself; `reset: false`, `stopped: false` |
 *
 * `enabled` is always `false` and `problems` always empty. The register file
 * then drops the queue's device half and the device model's work on it, and
 * answers 0 to reads of `QueueReset` (the reset is over at once). Pure;
 * never throws.
 *
 * @param registers The selected queue's registers before the write.
 * @param write The queue's index (for messages), the value, whether `VIRTIO_F_RING_RESET` was negotiated.
 * @returns The registers afterwards and what changed.
 */
export function resetQueue(
  registers: QueueRegisters,
  write: QueueResetWrite,
): QueueRegisterOutcome {
  return todo("resetQueue", `decide what QueueReset = ${write.value} does to queue ${write.queue}`);
}

/**
 * Driver side: recovers a device whose Status has DEVICE_NEEDS_RESET (0x40)
 * or FAILED (0x80) set. The only register it touches is `Status` (0x070),
 * with 32-bit accesses.
 *
 * | Status, read once first              | what happens                                                                  | returns |
 * | ------------------------------------ | ----------------------------------------------------------------------------- | ------- |
 * | neither 0x40 nor 0x80 set            | nothing more: no write, no step called                                        | `{ recovered: false, status }` |
 * | 0x40 or 0x80 set                     | 0 written to Status; Status read until it reads 0, at most `maxPolls` reads after the write; then `steps.release()` once; then `steps.reinitialize(features)` once, awaited | `{ recovered: true, status, features }`: `status` as first read, `features` what `reinitialize` resolved to |
 * | ... and Status never reads 0         | `DeviceResetError` thrown (its `status` the last read, `polls` the reads made); no step called | |
 * | ... and `reinitialize` rejects       | its error passes through                                                      | |
 *
 * `release` must come after Status read 0 (before, the device may still
 * use the queues' memory), and `reinitialize` after `release`. Which reads
 * of Status you make while waiting is yours, within `maxPolls`.
 *
 * @param window The window's registers.
 * @param features The features negotiated before; offer exactly these again (2.2.2/3).
 * @param steps Releasing the old queues; initializing the device again.
 * @param maxPolls Reads of Status to wait for the reset (default 1000).
 * @returns Whether the device was recovered.
 * @throws {DeviceResetError} If Status never reads 0 within `maxPolls` reads.
 */
export function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  return todo("recoverDevice", "notice, reset, release, initialize again");
}
