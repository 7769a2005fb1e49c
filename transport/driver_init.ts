/**
 * The driver's first steps on a virtio-mmio window (virtio v1.2 §4.2.3.1,
 * §3.1.1, §2.2): identify what the window holds ({@linkcode probeWindow}),
 * reset the device and announce the driver ({@linkcode resetDevice},
 * {@linkcode addStatus}, {@linkcode beginInitialization}), give up
 * ({@linkcode failDevice}), and negotiate features
 * ({@linkcode readDeviceFeatures}, {@linkcode writeDriverFeatures},
 * {@linkcode negotiateFeatures}). Each is a function over the window's
 * registers; `MmioDriverTransport` and `initializeDevice` call them through a
 * parts table, so other versions of any of them can stand in.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../virtio/status.ts";
import { featureMask, formatFeatures, hasFeature, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_LEGACY,
  VIRTIO_MMIO_VERSION_MODERN,
} from "./mmio_registers.ts";
import type { RegisterWindow } from "./types.ts";

// ------------------------------------------------------------------ probe

/** What {@linkcode probeWindow} found in a window. */
export type ProbeResult =
  | {
    /** A modern virtio device to initialize. */
    readonly kind: "device";
    /** `DeviceID`, nonzero. */
    readonly deviceId: number;
    /** `VendorID`. */
    readonly vendorId: number;
    /** `Version`, 2. */
    readonly version: number;
  }
  | {
    /** An empty slot (DeviceID 0): ignore it silently (4.2.2.2/6). */
    readonly kind: "empty";
  }
  | {
    /** Not a device this driver may use: ignore it (4.2.2.2/4, 4.2.2.2/5). */
    readonly kind: "rejected";
    /** Why: `"4.2.2.2/4"` (bad magic), `"4.2.2.2/5"` (version not 2), or `""` when probing itself failed. */
    readonly requirement: RequirementId | "";
    /** One sentence naming the value read. */
    readonly reason: string;
    /** `MagicValue` as read. */
    readonly magic: number;
    /** `Version` as read (0 when not read because the magic was wrong). */
    readonly version: number;
  };

/**
 * Looks at an MMIO window the way §4.2.3.1.1 says a driver starts: read and
 * check `MagicValue` and `Version` first; only if both are valid read
 * `DeviceID`, and if it is 0 stop there without touching anything else and
 * without reporting an error (4.2.2.2/6, 4.2.3.1.1/2). Otherwise read
 * `VendorID` too.
 *
 * @param window The window's registers.
 * @returns A device to initialize, an empty slot, or a rejected window.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { probeWindow } from "./driver_init.ts";
 * import { createMachine } from "../machine.ts";
 * const machine = await createMachine();
 * const found = probeWindow(machine.bus.window(0x1e000));
 * assert.equal(found.kind === "device" && found.deviceId, 2); // a block device
 * await machine.close();
 * ```
 */
export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(VIRTIO_MMIO_MAGIC_VALUE) >>> 0;
  if (magic !== VIRTIO_MMIO_MAGIC) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `MagicValue reads 0x${magic.toString(16).padStart(8, "0")}, not 0x74726976 ("virt")`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(VIRTIO_MMIO_VERSION) >>> 0;
  if (version !== VIRTIO_MMIO_VERSION_MODERN) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: version === VIRTIO_MMIO_VERSION_LEGACY
        ? "Version reads 1: a legacy device, and this driver speaks only version 2"
        : `Version reads ${version}, not 2`,
      magic,
      version,
    };
  }
  const deviceId = window.read32(VIRTIO_MMIO_DEVICE_ID) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  const vendorId = window.read32(VIRTIO_MMIO_VENDOR_ID) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}

// ---------------------------------------------------------- status and reset

/** The device did not finish a reset: Status never read back 0 (2.4.1/1, 2.4.2/1). */
export class DeviceResetError extends Error {
  /** The last status read. */
  readonly status: number;
  /** Reads made before giving up. */
  readonly polls: number;

  /**
   * Records how the reset failed.
   *
   * @param status The last status read.
   * @param polls Reads made before giving up.
   */
  constructor(status: number, polls: number) {
    super(
      `Device reset did not complete: Status still reads ${
        formatStatus(status)
      } after ${polls} reads`,
    );
    this.name = "DeviceResetError";
    this.status = status;
    this.polls = polls;
  }
}

/**
 * Resets the device (§2.4): writes 0 to `Status`, then reads `Status` until it
 * is 0, which is when the driver may consider the reset done (2.4.2/1).
 *
 * @param window The window's registers.
 * @param maxPolls How many reads to make before giving up (default 1000).
 * @throws {DeviceResetError} If Status never reads 0.
 */
export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(VIRTIO_MMIO_STATUS, 0);
  let status = 0;
  for (let poll = 1; poll <= maxPolls; poll++) {
    status = window.read32(VIRTIO_MMIO_STATUS);
    if (status === 0) return;
  }
  throw new DeviceResetError(status, maxPolls);
}

