// Mistake: the used ring aligned to a 4096-byte page, as the legacy layout
// placed it (Queue Align), where a modern queue asks for 4 bytes only.
// Source: none; the legacy layout of §2.7.2 carried over to virtio 1.0.
// Must fail: "each part's alignment: 16, 2 and 4 bytes" [2.7.1/1]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import { splitQueueLayout as full } from "../correct/formulas.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

const QUEUE_ALIGN = 4096;

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  return { ...full(size, eventIdx), usedRingAlign: QUEUE_ALIGN };
}
