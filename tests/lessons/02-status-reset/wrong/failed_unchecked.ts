// Mistake: FAILED is sticky like every bit, but nothing stops a driver from
// carrying on after it without a reset.
// Source: none; 2.1.1/3 is the rule most often forgotten, as the lesson says.
// Must fail: "FAILED stays until a reset, and nothing may follow it" [2.1.1/3]

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
  return { ...t, violations: t.violations.filter((v) => v.id !== "2.1.1/3") };
}
