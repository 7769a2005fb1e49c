// Mistake: availHead returns whatever the slot holds: a head of Queue Size
// or more sends the chain walk to a descriptor beyond the table, into
// memory that is not the driver's descriptors.
// Source: QEMU virtqueue_get_head ("Guest says index %u is available"); microsoft/openvmm PR #3136.
// Must fail: "a head beyond the table is refused" [2.7.5/D1]

import { availRingEntryOffset, VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";

export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET));
  const slot = ring.lastAvail & ring.mask;
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  if (ring.inUse[head]) {
    breakDeviceRing(ring, "2.7.6/D2", `head ${head} is still the device's`, { slot, head });
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
