// Mistake: lastAvail is advanced as a plain number: after 0xffff it becomes
// 0x10000 and keeps growing, so every comparison with the 16-bit idx the
// driver writes is off from the wrap on.
// Source: arcboxlabs/arcbox PR #210 review (an available index kept in a usize "never wraps at 65536").
// Must fail: "availHead takes ring[lastAvail mod Queue Size] and moves lastAvail on" [2.7.13.2/D1]

import { availRingEntryOffset, VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";

export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET));
  const slot = ring.lastAvail & ring.mask;
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  if (head >= ring.size) {
    breakDeviceRing(ring, "2.7.5/D1", `slot ${slot} names descriptor ${head}`, { head });
    return -1;
  }
  if (ring.inUse[head]) {
    breakDeviceRing(ring, "2.7.6/D2", `head ${head} is in flight`, { head });
    return -1;
  }
  ring.lastAvail += 1;
  return head;
}
