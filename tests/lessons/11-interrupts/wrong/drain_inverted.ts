// Mistake: the loop's condition is inverted: it goes round again while
// enableCallbacks says nothing is waiting, which on an idle queue is
// forever.
// Source: none (the do/while of virtblk_done with its ! dropped).
// Must fail: "no used buffer is stranded by the reap loop" [2.7.14/D1]

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
    queue.disableCallbacks();
    for (let used = queue.getBuf(); used !== null; used = queue.getBuf()) onUsed(used);
  } while (queue.enableCallbacks());
}
