// Mistake: the broken rules are reported by id only, with empty messages, so
// the conformance log says which rule but not what the driver wrote.
// Source: none; the id looks like enough.
// Must fail: "violations name the rules broken, each with a message" [2.1.1/1]

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
  return { ...t, violations: t.violations.map((v) => ({ id: v.id, message: "" })) };
}
