// Mistake: any write over a status holding FAILED is reported as 2.1.1/3,
// even one that adds nothing (the driver writing the same status again).
// Source: none; "after FAILED, anything but a reset is wrong" overshoots the rule.
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
  if (t.reset || !(current & 0x80) || t.violations.some((v) => v.id === "2.1.1/3")) return t;
  return { ...t, violations: [...t.violations, { id: "2.1.1/3", message: "write after FAILED" }] };
}
