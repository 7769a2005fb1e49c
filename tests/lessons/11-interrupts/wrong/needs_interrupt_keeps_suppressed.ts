// Mistake: entries pushed while the driver asked for no notifications are
// kept "for later": signalledUsed only moves when an interrupt is sent, so
// the next push notifies for entries the driver already reaped.
// Source: none.
// Must fail: "every decision consumes what was pushed; nothing new, or a broken ring, is not notified" [2.7.7.2/1]

import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  drainUsed,
  enableCallbacks,
  handleInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null || ring.usedIdx === ring.signalledUsed) return false;
  const flags = ring.memory.readU16(ring.availAddr);
  checkAvailFlags(ring, flags);
  if (flags & 1) return false;
  ring.signalledUsed = ring.usedIdx;
  return true;
}
