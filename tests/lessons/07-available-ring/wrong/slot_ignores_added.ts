// Mistake: placeAvailEntry puts every head in ring[availIdx mod Queue Size],
// forgetting the heads already placed since the last publish: a batch of
// several chains leaves only the last head, and the device takes stale ones.
// Source: none; §2.7.13.2 shows the counter ("idx + added++") for exactly this.
// Must fail: "placeAvailEntry writes the head into slot (idx + added) mod Queue Size" [2.7.13.2/D1]

import { availRingEntryOffset } from "../../../../virtqueue/layout.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, publishAvail } from "../correct/linux_style.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = ring.availIdx & ring.mask;
  ring.memory.writeU16(ring.availAddr + availRingEntryOffset(slot), head);
  ring.pending[ring.added] = head;
  ring.added++;
}
