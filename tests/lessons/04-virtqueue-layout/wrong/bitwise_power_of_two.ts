// Mistake: a Queue Size tested with `n > 0 && (n & (n - 1)) === 0` alone. On
// JavaScript numbers the bit operators work on 32-bit integers, so 1.5, 2^31
// and 2^32 pass, and with no upper bound so does 65536.
// Source: none; the C idiom, carried over to numbers that are not integers.
// Must fail: "a Queue Size is a power of two from 1 to 32768" [2.7/D1]

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!(size > 0 && (size & (size - 1)) === 0)) throw new QueueSizeError(size);
  const trailer = eventIdx ? 2 : 0;
  return {
    size,
    eventIdx,
    descTableSize: 16 * size,
    descTableAlign: 16,
    availRingSize: 4 + 2 * size + trailer,
    availRingAlign: 2,
    usedRingSize: 4 + 8 * size + trailer,
    usedRingAlign: 4,
    usedEventOffset: eventIdx ? 4 + 2 * size : null,
    availEventOffset: eventIdx ? 4 + 8 * size : null,
  };
}
