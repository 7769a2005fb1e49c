// Mistake: each ring sized as its header and event field only, as if ring[]
// took no bytes: sizeof of a zero-length array is 0.
// Source: NetBSD PR kern/57304 (sys/dev/pci/virtio.c, "Fix sizing of virtqueue allocation").
// Must fail: "the available ring: flags, idx, ring[size], and used_event with event idx" [2.7/D2]

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

/** What sizeof(vq_avail->ring) and sizeof(vq_used->ring) gave: 0 for a `ring[0]` member. */
const SIZEOF_ZERO_LENGTH_ARRAY = 0;

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!(Number.isInteger(size) && size >= 1 && size <= 32768 && (size & (size - 1)) === 0)) {
    throw new QueueSizeError(size);
  }
  const header = 4;
  const event = eventIdx ? 2 : 0;
  return {
    size,
    eventIdx,
    descTableSize: 16 * size,
    descTableAlign: 16,
    availRingSize: header + SIZEOF_ZERO_LENGTH_ARRAY + event,
    availRingAlign: 2,
    usedRingSize: header + SIZEOF_ZERO_LENGTH_ARRAY + event,
    usedRingAlign: 4,
    usedEventOffset: eventIdx ? 4 + 2 * size : null,
    availEventOffset: eventIdx ? 4 + 8 * size : null,
  };
}
