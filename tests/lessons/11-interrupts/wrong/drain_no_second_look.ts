// Mistake: the reap loop turns notifications off, reaps, and turns them back
// on, ignoring what enableCallbacks answers: a chain returned between the
// last getBuf and the enable waits forever.
// Source: §2.7.14 warns of exactly this gap ("beware the problem of missing notifications").
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
  queue.disableCallbacks();
  for (let used = queue.getBuf(); used !== null; used = queue.getBuf()) onUsed(used);
  queue.enableCallbacks();
}
