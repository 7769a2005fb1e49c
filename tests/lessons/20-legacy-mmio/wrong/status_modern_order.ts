// Mistake: the order rule kept from the modern byte: DRIVER_OK is checked
// against FEATURES_OK, never against DRIVER, so DRIVER_OK straight after
// ACKNOWLEDGE is taken silently.
// Source: none.
// Must fail: "after FAILED, nothing but FAILED; DRIVER after ACKNOWLEDGE, DRIVER_OK after DRIVER" [3.1.1/1]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";

export function nextLegacyDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const violations: RuleBreak[] = [];
  if (value & 8) violations.push({ id: "4.2.4/D4", message: "no FEATURES_OK here" });
  const status = (current & 0xc7) | (value & 0x87);
  const added = status & ~current;
  if (current & 0x87 & ~value) violations.push({ id: "2.1.1/2", message: "cleared a bit" });
  if ((current & 0x80) && (added & ~0x80)) {
    violations.push({ id: "2.1.1/3", message: "after FAILED" });
  }
  if ((added & 2) && !(status & 1)) violations.push({ id: "3.1.1/1", message: "DRIVER early" });
  // DRIVER_OK after FEATURES_OK is the modern rule, and there is no FEATURES_OK here.
  const activate = (added & 4) !== 0 && (status & 0x80) === 0;
  return { status, reset: false, negotiate: false, activate, violations };
}

export {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
