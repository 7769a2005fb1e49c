/**
 * Lesson 3, "Feature negotiation": your exercise.
 *
 * The device decides whether it accepts the features a driver chose
 * ({@linkcode checkDriverFeatures}); the driver reads the 64 offered bits
 * through two 32-bit words ({@linkcode readDeviceFeatures}), writes its choice
 * back the same way ({@linkcode writeDriverFeatures}) and runs steps 4 to 6 of
 * §3.1.1 ({@linkcode negotiateFeatures}). The lab's register file calls your
 * `checkDriverFeatures` whenever a driver sets FEATURES_OK, and the guest's
 * virtio bus calls your `negotiateFeatures` for every device it brings up.
 *
 * Useful pieces of the library, to import as you need them:
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
 * import { VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_FAILED } from "../../virtio/status.ts";
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
import { featureNames } from "../../virtio/features.ts";
import type { FeatureVerdict } from "../../transport/device_status.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: does the device accept the features the driver wrote, now
 * that it sets FEATURES_OK? (§2.2, chapter 6)
 *
 * 1. A bit in `accepted` that is not in `offered` was never on offer: the
 *    driver broke 2.2.1/1, and the device refuses (it leaves FEATURES_OK
 *    clear, 2.2.2/2): `{ ok: false, requirement: "2.2.1/1", reason }`.
 * 2. `VIRTIO_F_VERSION_1` (bit 32) offered but not accepted: the driver broke
 *    6.1/1, and a modern device may refuse to work without it (6.2/2); this
 *    one does: `{ ok: false, requirement: "6.1/1", reason }`.
 * 3. Otherwise the device accepts exactly what the driver chose:
 *    `{ ok: true, features: accepted }`.
 *
 * All 64 bits count: use `bigint` operators (`&`, `|`, `~`, `1n << 32n`), never
 * `number`, which keeps only 32 bits in bit operations. `reason` is one
 * sentence naming the bits (the register file logs it); `names` gives the
 * device-specific bits' names for it.
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
    `decide whether the device accepts 0x${accepted.toString(16)} (${
      featureNames(accepted, names).join(", ") || "nothing"
    }) out of the offered 0x${offered.toString(16)}`,
  );
}

/**
 * Driver side: reads all 64 offered feature bits. `DeviceFeatures` (0x010)
 * shows 32 of them at a time, chosen by `DeviceFeaturesSel` (0x014): write 0
 * to the selector, read bits 0 to 31; write 1, read bits 32 to 63. The
 * selector must be written before each read (4.2.2.2/7): never trust what it
 * held before.
 *
 * @param window The window's registers.
 * @returns The offered features, `(high << 32n) | low`, as an unsigned 64-bit bigint.
 */
export function readDeviceFeatures(window: RegisterWindow): bigint {
  return todo(
    "readDeviceFeatures",
    `read both 32-bit feature words of the device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: writes all 64 accepted feature bits, the same way: 0 to
 * `DriverFeaturesSel` (0x024), bits 0 to 31 to `DriverFeatures` (0x020); 1 to
 * the selector, bits 32 to 63. The selector must be written before each write
 * (4.2.2.2/8).
 *
 * @param window The window's registers.
 * @param features The accepted feature word (64 bits).
 */
export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  return todo(
    "writeDriverFeatures",
    `write 0x${features.toString(16)} as two 32-bit words to the device at 0x${
      window.base.toString(16)
    }`,
  );
}

/**
 * Driver side: feature negotiation, steps 4 to 6 of §3.1.1, called once
 * ACKNOWLEDGE and DRIVER are set.
 *
 * 1. Read the offered features.
 * 2. No `VIRTIO_F_VERSION_1` on offer means a legacy-only device, which this
 *    driver cannot drive (it may give up, 6.1/2): set FAILED and throw a
 *    `FeatureNegotiationError`, without going on to FEATURES_OK.
 * 3. Accept what is both offered and `supported`, plus `VIRTIO_F_VERSION_1`,
 *    which a driver must accept when it is offered (6.1/1). Never a bit that
 *    was not offered (2.2.1/1).
 * 4. Write the accepted features, then set FEATURES_OK (keeping the other
 *    status bits).
 * 5. Read `Status` again: if FEATURES_OK did not stick, the device refused
 *    this set of features (2.2.2/2). Set FAILED and throw.
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
