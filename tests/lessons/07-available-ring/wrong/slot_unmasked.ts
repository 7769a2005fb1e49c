// Mistake: the slot is the published idx's slot plus the heads added since,
// (availIdx & mask) + added, masked too early: a batch that runs past the
// last slot writes beyond ring[Queue Size - 1], over used_event and what
// follows.
// Source: none.
// Must fail: "placeAvailEntry writes the head into slot (idx + added) mod Queue Size" [2.7.13.2/D1]

import { availRingEntryOffset } from "../../../../virtqueue/layout.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, publishAvail } from "../correct/linux_style.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = (ring.availIdx & ring.mask) + ring.added;
  ring.memory.writeU16(ring.availAddr + availRingEntryOffset(slot), head);
  ring.pending[ring.added] = head;
  ring.added++;
}
