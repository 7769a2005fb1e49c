// Mistake: availHead never asks whether the device still holds the head: a
// driver that makes the same head available twice has two copies of one
// chain in flight, and the device returns it twice.
// Source: QEMU virtqueue_split_pop ("Virtqueue size exceeded", a head in flight twice); microsoft/openvmm PR #4002.
// Must fail: "a head the device still holds is refused" [2.7.6/D2]

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
    breakDeviceRing(ring, "2.7.5/D1", `slot ${slot} names descriptor ${head}`, { slot, head });
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
