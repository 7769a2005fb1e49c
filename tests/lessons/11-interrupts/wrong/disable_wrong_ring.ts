// Mistake: "no interrupts" is written into the used ring's flags, next to
// VIRTQ_USED_F_NO_NOTIFY, instead of the available ring's: the device never
// sees it (and the used ring is the device's to write).
// Source: none (the two rings' flags fields mirror each other, in opposite directions).
// Must fail: "disableCallbacks sets VIRTQ_AVAIL_F_NO_INTERRUPT, and nothing else" [2.7.7.1/1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export {
  acknowledgeInterrupt,
  drainUsed,
  enableCallbacks,
  handleInterrupt,
  needsInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.callbacks = false;
  ring.memory.writeU16(ring.usedAddr, 1);
}
