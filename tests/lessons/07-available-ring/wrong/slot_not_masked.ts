// Mistake: availHead reads ring[lastAvail] with the free-running index as
// the slot: from lastAvail = Queue Size on, it reads past the ring, used_event
// first, then the memory after it.
// Source: none; §2.7.6 says where the next entry is: idx "modulo the queue size".
// Must fail: "availHead takes ring[lastAvail mod Queue Size] and moves lastAvail on" [2.7.13.2/D1]

import { availRingEntryOffset, VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";

export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET));
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(ring.lastAvail));
  if (head >= ring.size || ring.inUse[head]) {
    const id = head >= ring.size ? "2.7.5/D1" : "2.7.6/D2";
    breakDeviceRing(ring, id, `entry ${ring.lastAvail} names ${head}`, { head });
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
