// Mistake: publishAvail moves idx but leaves the heads HEAD_ADDED in the
// record: when the device returns them, the driver does not recognise them
// as chains it published and breaks its own queue.
// Source: none; the record is what the driver checks every used id against (Linux BAD_RING "id %u is not a head!").
// Must fail: "publishAvail hands the heads to the device and starts a new batch" [2.7.13.3/D1]

import { VIRTQ_AVAIL_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export { availableCount, availHead, placeAvailEntry } from "../correct/linux_style.ts";

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  const idx = (ring.availIdx + n) & 0xffff;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  ring.availIdx = idx;
  ring.published += n;
  ring.added = 0;
  return n;
}
