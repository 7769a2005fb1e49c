/**
 * The device side of the status field (virtio v1.2 §2.1, reset §2.4, the
 * initialization order of §3.1.1) and of feature negotiation (§2.2, chapter 6),
 * as pure functions: they say what a write means and which rules it broke;
 * the register file (`MmioDeviceTransport`) applies the verdict and logs the
 * violations.
 *
 * Both are parts of the device side (`parts.ts`): another implementation with
 * the same signature plugs into the same register file.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import {
  formatStatus,
  STATUS_DEFINED_MASK,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import {
  featureNames,
  formatFeatures,
  hasFeature,
  VIRTIO_F_VERSION_1,
} from "../virtio/features.ts";

/** A rule the driver broke, found by a pure check (logged by the caller). */
export interface RuleBreak {
  /** Requirement id, e.g. `"2.1.1/2"`. */
  readonly id: RequirementId;
  /** What happened, in one sentence with the values. */
  readonly message: string;
}

/** What a write to the status field means for the device. */
export interface StatusTransition {
  /** The status the device stores and reads back afterwards (FEATURES_OK may still be refused). */
  readonly status: number;
  /** The write was 0: reset the device (§2.4). */
  readonly reset: boolean;
  /** FEATURES_OK is newly set: the device must now accept or refuse the driver's features (§2.2.2/2). */
  readonly negotiate: boolean;
  /** DRIVER_OK is newly set after FEATURES_OK: the device goes live (§3.1.1). */
  readonly activate: boolean;
  /** Rules the write broke, in the order found. */
  readonly violations: readonly RuleBreak[];
}

/**
 * Decides what a driver's write to the device status field does (§2.1, §2.4,
 * §3.1.1):
 *
 * - writing 0 resets the device: status becomes 0 (2.4.1/1);
 * - otherwise the driver may only add bits: a bit it tries to clear stays set
 *   and the write breaks 2.1.1/2 (FAILED is therefore sticky until reset);
 *   DEVICE_NEEDS_RESET belongs to the device, so the driver's copy of that bit
 *   is ignored in both directions;
 * - bits must come in the order of §3.1.1: DRIVER needs ACKNOWLEDGE,
 *   FEATURES_OK needs DRIVER, DRIVER_OK needs FEATURES_OK (3.1.1/1); an
 *   out-of-order bit is still stored, as real devices do, but DRIVER_OK
 *   without FEATURES_OK does not activate the device;
 * - once FAILED is set, the driver must reset before initializing again
 *   (2.1.1/3): new initialization bits after FAILED break that rule;
 * - reserved bits (0x10, 0x20) are dropped.
 *
 * @param current The status before the write (8 bits).
 * @param written The value the driver wrote (only the low 8 bits count).
 * @returns The new status and what the device must do next.
 * @example
 * ```ts
 * import { nextDeviceStatus } from "./device_status.ts";
 * nextDeviceStatus(0x03, 0x01).violations[0].id; // "2.1.1/2": DRIVER was cleared
 * ```
 */
