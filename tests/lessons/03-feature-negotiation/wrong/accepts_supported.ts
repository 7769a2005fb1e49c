// Mistake: the driver accepts everything it supports, offered or not; the
// device refuses any unoffered bit (2.2.1/1) and the device never comes up.
// Source: none; "offered & supported" loses its first half easily.
// Must fail: "negotiateFeatures never accepts a feature that was not offered" [2.2.1/1]

import {
  addStatus,
  failDevice,
  FeatureNegotiationError,
} from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { readDeviceFeatures, writeDriverFeatures } from "../correct/bigint_masks.ts";

export {
  checkDriverFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  if (!(offered & (1n << 32n))) {
    failDevice(window);
    throw new FeatureNegotiationError("legacy-only device", offered, 0n);
  }
  const accepted = supported | (1n << 32n);
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
