// Mistake: a new event writes its bit into InterruptStatus instead of adding
// it: a configuration change pending when a used buffer comes along is lost
// before the driver ever reads it.
// Source: none (= where |= was meant).
// Must fail: "an event sets its bit and keeps the bits still pending" [4.2.2.1/3]

import type { InterruptRaise } from "../../../../transport/interrupt_status.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  drainUsed,
  enableCallbacks,
  handleInterrupt,
  needsInterrupt,
} from "../correct/linux_style.ts";

export function raiseInterrupt(
  interruptStatus: number,
  event: number,
  status: number,
): InterruptRaise {
  const bit = event & 3;
  if (bit === 0 || !(status & 0x04)) return { interruptStatus, sent: false };
  return { interruptStatus: bit, sent: true };
}
