// Correct: bigint masks all the way, straight-line register code, and the
// lesson 2 helpers from the library, the shape of Linux's
// virtio_finalize_features and vm_get_features/vm_finalize_features.

import type { FeatureVerdict } from "../../../../transport/device_status.ts";
import {
  addStatus,
  failDevice,
  FeatureNegotiationError,
} from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { featureNames, formatFeatures } from "../../../../virtio/features.ts";

const VERSION_1 = 1n << 32n;
const FEATURES_OK = 0x08;

export function checkDriverFeatures(
  offered: bigint,
  accepted: bigint,
  names: Readonly<Record<number, string>> = {},
): FeatureVerdict {
  const unoffered = accepted & ~offered;
  if (unoffered) {
    return {
      ok: false,
      requirement: "2.2.1/1",
      reason: `Accepted ${featureNames(unoffered, names).join(", ")}, never offered`,
    };
  }
  if ((offered & VERSION_1) && !(accepted & VERSION_1)) {
    return {
      ok: false,
      requirement: "6.1/1",
      reason: "VIRTIO_F_VERSION_1 offered but not accepted",
    };
  }
  return { ok: true, features: accepted };
}

export function readDeviceFeatures(window: RegisterWindow): bigint {
  window.write32(0x014, 0);
  const low = BigInt(window.read32(0x010) >>> 0);
  window.write32(0x014, 1);
  const high = BigInt(window.read32(0x010) >>> 0);
  return (high << 32n) | low;
}

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(0x024, 0);
  window.write32(0x020, Number(features & 0xffff_ffffn));
  window.write32(0x024, 1);
  window.write32(0x020, Number((features >> 32n) & 0xffff_ffffn));
}

export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  if (!(offered & VERSION_1)) {
    failDevice(window);
    throw new FeatureNegotiationError(
      `legacy-only device: ${formatFeatures(offered)}`,
      offered,
      0n,
    );
  }
  const accepted = offered & (supported | VERSION_1);
  writeDriverFeatures(window, accepted);
  addStatus(window, FEATURES_OK);
  if (!(window.read32(0x070) & FEATURES_OK)) {
    failDevice(window);
    throw new FeatureNegotiationError("the device refused the features", offered, accepted);
  }
  return accepted;
}
