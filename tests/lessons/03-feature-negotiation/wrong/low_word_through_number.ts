// Mistake: the low word taken as `Number(features) >>> 0`. A number holds 53
// bits exactly: with bit 63 set, the low bits are rounded away before the
// mask, and bit 0 is written as 0.
// Source: none; converting to a number first is what the 32-bit register API invites.
// Must fail: "writeDriverFeatures selects each word before writing it" [4.2.2.2/8]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  checkDriverFeatures,
  negotiateFeatures,
  readDeviceFeatures,
} from "../correct/bigint_masks.ts";

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(0x024, 0);
  window.write32(0x020, Number(features) >>> 0);
  window.write32(0x024, 1);
  window.write32(0x020, Number(features >> 32n) >>> 0);
}
