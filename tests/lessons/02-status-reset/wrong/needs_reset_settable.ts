// Mistake: every defined bit the driver writes is taken, DEVICE_NEEDS_RESET
// included, so a driver can claim the device needs a reset.
// Source: none; STATUS_DEFINED_MASK does include 0x40.
// Must fail: "DEVICE_NEEDS_RESET belongs to the device" [2.1.2/3]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";
import { STATUS_DEFINED_MASK } from "../../../../virtio/status.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  const value = written & 0xff;
  if (value === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const requested = value & STATUS_DEFINED_MASK;
  const violations: RuleBreak[] = [];
  const cleared = current & ~0x40 & ~requested;
  if (cleared) violations.push({ id: "2.1.1/2", message: `cleared 0x${cleared.toString(16)}` });
  const status = current | requested;
  const added = status & ~current;
  if ((current & 0x80) && (added & ~0x80)) {
    violations.push({ id: "2.1.1/3", message: "after FAILED" });
  }
  for (const [bit, before] of [[0x02, 0x01], [0x08, 0x02], [0x04, 0x08]]) {
    if ((added & bit) && !(status & before)) {
      violations.push({ id: "3.1.1/1", message: "out of order" });
    }
  }
  return {
    status,
    reset: false,
    negotiate: (added & 0x08) !== 0,
    activate: (added & 0x04) !== 0 && (status & 0x08) !== 0 && !(status & 0x80),
    violations,
  };
}
