// Mistake: negotiate is raised whenever the written value has FEATURES_OK,
// so the device checks the features again on every later write (DRIVER_OK
// included), not only when FEATURES_OK is newly set.
// Source: none; "the write has FEATURES_OK" reads like "the driver sets FEATURES_OK".
// Must fail: "FEATURES_OK asks the device to check the features" [2.2.2/2]

import type { StatusTransition } from "../../../../transport/device_status.ts";
import { nextDeviceStatus as correct } from "../correct/bit_arithmetic.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const t = correct(current, written);
  return t.reset ? t : { ...t, negotiate: (written & 0x08) !== 0 };
}
