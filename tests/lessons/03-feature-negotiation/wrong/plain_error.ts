// Mistake: a refused negotiation ends in a plain Error, not the
// FeatureNegotiationError the contract names (with the offered and accepted
// features), so the driver core cannot say what was refused.
// Source: none.
// Must fail: "negotiateFeatures re-reads Status: FEATURES_OK must stick" [3.1.1/1]

import { addStatus, failDevice } from "../../../../transport/mmio_driver.ts";
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
    throw new Error("legacy-only device");
  }
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    failDevice(window);
    throw new Error(`the device refused 0x${accepted.toString(16)}`);
  }
  return accepted;
}
