/**
 * Lesson 1, "The MMIO window": your exercise.
 *
 * Three functions, two sides of one 0x200-byte window:
 *
 * - the device answers the identification registers ({@linkcode readIdentification})
 *   and refuses accesses the driver may not make ({@linkcode checkRegisterAccess});
 * - the driver looks at a window and decides what is there ({@linkcode probeWindow}).
 *
 * The lab's register file (`transport/mmio_device.ts`) calls your two device
 * functions for every access the guest makes, and the guest's virtio bus calls
 * your `probeWindow` for every window of the machine, so once they pass, the
 * lab machine runs on your code.
 *
 * Replace each `todo(...)` with your code. Useful pieces of the library, to
 * import as you need them (the register table is data you do not have to type in):
 *
 * ```ts
 * import {
 *   findRegister,            // (offset, version) => the MmioRegister at that offset, or undefined
 *   VIRTIO_MMIO_CONFIG,      // 0x100: configuration space starts here
 *   VIRTIO_MMIO_MAGIC,       // 0x74726976
 *   VIRTIO_MMIO_MAGIC_VALUE, // 0x000, and VIRTIO_MMIO_VERSION (0x004),
 *   VIRTIO_MMIO_DEVICE_ID,   // VIRTIO_MMIO_DEVICE_ID (0x008), VIRTIO_MMIO_VENDOR_ID (0x00c)
 *   VIRTIO_MMIO_VENDOR_ID,
 *   VIRTIO_MMIO_VERSION,
 * } from "../../transport/mmio_registers.ts";
 * ```
 *
 * Check your work with `deno task lab check 1`; stuck? `deno task lab hint 1`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type {
  AccessKind,
  DeviceIdentity,
  RegisterAccessCheck,
} from "../../transport/mmio_registers.ts";
import type { ProbeResult } from "../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: the value of one identification register (§4.2.2, requirements
 * 4.2.2.1/1 and 4.2.2.1/2).
 *
 * | offset | register  | value                                                        |
 * | ------ | --------- | ------------------------------------------------------------ |
 * | 0x000  | MagicValue | always 0x74726976: the bytes "v" "i" "r" "t", little-endian |
 * | 0x004  | Version   | `identity.version`, 2 when absent (1 is the legacy interface) |
 * | 0x008  | DeviceID  | `identity.deviceId` (0 means "empty slot")                    |
 * | 0x00c  | VendorID  | `identity.vendorId`                                           |
 *
 * Values are unsigned 32-bit numbers (0 to 0xffffffff, never negative).
 * Every other offset is not an identification register: return `undefined`,
 * and the register file goes on to answer it from its other registers (so
 * returning 0 there would make Status, QueueNumMax... all read 0).
 *
 * @param offset Offset of the register from the window base, in bytes.
 * @param identity The device's IDs (and interface version).
 * @returns The 32-bit value, or `undefined` for any other offset.
 * @example
 * ```ts ignore
 * readIdentification(0x000, { deviceId: 2, vendorId: 0x554d4551 }); // 0x74726976
 * readIdentification(0x070, { deviceId: 2, vendorId: 0x554d4551 }); // undefined
 * ```
 */
export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  return todo(
    "readIdentification",
    `answer MagicValue, Version, DeviceID or VendorID at offset 0x${
      offset.toString(16)
    } for device ${identity.deviceId}; undefined elsewhere`,
  );
}

/**
 * Device side: may the driver make this access at all? (§4.2.2.2)
 *
 * The device calls this before acting on any access below configuration
 * space. On a refusal it logs the broken rule and then reads 0 or ignores the
 * write, as QEMU does. Check, in this order:
 *
 * 1. offsets 0x100 and up are configuration space: always `{ ok: true, register: null }`
 *    (each device checks its own field widths there);
 * 2. a control register takes only 32-bit (`width` 4), 4-byte aligned accesses:
 *    anything else is refused with requirement `"4.2.2.2/2"`;
 * 3. the offset must be a register of the table for this `version` (2: the
 *    modern layout, 1: the legacy one): otherwise `"4.2.2.2/1"`;
 * 4. no writes to a read-only (`"R"`) register and no reads of a write-only
 *    (`"W"`) one: `"4.2.2.2/1"`. `"RW"` registers take both.
 *
 * An allowed access returns `{ ok: true, register }` with the register found.
 * A refusal returns `{ ok: false, requirement, reason, register }`: `reason`
 * is one sentence naming the offset (and the register, if any) for the log;
 * `register` is the register at (or around) that offset, or `null`.
 *
 * @param offset Offset from the window base, in bytes.
 * @param width Access width in bytes: 1, 2 or 4.
 * @param kind `"read"` or `"write"`.
 * @param version Interface version: 2 (modern, the default) or 1 (legacy).
 * @returns The verdict.
 * @example
 * ```ts ignore
 * checkRegisterAccess(0x070, 4, "read");  // { ok: true, register: <Status> }
 * checkRegisterAccess(0x070, 2, "read");  // { ok: false, requirement: "4.2.2.2/2", ... }
 * checkRegisterAccess(0x050, 4, "read");  // { ok: false, requirement: "4.2.2.2/1", ... } (QueueNotify is W)
 * ```
 */
export function checkRegisterAccess(
  offset: number,
  width: number,
  kind: AccessKind,
  version: 1 | 2 = 2,
): RegisterAccessCheck {
  return todo(
    "checkRegisterAccess",
    `decide whether a ${width}-byte ${kind} at offset 0x${
      offset.toString(16)
    } is allowed (version ${version})`,
  );
}

/**
 * Driver side: what is in this window? (§4.2.3.1.1, §4.2.2.2)
 *
 * Read with 32-bit accesses (`window.read32(offset)`), in this order:
 *
 * 1. `MagicValue`: anything but 0x74726976 is not a virtio device: return
 *    `{ kind: "rejected", requirement: "4.2.2.2/4", reason, magic, version: 0 }`;
 * 2. `Version`: anything but 2 (the legacy 1 included) is a device this
 *    driver does not speak to: `{ kind: "rejected", requirement: "4.2.2.2/5",
 *    reason, magic, version }`;
 * 3. `DeviceID`: 0 is an empty slot: return `{ kind: "empty" }` at once,
 *    without touching any other register and without reporting an error;
 * 4. only for a real device, `VendorID`; then return
 *    `{ kind: "device", deviceId, vendorId, version }`.
 *
 * Never write to the window here: probing only looks.
 *
 * @param window The window's registers, at offsets from its base.
 * @returns A device to initialize, an empty slot, or a rejected window.
 */
export function probeWindow(window: RegisterWindow): ProbeResult {
  return todo("probeWindow", `identify what is in the window at 0x${window.base.toString(16)}`);
}
