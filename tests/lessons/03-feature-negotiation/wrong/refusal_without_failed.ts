// Mistake: a refused negotiation throws, but FAILED is never set: the device
// is left at ACKNOWLEDGE|DRIVER as if the driver might still go on.
// Source: none; throwing feels like enough of a "giving up".
// Must fail: "a refused negotiation ends with FAILED" [2.2.1/2]

import { addStatus, FeatureNegotiationError } from "../../../../transport/mmio_driver.ts";
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
    throw new FeatureNegotiationError("legacy-only device", offered, 0n);
  }
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) {
    throw new FeatureNegotiationError("features refused", offered, accepted);
  }
  return accepted;
}
