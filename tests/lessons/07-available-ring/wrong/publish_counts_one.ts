// Mistake: publishAvail moves idx by one, "one publish, one chain": a batch
// of several chains shows the device only the first.
// Source: none.
// Must fail: "publishAvail moves idx by the number placed, modulo 2^16" [2.7.13.3/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, placeAvailEntry } from "../correct/linux_style.ts";

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  for (let k = 0; k < n; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const idx = (ring.availIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  ring.availIdx = idx;
  ring.published += n;
  ring.added = 0;
  return n;
}
