/**
 * Lesson 2, "Device status and reset": your exercise.
 *
 * The device side decides what a write to the status field means
 * ({@linkcode nextDeviceStatus}); the driver side resets the device and takes
 * the first steps of initialization ({@linkcode resetDevice},
 * {@linkcode addStatus}, {@linkcode beginInitialization},
 * {@linkcode failDevice}). The lab's register file calls your
 * `nextDeviceStatus` on every write to `Status` (0x070), and the guest's
 * virtio bus calls your `beginInitialization` and `failDevice` for every
 * device it brings up (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the rules themselves are in the
 * lesson ("What the device decides") and in §2.1, §2.4 and §3.1.1. Pieces of
 * the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_CONFIG_S_ACKNOWLEDGE, // 0x01
 *   VIRTIO_CONFIG_S_DRIVER,      // 0x02
 *   VIRTIO_CONFIG_S_DRIVER_OK,   // 0x04
 *   VIRTIO_CONFIG_S_FEATURES_OK, // 0x08
 *   VIRTIO_CONFIG_S_NEEDS_RESET, // 0x40, the spec's DEVICE_NEEDS_RESET
 *   VIRTIO_CONFIG_S_FAILED,      // 0x80
 *   STATUS_DEFINED_MASK,         // 0xcf: every bit §2.1 defines (bits 4 and 5 are reserved)
 *   formatStatus,                // 0x03 -> "ACKNOWLEDGE|DRIVER", for your messages
 * } from "../../virtio/status.ts";
 * import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts"; // 0x070
 * import { DeviceResetError } from "../../transport/mmio_driver.ts"; // new DeviceResetError(status, polls)
 * ```
 *
 * Check your work with `deno task lab check 2`; stuck? `deno task lab hint 2`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { StatusTransition } from "../../transport/device_status.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: what a driver's write to the status field does.
 *
 * `current` is the status before the write (8 bits; never the reserved bits
 * 0x10 and 0x20); of `written`, only the low 8 bits count. The result:
 *
 * | field        | what it is                                                               |
 * | ------------ | ------------------------------------------------------------------------ |
 * | `status`     | what Status reads after the write                                        |
 * | `reset`      | the write resets the device (§2.4)                                       |
 * | `negotiate`  | the write newly sets FEATURES_OK: the device must now check the features |
 * | `activate`   | the write makes the device live: it may use its queues from now on      |
 * | `violations` | every rule the write broke, as `{ id, message }`                         |
 *
 * The rules a write can break, and so the only ids `violations` holds:
 * `"2.1.1/2"` (the write leaves out a bit the driver set), `"2.1.1/3"` (it
 * adds bits after FAILED without a reset) and `"3.1.1/1"` (it sets a bit
 * before the one §3.1.1 puts before it). A rule may be listed once per
 * offending bit or once in all; `message` is one sentence of yours, with the
 * values (the register file logs it). What each field must be, write by
 * write, is the table "What the device decides" in the lesson.
 *
 * Pure: no state, never throws.
 *
 * @param current The status before the write (8 bits).
 * @param written The value the driver wrote.
 * @returns The new status, the three flags, and the rules the write broke.
 * @example
 * ```ts ignore
 * nextDeviceStatus(0x00, 0x01); // { status: 0x01, reset: false, negotiate: false, activate: false, violations: [] }
 * nextDeviceStatus(0x03, 0x01); // status 0x03, violations [{ id: "2.1.1/2", ... }] (DRIVER left out)
 * nextDeviceStatus(0x0b, 0x0f); // status 0x0f, activate: true
 * ```
 */
export function nextDeviceStatus(current: number, written: number): StatusTransition {
  return todo(
    "nextDeviceStatus",
    `decide what writing 0x${written.toString(16)} over status 0x${current.toString(16)} does`,
  );
}

/**
 * Driver side: resets the device and waits until the reset is done (§2.4).
 *
 * On return, the driver has written 0 to `Status` and then read `Status` back
 * as 0 (2.4.2/1), and made no access after that read: the device may take a
 * few reads to get there. After `maxPolls` reads of `Status` that are not 0,
 * it gives up instead and throws `new DeviceResetError(status, polls)` (from
 * `transport/mmio_driver.ts`): `status` the last value read, `polls` the
 * number of reads made, which is `maxPolls`. Only `Status` is accessed, with
 * 32-bit accesses.
 *
 * @param window The window's registers.
 * @param maxPolls How many reads of Status to make before giving up (default 1000).
 * @throws {DeviceResetError} If Status never reads 0.
 */
export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  return todo(
    "resetDevice",
    `reset the device at 0x${window.base.toString(16)} (giving up after ${maxPolls} reads)`,
  );
}

/**
 * Driver side: adds status bits without clearing any (2.1.1/2), with one
 * 32-bit read of `Status` and then one 32-bit write of what it read OR
 * `bits`, low 8 bits.
 *
 * @param window The window's registers.
 * @param bits The `VIRTIO_CONFIG_S_*` bits to add.
 * @returns The value written.
 */
export function addStatus(window: RegisterWindow, bits: number): number {
  return todo(
    "addStatus",
    `add 0x${bits.toString(16)} to the status at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: the first three steps of §3.1.1 (3.1.1/1), on a device in any
 * state, FAILED included (2.1.1/3).
 *
 * What the device sees on `Status`, and nothing else: a reset, done as
 * {@linkcode resetDevice} does it; then a write of ACKNOWLEDGE (0x01); then a
 * write of ACKNOWLEDGE|DRIVER (0x03). Afterwards `Status` reads 0x03.
 *
 * @param window The window's registers.
 * @throws {DeviceResetError} If the reset does not complete.
 */
export function beginInitialization(window: RegisterWindow): void {
  return todo(
    "beginInitialization",
    `take the device at 0x${window.base.toString(16)} through reset, ACKNOWLEDGE and DRIVER`,
  );
}

/**
 * Driver side: gives up on the device (3.1.1/4): afterwards `Status` reads
 * what it read before plus FAILED (0x80), every other bit kept; one write to
 * `Status`. (To try again, the driver resets the device first, 2.1.1/3.)
 *
 * @param window The window's registers.
 */
export function failDevice(window: RegisterWindow): void {
  return todo("failDevice", `give up on the device at 0x${window.base.toString(16)}`);
}
