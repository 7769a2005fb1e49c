// Correct: the variations the contract allows. The device checks
// VIRTIO_F_VERSION_1 before unoffered bits (a choice breaking both cites
// 6.1/1); the driver reads and writes word 1 before word 0, reads Status
// back twice, and builds the words with BigInt.asUintN.

import type { FeatureVerdict } from "../../../../transport/device_status.ts";
import {
  addStatus,
  failDevice,
  FeatureNegotiationError,
} from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const V1 = 1n << 32n;

export function checkDriverFeatures(offered: bigint, accepted: bigint): FeatureVerdict {
  if ((offered & V1) !== 0n && (accepted & V1) === 0n) {
    return { ok: false, requirement: "6.1/1", reason: "A modern device needs VIRTIO_F_VERSION_1" };
  }
  if ((accepted | offered) !== offered) {
    return { ok: false, requirement: "2.2.1/1", reason: "The choice goes beyond the offer" };
  }
  return { ok: true, features: accepted };
}

export function readDeviceFeatures(window: RegisterWindow): bigint {
  window.write32(0x014, 1);
  const high = BigInt.asUintN(32, BigInt(window.read32(0x010)));
  window.write32(0x014, 0);
  const low = BigInt.asUintN(32, BigInt(window.read32(0x010)));
  return (high << 32n) + low;
}

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  for (const word of [1, 0]) {
    window.write32(0x024, word);
    window.write32(0x020, Number(BigInt.asUintN(32, features >> (32n * BigInt(word)))));
  }
}

export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  if ((offered & V1) === 0n) {
    failDevice(window);
    throw new FeatureNegotiationError("The device is legacy only", offered, 0n);
  }
  const accepted = offered & supported | V1;
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  const stuck = (window.read32(0x070) & 0x08) !== 0 && (window.read32(0x070) & 0x08) !== 0;
  if (!stuck) {
    failDevice(window);
    throw new FeatureNegotiationError("FEATURES_OK was refused", offered, accepted);
  }
  return accepted;
}
