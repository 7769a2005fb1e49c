// Mistake: a legacy-only device is given up on, but the error says the
// driver accepted what it would have chosen, though nothing was accepted.
// Source: none.
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
  if (!(offered & (1n << 32n))) {
    failDevice(window);
    throw new FeatureNegotiationError("legacy-only device", offered, accepted);
  }
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
