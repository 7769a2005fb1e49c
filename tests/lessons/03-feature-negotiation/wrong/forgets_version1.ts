// Mistake: the driver accepts only the offered features it supports, and
// its supported set does not list VIRTIO_F_VERSION_1 (a transport bit, not a
// feature of the device type): the device refuses the choice (6.1/1).
// Source: none; the bit is easy to forget because no driver "uses" it.
// Must fail: "negotiateFeatures accepts what both sides support, plus VIRTIO_F_VERSION_1" [6.1/1]

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
  const accepted = offered & supported;
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
