// Mistake: the reset recognised only when the whole written value is 0,
// though Status is an 8-bit field and only the low 8 bits of a write count:
// a write of 0x100 is a write of 0, and here it is taken for a write that
// clears every bit.
// Source: none; comparing the raw argument is the natural first try.
// Must fail: "writing 0 resets the device" [2.4.1/1]

import type { RuleBreak, StatusTransition } from "../../../../transport/device_status.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

export function nextDeviceStatus(current: number, written: number): StatusTransition {
  if (written === 0) {
    return { status: 0, reset: true, negotiate: false, activate: false, violations: [] };
  }
  const value = written & 0xff;
  const requested = value & 0xcf & ~0x40;
  const violations: RuleBreak[] = [];
  if (current & ~0x40 & ~requested) violations.push({ id: "2.1.1/2", message: "bits cleared" });
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
