// Correct: feature words as an array of two 32-bit words, read and written in
// a loop over the word index; the device check goes through the features bit
// by bit; the driver keeps its own read-modify-write helpers (lesson 2 style).

import type { FeatureVerdict } from "../../../../transport/device_status.ts";
import { FeatureNegotiationError } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_STATUS,
} from "../../../../transport/mmio_registers.ts";
import { featureMask, hasFeature, VIRTIO_F_VERSION_1 } from "../../../../virtio/features.ts";
import { VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK } from "../../../../virtio/status.ts";

export function checkDriverFeatures(
  offered: bigint,
  accepted: bigint,
  names: Readonly<Record<number, string>> = {},
): FeatureVerdict {
  for (let bit = 0; bit < 64; bit++) {
    if (hasFeature(accepted, bit) && !hasFeature(offered, bit)) {
      return {
        ok: false,
        requirement: "2.2.1/1",
        reason: `Bit ${bit} (${names[bit] ?? "unnamed"}) was accepted without being offered`,
      };
    }
  }
  if (hasFeature(offered, VIRTIO_F_VERSION_1) !== hasFeature(accepted, VIRTIO_F_VERSION_1)) {
    return { ok: false, requirement: "6.1/1", reason: "The driver declined VIRTIO_F_VERSION_1" };
  }
  return { ok: true, features: accepted };
}

export function readDeviceFeatures(window: RegisterWindow): bigint {
  let result = 0n;
  for (const word of [0, 1]) {
    window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, word);
    result |= BigInt(window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0) << BigInt(32 * word);
  }
  return result;
}

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  for (const word of [0, 1]) {
    window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, word);
    window.write32(
      VIRTIO_MMIO_DRIVER_FEATURES,
      Number(BigInt.asUintN(32, features >> BigInt(32 * word))),
    );
  }
}

function setStatusBit(window: RegisterWindow, bit: number): void {
  window.write32(VIRTIO_MMIO_STATUS, (window.read32(VIRTIO_MMIO_STATUS) | bit) & 0xff);
}

export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  const giveUp = (why: string, accepted: bigint): never => {
    setStatusBit(window, VIRTIO_CONFIG_S_FAILED);
    throw new FeatureNegotiationError(why, offered, accepted);
  };
  if (!hasFeature(offered, VIRTIO_F_VERSION_1)) giveUp("no VIRTIO_F_VERSION_1: legacy only", 0n);
  const accepted = (offered & supported) | featureMask(VIRTIO_F_VERSION_1);
  writeDriverFeatures(window, accepted);
  setStatusBit(window, VIRTIO_CONFIG_S_FEATURES_OK);
  const status = window.read32(VIRTIO_MMIO_STATUS);
  if ((status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) giveUp("FEATURES_OK did not stick", accepted);
  return accepted;
}
