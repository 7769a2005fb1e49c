// Mistake: DriverFeaturesSel written once, before both words, as if
// DriverFeatures were a FIFO that moved on to the next word by itself.
// Source: none.
// Must fail: "writeDriverFeatures selects each word before writing it" [4.2.2.2/8]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  checkDriverFeatures,
  negotiateFeatures,
  readDeviceFeatures,
} from "../correct/bigint_masks.ts";

export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(0x024, 0);
  window.write32(0x020, Number(features & 0xffff_ffffn));
  window.write32(0x020, Number(features >> 32n));
}
