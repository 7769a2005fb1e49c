// Mistake: the record's availIdx grows without wrapping; the 16-bit store
// to idx hides it in memory, but from the wrap on the record says 0x10000
// and more, and everything computed from it (kicks, displays) is off.
// Source: arcboxlabs/arcbox PR #210 review: a ring index kept in a usize never wrapped at 65536.
// Must fail: "publishAvail moves idx by the number placed, modulo 2^16" [2.7.13.3/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, placeAvailEntry } from "../correct/linux_style.ts";

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  for (let k = 0; k < n; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const idx = ring.availIdx + n;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  ring.availIdx = idx;
  ring.published += n;
  ring.added = 0;
  return n;
}
