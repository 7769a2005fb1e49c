// Mistake: placeAvailEntry publishes each head at once, and in the wrong
// order: it moves idx, then writes the slot. Between the two stores a device
// on another CPU sees idx cover a slot that still holds the previous lap's
// head.
// Source: none; the barrier of 2.7.13.3.1/1 exists for this order (Linux virtio_wmb before avail->idx).
// Must fail: "a chain is complete in memory before idx publishes it" [2.7.13.3.1/1]

import { availRingEntryOffset, VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead } from "../correct/linux_style.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = ring.availIdx & ring.mask;
  ring.availIdx = (ring.availIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, ring.availIdx);
  ring.memory.writeU16(ring.availAddr + availRingEntryOffset(slot), head);
  ring.state[head] = HEAD_PUBLISHED;
  ring.published++;
  ring.pending[ring.added++] = head;
}

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  ring.added = 0;
  return n;
}
