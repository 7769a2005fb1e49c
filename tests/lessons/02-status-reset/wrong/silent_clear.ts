// Mistake: bits are kept (OR) when a write leaves them out, but the write is
// not reported: the device quietly repairs the driver's mistake.
// Source: none; "no harm done" is a tempting reason to stay silent.
// Must fail: "the driver can only add bits" [2.1.1/2]

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
  return { ...t, violations: t.violations.filter((v) => v.id !== "2.1.1/2") };
}
