// Mistake: no check for VIRTIO_F_VERSION_1 in the offer: a legacy-only
// device is negotiated with as if it were modern (features written,
// FEATURES_OK set), though this driver has no legacy mode.
// Source: none; the lab's own devices are all modern.
// Must fail: "negotiateFeatures gives up on a legacy-only device" [6.1/2]

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
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
