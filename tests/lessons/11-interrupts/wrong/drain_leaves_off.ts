// Mistake: the loop goes round while entries keep arriving, and on the way
// out disables notifications again ("for the next round") after the enable
// that said the ring was empty: the queue is left deaf.
// Source: none (a do/while turned into a while with the disable at the bottom).
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
  queue.disableCallbacks();
  let again = true;
  while (again) {
    for (let used = queue.getBuf(); used !== null; used = queue.getBuf()) onUsed(used);
    again = !queue.enableCallbacks();
    queue.disableCallbacks();
  }
}
