// Mistake: a used element counted as 4 bytes (the id alone, like a 32-bit
// available entry), so the used ring is half what it must be and avail_event
// lands inside the elements.
// Source: none; struct virtq_used_elem is { le32 id; le32 len; }, easy to halve.
// Must fail: "the used ring: flags, idx, 8-byte elements, and avail_event with event idx" [2.7/D2]

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!(Number.isInteger(size) && size >= 1 && size <= 32768 && (size & (size - 1)) === 0)) {
    throw new QueueSizeError(size);
  }
  const usedElem = 4;
  return {
    size,
    eventIdx,
    descTableSize: 16 * size,
    descTableAlign: 16,
    availRingSize: 4 + 2 * size + (eventIdx ? 2 : 0),
    availRingAlign: 2,
    usedRingSize: 4 + usedElem * size + (eventIdx ? 2 : 0),
    usedRingAlign: 4,
    usedEventOffset: eventIdx ? 4 + 2 * size : null,
    availEventOffset: eventIdx ? 4 + usedElem * size : null,
  };
}
