// Mistake: word 0 read without writing DeviceFeaturesSel first, trusting
// that the selector reads 0 after a reset.
// Source: none; the selector's reset value is not something the spec lets a driver rely on (4.2.2.2/7).
// Must fail: "readDeviceFeatures selects each word before reading it" [4.2.2.2/7]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  checkDriverFeatures,
  negotiateFeatures,
  writeDriverFeatures,
} from "../correct/bigint_masks.ts";

export function readDeviceFeatures(window: RegisterWindow): bigint {
  const low = BigInt(window.read32(0x010) >>> 0);
  window.write32(0x014, 1);
  const high = BigInt(window.read32(0x010) >>> 0);
  return (high << 32n) | low;
}
