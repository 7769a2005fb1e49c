// Mistake: the reap loop never turns notifications off ("they are only an
// optimisation"): correct as far as completions go, but the contract asks
// for them off while reaping, and every completion during the drain raises
// another interrupt.
// Source: none.
// Must fail: "notifications are off while onUsed runs, and on when drainUsed returns" [2.7.7.1/1]

import type { UsedBufferSource } from "../../../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export {
  acknowledgeInterrupt,
  disableCallbacks,
  enableCallbacks,
  handleInterrupt,
  needsInterrupt,
  raiseInterrupt,
} from "../correct/linux_style.ts";

export function drainUsed<T>(
  queue: UsedBufferSource<T>,
  onUsed: (used: UsedBuffer<T>) => void,
): void {
  do {
    for (let used = queue.getBuf(); used !== null; used = queue.getBuf()) onUsed(used);
  } while (!queue.enableCallbacks());
}
