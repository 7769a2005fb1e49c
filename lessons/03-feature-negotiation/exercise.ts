// deno-lint-ignore-file no-unused-vars
/**
 * Lesson 3, "Feature negotiation": your exercise.
 *
 * The device decides whether it accepts the features a driver chose
 * ({@linkcode checkDriverFeatures}); the driver reads the 64 offered bits
 * through two 32-bit words ({@linkcode readDeviceFeatures}), writes its choice
 * back the same way ({@linkcode writeDriverFeatures}) and runs steps 4 to 6 of
 * §3.1.1 ({@linkcode negotiateFeatures}). The lab's register file calls your
 * `checkDriverFeatures` whenever a driver sets FEATURES_OK, and the guest's
 * virtio bus calls your `negotiateFeatures` for every device it brings up
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson and in §2.2,
 * §3.1.1, §4.2.2 and chapter 6. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_F_VERSION_1, // 32: a bit number; featureMask(VIRTIO_F_VERSION_1) is 0x1_0000_0000n
 *   featureMask,        // bit number -> 64-bit bigint mask
 *   hasFeature,         // (word, bit) -> boolean
 *   featureNames,       // (word, names) -> ["VIRTIO_F_VERSION_1", ...], for messages
 *   formatFeatures,     // word -> "0x0000000100000000"
 * } from "../../virtio/features.ts";
 * import {
 *   VIRTIO_MMIO_DEVICE_FEATURES,     // 0x010 (R)
 *   VIRTIO_MMIO_DEVICE_FEATURES_SEL, // 0x014 (W)
 *   VIRTIO_MMIO_DRIVER_FEATURES,     // 0x020 (W)
 *   VIRTIO_MMIO_DRIVER_FEATURES_SEL, // 0x024 (W)
 *   VIRTIO_MMIO_STATUS,              // 0x070 (RW)
 * } from "../../transport/mmio_registers.ts";
 * import { VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK } from "../../virtio/status.ts";
 * import { addStatus, failDevice, FeatureNegotiationError } from "../../transport/mmio_driver.ts";
 * ```
 *
 * (`addStatus` and `failDevice` are what you wrote in lesson 2; import the
 * library's or your own.) Check your work with `deno task lab check 3`; stuck?
 * `deno task lab hint 3`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { FeatureVerdict } from "../../transport/device_status.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: does the device accept the features the driver wrote, now
 * that it sets FEATURES_OK? (§2.2.2, chapter 6)
 *
 * | the driver's choice (`accepted`)                          | returns                                           |
 * | --------------------------------------------------------- | ------------------------------------------------- |
 * | has a bit that is not in `offered`                        | `{ ok: false, requirement: "2.2.1/1", reason }`   |
 * | lacks VIRTIO_F_VERSION_1 (bit 32) although it is offered  | `{ ok: false, requirement: "6.1/1", reason }`     |
 * | neither                                                   | `{ ok: true, features: accepted }`                |
 *
 * A choice that is both may cite either rule. A refusal leaves FEATURES_OK
 * clear (the register file does that, 2.2.2/2); `reason` is one sentence of
 * yours for the log (not empty; `names` has the device type's bit names if
 * you want them in it). All 64 bits count. Pure; never throws.
 *
 * @param offered The device's features (64 bits).
 * @param accepted What the driver wrote to `DriverFeatures` (64 bits).
 * @param names Names of device-specific feature bits, by bit number, for the reason.
 * @returns The verdict.
 * @example
 * ```ts ignore
 * checkDriverFeatures(0x1_0000_0001n, 0x1_0000_0001n); // { ok: true, features: 0x1_0000_0001n }
 * checkDriverFeatures(0x1_0000_0000n, 0x1_0000_0001n); // { ok: false, requirement: "2.2.1/1", ... }
 * checkDriverFeatures(0x1_0000_0001n, 0x0_0000_0001n); // { ok: false, requirement: "6.1/1", ... }
 * ```
 */
export function checkDriverFeatures(
  offered: bigint,
  accepted: bigint,
  names: Readonly<Record<number, string>> = {},
): FeatureVerdict {
  return todo(
    "checkDriverFeatures",
    `decide whether the device accepts 0x${accepted.toString(16)} out of the offered 0x${
      offered.toString(16)
    }`,
  );
}

/**
 * Driver side: all 64 offered feature bits, as an unsigned `bigint`
 * (`word 1 << 32 | word 0`).
 *
 * `DeviceFeatures` (0x010) shows one 32-bit word of them, the one
 * `DeviceFeaturesSel` (0x014) selects: every read of `DeviceFeatures` comes
 * right after a write of that word's number to the selector (4.2.2.2/7).
 *
 * @param window The window's registers.
 * @returns The offered features.
 */
export function readDeviceFeatures(window: RegisterWindow): bigint {
  return todo(
    "readDeviceFeatures",
    `read both feature words of the device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: writes all 64 bits of `features` to the device, one 32-bit
 * word at a time: every write to `DriverFeatures` (0x020) comes right after a
 * write of that word's number to `DriverFeaturesSel` (0x024) (4.2.2.2/8).
 * Afterwards the device holds exactly `features`.
 *
 * @param window The window's registers.
 * @param features The accepted features (64 bits).
 */
export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  return todo(
    "writeDriverFeatures",
    `write 0x${features.toString(16)} to the device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: feature negotiation, steps 4 to 6 of §3.1.1, on a device whose
 * status is ACKNOWLEDGE|DRIVER.
 *
 * On success it returns the features accepted: what is both offered and
 * `supported`, plus VIRTIO_F_VERSION_1 (6.1/1), never a bit that was not
 * offered (2.2.1/1). By then the device holds them, FEATURES_OK has been
 * added to the status (the other bits kept), and `Status` has been read back
 * after that write and found to still have FEATURES_OK (3.1.1/1): `Status`
 * reads 0x0b.
 *
 * It gives up, adding FAILED to the status (the other bits kept, 3.1.1/4) and
 * then throwing `new FeatureNegotiationError(message, offered, accepted)`
 * (from `transport/mmio_driver.ts`), in two cases:
 *
 * | case                                                  | before giving up                       | `accepted` |
 * | ----------------------------------------------------- | -------------------------------------- | ---------- |
 * | VIRTIO_F_VERSION_1 not offered: legacy only (6.1/2)   | no feature written, no FEATURES_OK     | `0n`       |
 * | FEATURES_OK did not stick: the device refused (2.2.1/2) | the features written, FEATURES_OK set | what it wrote |
 *
 * @param window The window's registers.
 * @param supported The features this driver understands (64 bits).
 * @returns The negotiated (accepted) features.
 * @throws {FeatureNegotiationError} When the device is legacy-only or refuses FEATURES_OK;
 *   FAILED is set on the device first.
 */
export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  return todo(
    "negotiateFeatures",
    `negotiate features (the driver supports 0x${supported.toString(16)}) with the device at 0x${
      window.base.toString(16)
    }`,
  );
}
