// Mistake: the device check done on numbers, `Number(accepted) & ~Number(offered)`:
// JavaScript's bit operators work on 32 bits, so an unoffered bit at 32 or
// above is never seen.
// Source: none; the same trap as NetBSD's 32-bit driver, on the device side.
// Must fail: "a feature the device never offered is refused" [2.2.1/1]

import type { FeatureVerdict } from "../../../../transport/device_status.ts";

export {
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function checkDriverFeatures(offered: bigint, accepted: bigint): FeatureVerdict {
  const unoffered = Number(accepted) & ~Number(offered);
  if (unoffered !== 0) {
    return {
      ok: false,
      requirement: "2.2.1/1",
      reason: `Accepted bits 0x${unoffered.toString(16)}`,
    };
  }
  if ((offered & (1n << 32n)) && !(accepted & (1n << 32n))) {
    return { ok: false, requirement: "6.1/1", reason: "VIRTIO_F_VERSION_1 declined" };
  }
  return { ok: true, features: accepted };
}
