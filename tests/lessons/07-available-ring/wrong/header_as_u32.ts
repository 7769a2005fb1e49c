// Mistake: publishAvail writes the ring's header, flags and idx, as one
// 32-bit store, "one store is atomic": flags goes back to 0, and a driver that
// had asked for no interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT) gets them again.
// Source: none.
// Must fail: "publishing leaves the available ring's flags alone" [2.7.7.1/1]

import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, placeAvailEntry } from "../correct/linux_style.ts";

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  for (let k = 0; k < n; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const idx = (ring.availIdx + n) & 0xffff;
  ring.memory.writeU32(ring.availAddr, idx * 0x10000);
  ring.availIdx = idx;
  ring.published += n;
  ring.added = 0;
  return n;
}
