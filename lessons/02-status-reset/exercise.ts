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
 * device it brings up.
 *
 * Useful pieces of the library, to import as you need them:
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
 * Device side: what a driver's write to the status field does (§2.1, §2.4,
 * §3.1.1). `current` is the status before the write (8 bits; it never holds
 * the reserved bits 4 and 5); only the low 8 bits of `written` count.
 *
 * - **0 resets the device** (§2.4): `{ status: 0, reset: true, negotiate: false,
 *   activate: false, violations: [] }`. Nothing else below applies.
 * - **The driver can only add bits** (2.1.1/2). The bits it asks for are the
 *   defined ones it wrote, except DEVICE_NEEDS_RESET (0x40): that bit belongs to
 *   the device, so the driver's copy of it is ignored both ways (writing it does
 *   not set it, leaving it out does not clear it). Reserved bits (0x10, 0x20)
 *   are dropped. The new status is `current` OR the bits asked for: a bit of
 *   `current` (other than DEVICE_NEEDS_RESET) that the write leaves out stays
 *   set, and the write breaks `"2.1.1/2"`. So FAILED stays until a reset.
 * - **After FAILED, reset first** (2.1.1/3): if `current` has FAILED and the
 *   write adds any other bit, it breaks `"2.1.1/3"`.
 * - **The order of §3.1.1** (3.1.1/1): a newly added DRIVER needs ACKNOWLEDGE,
 *   FEATURES_OK needs DRIVER, DRIVER_OK needs FEATURES_OK, each in the new
 *   status; every newly added bit whose prerequisite is missing breaks
 *   `"3.1.1/1"`. The bit is still stored (real devices do not undo it).
 * - `negotiate`: FEATURES_OK is newly set, so the device must now accept or
 *   refuse the driver's features (2.2.2/2, lesson 3).
 * - `activate`: DRIVER_OK is newly set while the new status has FEATURES_OK
 *   and not FAILED: the device goes live and may use its queues (2.1.2/1).
 *
 * A broken rule is a `RuleBreak`: `{ id, message }`, with the requirement id
 * and one sentence with the values (the register file logs it). A write can
 * break several rules; list each once it applies.
 *
 * @param current The status before the write (8 bits).
 * @param written The value the driver wrote.
 * @returns The new status, the flags, and the rules the write broke.
 * @example
 * ```ts ignore
 * nextDeviceStatus(0x00, 0x01); // { status: 0x01, reset: false, negotiate: false, activate: false, violations: [] }
 * nextDeviceStatus(0x03, 0x01); // status 0x03, violations [{ id: "2.1.1/2", ... }] (DRIVER cleared)
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
 * Driver side: resets the device (§2.4). Write 0 to `Status` (0x070), then
 * read `Status` until it reads 0: only then is the reset done (2.4.2/1). A
 * device may take a few reads to get there.
 *
 * Do not wait forever for a device that never finishes: after `maxPolls` reads
 * that are not 0, give up by throwing `DeviceResetError` (from
 * `transport/mmio_driver.ts`, `new DeviceResetError(lastStatus, polls)`).
 *
 * @param window The window's registers.
 * @param maxPolls How many reads of Status to make before giving up (default 1000).
 * @throws {DeviceResetError} If Status never reads 0.
 */
export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  return todo(
    "resetDevice",
    `write 0 to Status at 0x${
      window.base.toString(16)
    }, then read it (at most ${maxPolls} times) until it is 0`,
  );
}

/**
 * Driver side: sets status bits without clearing any (2.1.1/2): read `Status`,
 * OR `bits` in, keep the low 8 bits, write the result back.
 *
 * @param window The window's registers.
 * @param bits The `VIRTIO_CONFIG_S_*` bits to add.
 * @returns The value written.
 */
export function addStatus(window: RegisterWindow, bits: number): number {
  return todo(
    "addStatus",
    `read Status at 0x${window.base.toString(16)}, OR in 0x${bits.toString(16)}, write it back`,
  );
}

/**
 * Driver side: the first three steps of §3.1.1. Reset the device (and wait
 * for it), then set ACKNOWLEDGE ("I have noticed you"), then, in a second
 * write, DRIVER ("I know how to drive you"). Never clear a bit on the way.
 *
 * Afterwards `Status` reads 0x03 (ACKNOWLEDGE|DRIVER), whatever it read before,
 * FAILED included.
 *
 * @param window The window's registers.
 * @throws {DeviceResetError} If the reset does not complete.
 */
export function beginInitialization(window: RegisterWindow): void {
  return todo(
    "beginInitialization",
    `reset the device at 0x${window.base.toString(16)}, then set ACKNOWLEDGE, then DRIVER`,
  );
}

/**
 * Driver side: gives up on the device (§3.1.1/4) by setting FAILED, keeping
 * every other bit. The driver must reset the device before trying again
 * (2.1.1/3).
 *
 * @param window The window's registers.
 */
export function failDevice(window: RegisterWindow): void {
  return todo("failDevice", `add FAILED to the status at 0x${window.base.toString(16)}`);
}
