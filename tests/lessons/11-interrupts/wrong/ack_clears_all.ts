// Mistake: any write to InterruptACK clears the whole InterruptStatus: a
// driver that acknowledges the used buffer bit loses the configuration
// change still pending.
// Source: none (an "interrupt acknowledged" flag instead of bits).
// Must fail: "InterruptACK clears exactly the bits it names" [4.2.2.1/3]

import type { InterruptAcknowledgement } from "../../../../transport/interrupt_status.ts";
import { acknowledgeInterrupt as correct } from "../correct/linux_style.ts";

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
  return { ...correct(interruptStatus, value), interruptStatus: value & 3 ? 0 : interruptStatus };
}
