// Mistake: the modern activation rule copied over: the device goes live only
// when FEATURES_OK is written with DRIVER_OK, which a legacy driver never does.
// Source: none; the modern nextDeviceStatus's rule, applied where §3.1.2 drops the step.
// Must fail: "DRIVER_OK alone takes a legacy device live; 0 resets it" [4.2.4/D4]

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
  if ((added & 4) && !(status & 2)) violations.push({ id: "3.1.1/1", message: "DRIVER_OK early" });
  const activate = (added & 4) !== 0 && (value & 8) !== 0 && (status & 0x80) === 0;
  return { status, reset: false, negotiate: false, activate, violations };
}

export {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
