// Mistake: enableCallbacks looks at the used idx first and clears the flag
// afterwards: a chain the device returns between the two is not in what it
// read, and the device, which saw the flag still set, does not announce it.
// Source: none (the used-buffer twin of the kick race 2.7.13.4.1/1 guards against).
// Must fail: "no used buffer is stranded when notifications come back on" [2.7.14/D1]

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
  const idle = ring.memory.readU16(ring.usedAddr + 2) === ring.lastUsed;
  ring.callbacks = true;
  ring.memory.writeU16(ring.availAddr, 0);
  return idle;
}
