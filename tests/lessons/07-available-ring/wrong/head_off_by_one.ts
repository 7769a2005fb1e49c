// Mistake: availHead refuses heads above Queue Size instead of from Queue
// Size on (">" for ">="): a head equal to Queue Size, one past the last
// descriptor, gets through.
// Source: none; QEMU virtqueue_get_head refuses head >= vring.num.
// Must fail: "a head beyond the table is refused" [2.7.5/D1]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken) return -1;
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr));
  const head = ring.memory.readU16(ring.availAddr + 4 + 2 * (ring.lastAvail & ring.mask));
  if (head > ring.size || ring.inUse[head]) {
    breakDeviceRing(ring, head > ring.size ? "2.7.5/D1" : "2.7.6/D2", "x", {});
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
