// Mistake: unoffered bits are quietly dropped instead of refused: the device
// accepts "what it can" and leaves FEATURES_OK set, so the driver believes
// features are on that the device will never honour.
// Source: none; being lenient looks friendly.
// Must fail: "a feature the device never offered is refused" [2.2.1/1]

import type { FeatureVerdict } from "../../../../transport/device_status.ts";

export {
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function checkDriverFeatures(offered: bigint, accepted: bigint): FeatureVerdict {
  const usable = accepted & offered;
  if ((offered & (1n << 32n)) && !(usable & (1n << 32n))) {
    return { ok: false, requirement: "6.1/1", reason: "VIRTIO_F_VERSION_1 declined" };
  }
  return { ok: true, features: usable };
}
