// Mistake: FAILED written alone when the device refuses, clearing
// ACKNOWLEDGE and DRIVER on the way: the device logs the clearing write.
// Source: none; the lesson 2 slip, in lesson 3 code.
// Must fail: "a refused negotiation ends with FAILED" [2.1.1/2]

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
  const giveUp = (why: string, accepted: bigint): never => {
    window.write32(0x070, 0x80);
    throw new FeatureNegotiationError(why, offered, accepted);
  };
  if (!(offered & (1n << 32n))) giveUp("legacy-only device", 0n);
  const accepted = offered & (supported | (1n << 32n));
  writeDriverFeatures(window, accepted);
  addStatus(window, 0x08);
  if (!(window.read32(0x070) & 0x08)) giveUp("features refused", accepted);
  return accepted;
}