export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  const deviceOwned = VIRTIO_CONFIG_S_NEEDS_RESET;
  const requested = value & STATUS_DEFINED_MASK & ~deviceOwned;
  const kept = current & ~deviceOwned;
  const cleared = kept & ~requested;
  if (cleared !== 0) {
    violations.push({
      id: "2.1.1/2",
      message: `Driver wrote status ${hex2(value)}, clearing ${formatStatus(cleared)} ` +
        `(status was ${formatStatus(current)})`,
    });
  }
  const status = (current | requested) & 0xff;
  const added = status & ~current;

  if ((current & VIRTIO_CONFIG_S_FAILED) !== 0 && (added & ~VIRTIO_CONFIG_S_FAILED) !== 0) {
    violations.push({
      id: "2.1.1/3",
      message: `Driver set ${formatStatus(added)} after FAILED without resetting the device first`,
    });
  }
  const order: [number, number, string][] = [
    [VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE"],
    [VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_DRIVER, "DRIVER"],
    [VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK"],
  ];
  for (const [bit, prerequisite, name] of order) {
    if ((added & bit) !== 0 && (status & prerequisite) === 0) {
      violations.push({
        id: "3.1.1/1",
        message: `Driver set ${formatStatus(bit)} before ${name} (status ${formatStatus(status)})`,
      });
    }
  }
  const negotiate = (added & VIRTIO_CONFIG_S_FEATURES_OK) !== 0;
  const activate = (added & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 &&
    (status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && (status & VIRTIO_CONFIG_S_FAILED) === 0;
  return { status, reset: false, negotiate, activate, violations };
}

/** The device's verdict on the features a driver accepted (§2.2.2/2). */
export type FeatureVerdict =
  | {
    /** Accept: FEATURES_OK stays set and these features are in force. */
    readonly ok: true;
    /** The negotiated features. */
    readonly features: bigint;
  }
  | {
    /** Refuse: FEATURES_OK is not set (§2.2.2/2). */
    readonly ok: false;
    /** The rule the driver broke, e.g. `"2.2.1/1"` or `"6.1/1"`. */
    readonly requirement: RequirementId;
    /** Why, in one sentence naming the bits. */
    readonly reason: string;
  };

/**
 * Decides whether the device accepts the features the driver wrote when it
 * sets FEATURES_OK (§2.2, §3.1.1, chapter 6):
 *
 * - a feature the device never offered cannot be accepted: the driver broke
 *   2.2.1/1 and the device refuses FEATURES_OK (2.2.2/2);
 * - a driver must accept `VIRTIO_F_VERSION_1` when it is offered (6.1/1); a
 *   modern device may refuse to operate without it (6.2/2), and this one does;
 * - otherwise the accepted subset is what is negotiated.
 *
 * @param offered The device's features (64 bits).
 * @param accepted What the driver wrote to `DriverFeatures` (64 bits).
 * @param names Names of device-specific bits, for the message.
 * @returns The verdict.
 * @example
 * ```ts
 * import { checkDriverFeatures } from "./device_status.ts";
 * checkDriverFeatures(0x1_0000_0000n, 0x1_0000_0001n).ok; // false: bit 0 was never offered
 * ```
 */
export function checkDriverFeatures(
  offered: bigint,
  accepted: bigint,
  names: Readonly<Record<number, string>> = {},
): FeatureVerdict {
  const unoffered = accepted & ~offered;
  if (unoffered !== 0n) {
    return {
      ok: false,
      requirement: "2.2.1/1",
      reason: `Driver accepted ${featureNames(unoffered, names).join(", ")} ` +
        `(${formatFeatures(unoffered)}), never offered by the device`,
    };
  }
  if (hasFeature(offered, VIRTIO_F_VERSION_1) && !hasFeature(accepted, VIRTIO_F_VERSION_1)) {
    return {
      ok: false,
      requirement: "6.1/1",
      reason:
        `Driver did not accept the offered VIRTIO_F_VERSION_1 (accepted ${
          formatFeatures(accepted)
        }); ` +
        "a modern device may refuse to operate without it (6.2/2)",
    };
  }
  return { ok: true, features: accepted };
}

function hex2(value: number): string {
  return `0x${value.toString(16).padStart(2, "0")}`;
}

/** What the device's status becomes when it asks for a reset, and whether to tell the driver. */
export interface NeedsResetTransition {
  /** The status byte afterwards: the one before with DEVICE_NEEDS_RESET (bit 6, 0x40) set, nothing else changed. */
  readonly status: number;
  /**
   * Send a configuration change notification now: DEVICE_NEEDS_RESET was not
   * set before and DRIVER_OK is (2.1.2/2). A device already asking for a
   * reset, or not yet live, sends nothing.
   */
  readonly notify: boolean;
}

/**
 * The device entered an error state that only a reset cures (a broken queue,
 * a request it cannot complete, DRIVER_OK without FEATURES_OK): it sets
 * DEVICE_NEEDS_RESET (2.1.2/3) and, if the driver had set DRIVER_OK, tells it
 * with a configuration change notification (2.1.2/2), as QEMU's
 * `virtio_error` does. The bit stays set until the driver resets the device
 * (§2.4); asking again changes nothing and notifies nothing.
 *
 * The register file applies the verdict: it stores `status`, stops using the
 * queues (2.1.2/1: no buffer is consumed and no used buffer notification sent
 * until the device is initialized again), and raises the configuration
 * change interrupt with `raiseInterrupt` when `notify` is true.
 *
 * @param status The device status byte now (0 to 0xff).
 * @returns The new status and whether to notify.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markNeedsReset } from "./device_status.ts";
 * assert.deepEqual(markNeedsReset(0x0f), { status: 0x4f, notify: true }); // live: tell the driver
 * assert.deepEqual(markNeedsReset(0x0b), { status: 0x4b, notify: false }); // before DRIVER_OK
 * assert.deepEqual(markNeedsReset(0x4f), { status: 0x4f, notify: false }); // asked already
 * ```
 */
export function markNeedsReset(status: number): NeedsResetTransition {
  const before = status & 0xff;
  if (before & VIRTIO_CONFIG_S_NEEDS_RESET) return { status: before, notify: false };
  return {
    status: before | VIRTIO_CONFIG_S_NEEDS_RESET,
    notify: (before & VIRTIO_CONFIG_S_DRIVER_OK) !== 0,
  };
}
