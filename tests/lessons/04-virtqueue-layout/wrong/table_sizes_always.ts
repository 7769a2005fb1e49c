// Mistake: the sizes copied from the spec's table, 6 + 2n and 6 + 8n, for
// both settings: without event idx the rings come out 2 bytes too long.
// Source: none; the table of §2.7 counts the event fields always.
// Must fail: "the available ring: flags, idx, ring[size], and used_event with event idx" [2.7/D2]

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!(Number.isInteger(size) && size >= 1 && size <= 32768 && (size & (size - 1)) === 0)) {
    throw new QueueSizeError(size);
  }
  return {
    size,
    eventIdx,
    descTableSize: 16 * size,
    descTableAlign: 16,
    availRingSize: 6 + 2 * size,
    availRingAlign: 2,
    usedRingSize: 6 + 8 * size,
    usedRingAlign: 4,
    usedEventOffset: eventIdx ? 4 + 2 * size : null,
    availEventOffset: eventIdx ? 4 + 8 * size : null,
  };
}
