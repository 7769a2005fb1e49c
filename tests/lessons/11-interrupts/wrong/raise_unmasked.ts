// Mistake: the event is ORed in as given, unmasked: any stray bit of the
// event value shows up in InterruptStatus as an event that never happened.
// Source: none (4.2.2.1/4).
// Must fail: "no bit is ever set that no event defines" [4.2.2.1/4]

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
  if ((event & 3) === 0 || !(status & 0x04)) return { interruptStatus, sent: false };
  return { interruptStatus: (interruptStatus | event) >>> 0, sent: true };
}