/**
 * Sets status bits without clearing any (2.1.1/2): reads `Status`, ORs the
 * bits in and writes the result.
 *
 * @param window The window's registers.
 * @param bits The `VIRTIO_CONFIG_S_*` bits to add.
 * @returns The value written.
 */
export function addStatus(window: RegisterWindow, bits: number): number {
  const status = (window.read32(VIRTIO_MMIO_STATUS) | bits) & 0xff;
  window.write32(VIRTIO_MMIO_STATUS, status);
  return status;
}

/**
 * The first steps of §3.1.1: reset the device, then set ACKNOWLEDGE ("I have
 * seen you"), then DRIVER ("I know how to drive you"), one write each, never
 * clearing a bit.
 *
 * @param window The window's registers.
 * @throws {DeviceResetError} If the reset does not complete.
 */
export function beginInitialization(window: RegisterWindow): void {
  resetDevice(window);
  addStatus(window, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  addStatus(window, VIRTIO_CONFIG_S_DRIVER);
}

/**
 * Gives up on the device: sets FAILED (§3.1.1/4), keeping the other bits. The
 * driver must reset the device before trying again (2.1.1/3).
 *
 * @param window The window's registers.
 */
export function failDevice(window: RegisterWindow): void {
  addStatus(window, VIRTIO_CONFIG_S_FAILED);
}

// ---------------------------------------------------------------- features

/** Feature negotiation failed; FAILED has been set on the device. */
export class FeatureNegotiationError extends Error {
  /** What the device offered. */
  readonly offered: bigint;
  /** What the driver accepted (0 if it never got that far). */
  readonly accepted: bigint;

  /**
   * Records what was offered and accepted when negotiation failed.
   *
   * @param message What went wrong.
   * @param offered What the device offered.
   * @param accepted What the driver accepted.
   */
  constructor(message: string, offered: bigint, accepted: bigint) {
    super(message);
    this.name = "FeatureNegotiationError";
    this.offered = offered;
    this.accepted = accepted;
  }
}

/**
 * Reads all 64 device feature bits: selects word 0 through
 * `DeviceFeaturesSel` before reading `DeviceFeatures` (4.2.2.2/7), then word 1.
 *
 * @param window The window's registers.
 * @returns The offered feature word.
 */
export function readDeviceFeatures(window: RegisterWindow): bigint {
  window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const low = window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0;
  window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  const high = window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0;
  return (BigInt(high) << 32n) | BigInt(low);
}

/**
 * Writes all 64 accepted feature bits: selects word 0 through
 * `DriverFeaturesSel` before writing `DriverFeatures` (4.2.2.2/8), then word 1.
 *
 * @param window The window's registers.
 * @param features The accepted feature word.
 */
export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffff_ffffn));
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES, Number((features >> 32n) & 0xffff_ffffn));
}

/**
 * Feature negotiation (§2.2, §3.1.1 steps 4-6, chapter 6), after DRIVER is set:
 *
 * 1. read the offered features;
 * 2. a device without `VIRTIO_F_VERSION_1` is legacy-only: give up (6.1/2);
 * 3. accept what is both offered and supported, and always `VIRTIO_F_VERSION_1`
 *    (6.1/1); never a bit that was not offered (2.2.1/1);
 * 4. write the accepted bits, set FEATURES_OK, and read `Status` back: if the
 *    device cleared FEATURES_OK it refused this subset (§3.1.1).
 *
 * On failure FAILED is set before throwing (§3.1.1/4), with `addStatus` (it
 * does not call the `failDevice` part: parts never call each other).
 *
 * @param window The window's registers.
 * @param supported The features the driver understands.
 * @returns The negotiated features.
 * @throws {FeatureNegotiationError} If the device is legacy-only or refuses FEATURES_OK.
 */
export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
    addStatus(window, VIRTIO_CONFIG_S_FAILED); // give up (3.1.1/4)
    throw new FeatureNegotiationError(
      `Device does not offer VIRTIO_F_VERSION_1 (offered ${
        formatFeatures(offered)
      }); it is legacy-only`,
      offered,
      0n,
    );
  }
  const accepted = offered & (supported | featureMask(VIRTIO_F_VERSION_1));
  writeDriverFeatures(window, accepted);
  addStatus(window, VIRTIO_CONFIG_S_FEATURES_OK);
  const status = window.read32(VIRTIO_MMIO_STATUS);
  if ((status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
    addStatus(window, VIRTIO_CONFIG_S_FAILED); // give up (3.1.1/4)
    throw new FeatureNegotiationError(
      `Device refused features ${formatFeatures(accepted)}: FEATURES_OK did not stick ` +
        `(status ${formatStatus(status)})`,
      offered,
      accepted,
    );
  }
  return accepted;
}
