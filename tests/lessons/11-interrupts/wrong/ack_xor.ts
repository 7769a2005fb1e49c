// Mistake: InterruptACK toggles the bits it names: acknowledging an event
// that is not pending (a second handler, a stale value) sets its bit again.
// Source: none (^ where & ~ was meant).
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
  return { ...correct(interruptStatus, value), interruptStatus: (interruptStatus ^ value) & 3 };
}
