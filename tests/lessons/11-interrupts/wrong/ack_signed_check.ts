// Mistake: undefined bits are detected with a signed comparison,
// (value & ~3) > 0: a value with bit 31 set is negative in JavaScript's
// 32-bit operators, and gets through unreported.
// Source: the class of QEMU CVE-2011-2512 (a signed compare on a register value).
// Must fail: "undefined bits in InterruptACK are reported and change nothing" [4.2.2.2/13]

import type { InterruptAcknowledgement } from "../../../../transport/interrupt_status.ts";

export {
  disableCallbacks,
  drainUsed,
  enableCallbacks,
  handleInterrupt,
  needsInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function acknowledgeInterrupt(
  interruptStatus: number,
  value: number,
): InterruptAcknowledgement {
  const stray = value & ~3;
  return {
    interruptStatus: interruptStatus & ~value & 3,
    problem: stray > 0
      ? { id: "4.2.2.2/13", message: `undefined bits ${stray} acknowledged`, values: { value } }
      : null,
  };
}
