// Mistake: FEATURES_OK set and taken for granted: Status is never read back,
// so a device that refused the features is driven anyway.
// Source: none; step 6 of §3.1.1 is the one that looks redundant.
// Must fail: "negotiateFeatures re-reads Status: FEATURES_OK must stick" [3.1.1/1]

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
  return accepted;
}
