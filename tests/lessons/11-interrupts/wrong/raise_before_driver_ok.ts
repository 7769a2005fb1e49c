// Mistake: events are raised whatever the status: a device that finishes
// work during initialization interrupts a driver that has not set DRIVER_OK
// and is not ready to handle it.
// Source: none (2.1.2/1; the lab's console has input waiting at boot).
// Must fail: "nothing is raised before DRIVER_OK" [2.1.2/1]

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
  _status: number,
): InterruptRaise {
  const bit = event & 3;
  return bit === 0
    ? { interruptStatus, sent: false }
    : { interruptStatus: interruptStatus | bit, sent: true };
}
