// Mistake: DEVICE_NEEDS_RESET is kept, but a driver write that leaves it out
// is reported as clearing a bit, although the bit is the device's and the
// driver's copy of it means nothing.
// Source: none; the cleared-bits mask forgets the device's bit.
// Must fail: "DEVICE_NEEDS_RESET belongs to the device" [2.1.2/3]

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
  if (
    t.reset || !(current & 0x40) || (written & 0x40) || t.violations.some((v) => v.id === "2.1.1/2")
  ) {
    return t;
  }
  return {
    ...t,
    violations: [...t.violations, { id: "2.1.1/2", message: "DEVICE_NEEDS_RESET cleared" }],
  };
}
