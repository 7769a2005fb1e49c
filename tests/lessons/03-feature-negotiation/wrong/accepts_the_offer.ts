// Mistake: a valid choice answered with the device's whole offer instead of
// the driver's choice, so features the driver never accepted are in force.
// Source: none; `features: offered` is a one-word slip.
// Must fail: "a valid choice is accepted exactly as the driver made it" [2.2.2/2]

import type { FeatureVerdict } from "../../../../transport/device_status.ts";

export {
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function checkDriverFeatures(offered: bigint, accepted: bigint): FeatureVerdict {
  if (accepted & ~offered) return { ok: false, requirement: "2.2.1/1", reason: "Unoffered bits" };
  if ((offered & (1n << 32n)) && !(accepted & (1n << 32n))) {
    return { ok: false, requirement: "6.1/1", reason: "VIRTIO_F_VERSION_1 declined" };
  }
  return { ok: true, features: offered };
}
