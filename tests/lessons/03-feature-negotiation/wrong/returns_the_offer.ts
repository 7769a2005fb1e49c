// Mistake: the negotiation returns what the device offered instead of what
// the driver accepted, so the driver goes on to use features it declined.
// Source: none.
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
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return offered;
}
