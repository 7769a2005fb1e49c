// Mistake: the prerequisite of a newly set bit is looked for in the value
// written instead of in the new status. Over ACKNOWLEDGE, a write of DRIVER
// alone (which breaks 2.1.1/2, and leaves ACKNOWLEDGE set) is then also
// reported as DRIVER before ACKNOWLEDGE, which it is not.
// Source: none; `written` and `status` are easy to mix up in one expression.
// Must fail: "status bits arrive in the order of §3.1.1" [3.1.1/1]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";

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
  const requested = value & 0xcf & ~0x40;
  const violations: RuleBreak[] = [];
  if (current & ~0x40 & ~requested) violations.push({ id: "2.1.1/2", message: "bits cleared" });
  const status = current | requested;
  const added = status & ~current;
  if ((current & 0x80) && (added & ~0x80)) {
    violations.push({ id: "2.1.1/3", message: "after FAILED" });
  }
  for (const [bit, before] of [[0x02, 0x01], [0x08, 0x02], [0x04, 0x08]]) {
    if ((added & bit) && !(value & before)) {
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
