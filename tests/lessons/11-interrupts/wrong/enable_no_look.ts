// Mistake: enableCallbacks only clears the flag and answers "nothing
// waiting" without looking: entries the device returned while notifications
// were off wait for a notification it already decided not to send.
// Source: none (Linux's virtqueue_enable_cb returns !more_used for this reason).
// Must fail: "enableCallbacks says whether entries are waiting" [2.7.14/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  drainUsed,
  handleInterrupt,
  needsInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.callbacks = true;
  ring.memory.writeU16(ring.availAddr, 0);
  return true;
}
