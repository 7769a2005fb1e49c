// Mistake: FEATURES_OK written alone (0x08), which clears ACKNOWLEDGE and
// DRIVER: the device logs the clearing write, and on a strict log the
// negotiation stops there.
// Source: none; the bare-bit slip of lesson 2, at step 5.
// Must fail: "negotiateFeatures accepts what both sides support, plus VIRTIO_F_VERSION_1" [2.1.1/2]

import { failDevice, FeatureNegotiationError } from "../../../../transport/mmio_driver.ts";
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
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  window.write32(0x070, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
