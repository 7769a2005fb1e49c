// Mistake: publishAvail publishes the batch but never starts a new one
// (added stays), so the next batch is counted from the old one's end, and
// the heads already published are published again.
// Source: none.
// Must fail: "publishAvail hands the heads to the device and starts a new batch" [2.7.13.3/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, placeAvailEntry } from "../correct/linux_style.ts";

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  for (let k = 0; k < n; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const idx = (ring.availIdx + n) & 0xffff;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  ring.availIdx = idx;
  ring.published += n;
  return n;
}
