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
 * functions on every access the guest makes, and the guest's virtio bus calls
 * your `probeWindow` on every window of the machine: once they pass, the lab
 * machine runs on your code (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract: what the function is given, what it
 * returns, what it may report. How to get there is the lesson's and the
 * spec's to explain (§4.2.2, §4.2.3.1.1). Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   findRegister,            // (offset, version) => the MmioRegister that starts there, or undefined
 *   VIRTIO_MMIO_CONFIG,      // 0x100: configuration space starts here
 *   VIRTIO_MMIO_MAGIC,       // 0x74726976
 *   VIRTIO_MMIO_MAGIC_VALUE, // 0x000
 *   VIRTIO_MMIO_VERSION,     // 0x004
 *   VIRTIO_MMIO_DEVICE_ID,   // 0x008
 *   VIRTIO_MMIO_VENDOR_ID,   // 0x00c
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
 * Device side: the value of an identification register (§4.2.2).
 *
 * | offset | register   | returns                                            | requirement |
 * | ------ | ---------- | -------------------------------------------------- | ----------- |
 * | 0x000  | MagicValue | 0x74726976, for every device                       | 4.2.2.1/1   |
 * | 0x004  | Version    | `identity.version`, or 2 when it is absent         | 4.2.2.1/2   |
 * | 0x008  | DeviceID   | `identity.deviceId`                                | 4.2.2/D1    |
 * | 0x00c  | VendorID   | `identity.vendorId`                                | 4.2.2/D1    |
 * | other  | (not one)  | `undefined`: the register file answers it itself   | 4.2.2/D1    |
 *
 * Values are unsigned 32-bit numbers, 0 to 0xffffffff: never negative.
 *
 * @param offset Offset of the register from the window base, in bytes (0 to 0x1ff).
 * @param identity The device's IDs (and interface version).
 * @returns The register's value, or `undefined` for any offset not in the table above.
 * @example
 * ```ts ignore
 * readIdentification(0x000, { deviceId: 2, vendorId: 0x554d4551 }); // 0x74726976
 * readIdentification(0x070, { deviceId: 2, vendorId: 0x554d4551 }); // undefined
 * ```
 */
export function readIdentification(offset: number, identity: DeviceIdentity): number | undefined {
  return todo(
    "readIdentification",
    `answer the identification register at offset 0x${
      offset.toString(16)
    } of device ${identity.deviceId}, or undefined`,
  );
}

/**
 * Device side: may the driver make this access? (§4.2.2.2)
 *
 * The register file asks before it acts on any access below configuration
 * space; on a refusal it logs the rule broken and reads 0 or drops the write.
 *
 * Allowed, `{ ok: true, register }`:
 * - any access at 0x100 and above (configuration space, which each device
 *   checks field by field), with `register: null`;
 * - an aligned 32-bit access to a register of the `version`'s table that goes
 *   the register's way (`R`: reads, `W`: writes, `RW`: both), with that
 *   register (`findRegister(offset, version)`).
 *
 * Anything else is refused, `{ ok: false, requirement, reason, register }`:
 * - `requirement` is `"4.2.2.2/2"` for an access that is not 32 bits wide or
 *   not 4-byte aligned, `"4.2.2.2/1"` for one that reaches no register or goes
 *   against the register's direction; an access that breaks both rules may
 *   cite either;
 * - `reason` is one sentence for the log, in your words (not empty);
 * - `register` is the register whose four bytes contain `offset`, or `null`.
 *
 * Never throws.
 *
 * @param offset Offset from the window base, in bytes (0 to 0x1ff).
 * @param width Access width in bytes: 1, 2 or 4.
 * @param kind `"read"` or `"write"`.
 * @param version Interface version: 2 (modern, the default) or 1 (legacy, §4.2.4).
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
 * | the window                          | returns                                                             | reads                                |
 * | ----------------------------------- | ------------------------------------------------------------------- | ------------------------------------ |
 * | MagicValue is not 0x74726976        | `{ kind: "rejected", requirement: "4.2.2.2/4", reason, magic, version }` | nothing past Version                 |
 * | Version is not 2 (1, legacy, too)   | `{ kind: "rejected", requirement: "4.2.2.2/5", reason, magic, version }` | MagicValue, Version                  |
 * | DeviceID is 0: an empty slot        | `{ kind: "empty" }`: not an error (4.2.2.2/6)                        | MagicValue, Version, DeviceID        |
 * | a device                            | `{ kind: "device", deviceId, vendorId, version }`                   | all four, in table order, once each  |
 *
 * `magic` and `version` are the values read (`version` is 0 when Version was
 * not read); `reason` is one sentence in your words (not empty). MagicValue
 * and Version are read before anything else (4.2.3.1.1/1); after DeviceID
 * reads 0 nothing else is touched (4.2.3.1.1/2). Every access is an aligned
 * 32-bit read (`window.read32`): probing never writes.
 *
 * @param window The window's registers, at offsets from its base.
 * @returns A device to initialize, an empty slot, or a rejected window.
 */
export function probeWindow(window: RegisterWindow): ProbeResult {
  return todo("probeWindow", `identify what is in the window at 0x${window.base.toString(16)}`);
}
