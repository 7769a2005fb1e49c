// Mistake: any non-zero flags value is read as "no interrupts, please", and
// nothing is reported: a driver that set an undefined bit by mistake never
// hears from the device again, and nobody says why.
// Source: none (2.7.7.1/1 allows only 0 and 1; the device honours bit 0).
// Must fail: "avail flags other than 0 and 1 are reported, and bit 0 still decides" [2.7.7.1/1]

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
  ring.signalledUsed = ring.usedIdx;
  return ring.memory.readU16(ring.availAddr) === 0;
}
