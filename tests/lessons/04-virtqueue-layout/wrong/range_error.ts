// Mistake: a bad Queue Size refused with a plain RangeError, where the
// contract names QueueSizeError (with the size), which callers test for.
// Source: none.
// Must fail: "a Queue Size is a power of two from 1 to 32768" [2.7/D1]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import { splitQueueLayout as full } from "../correct/formulas.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!Number.isInteger(Math.log2(size)) || size > 32768) {
    throw new RangeError(`Queue Size ${size} is not a power of two up to 32768`);
  }
  return full(size, eventIdx);
}
