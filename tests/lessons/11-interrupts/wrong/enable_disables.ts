// Mistake: enableCallbacks was copied from disableCallbacks and the flag
// value never changed: it "enables" by setting VIRTQ_AVAIL_F_NO_INTERRUPT,
// and the driver never gets another used buffer notification.
// Source: rcore-os/virtio-drivers 191d9b8 (#131): VirtIONet::enable_interrupts called disable_interrupts.
// Must fail: "enableCallbacks clears the flag, and nothing else" [2.7.7.1/1]

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
  ring.memory.writeU16(ring.availAddr, 1);
  return ring.memory.readU16(ring.usedAddr + 2) === ring.lastUsed;
}
