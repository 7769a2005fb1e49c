// Mistake: placeAvailEntry computes the slot's address as 2 + 2 * slot,
// counting the idx field but forgetting flags before it: slot 0 lands on idx
// itself, and every head one entry early.
// Source: none; the layout is flags at 0, idx at 2, ring[] from 4.
// Must fail: "placeAvailEntry writes the head into slot (idx + added) mod Queue Size" [2.7.13.2/D1]

import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
export { availableCount, availHead, publishAvail } from "../correct/linux_style.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = (ring.availIdx + ring.added) & ring.mask;
  ring.memory.writeU16(ring.availAddr + 2 + 2 * slot, head);
  ring.pending[ring.added++] = head;
}
