// Mistake: the device takes any subset of its offer, a driver that declines
// VIRTIO_F_VERSION_1 included, and carries on as if the driver were modern.
// Source: none; 6.2/2 only allows the device to refuse, and this lab's devices do.
// Must fail: "a driver that declines VIRTIO_F_VERSION_1 is refused" [6.1/1]

import type { FeatureVerdict } from "../../../../transport/device_status.ts";

export {
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function checkDriverFeatures(offered: bigint, accepted: bigint): FeatureVerdict {
  if (accepted & ~offered) {
    return {
      ok: false,
      requirement: "2.2.1/1",
      reason: "A feature was accepted that was not offered",
    };
  }
  return { ok: true, features: accepted };
}
