// Mistake: availHead never looks at whether the ring is already broken, and
// goes on taking heads from a driver that broke a rule: the device serves a
// queue it has told the driver to reset.
// Source: none.
// Must fail: "availHead takes ring[lastAvail mod Queue Size] and moves lastAvail on" [2.7.13.2/D1]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr));
  const head = ring.memory.readU16(ring.availAddr + 4 + 2 * (ring.lastAvail & ring.mask));
  if (head >= ring.size || ring.inUse[head]) {
    breakDeviceRing(ring, head >= ring.size ? "2.7.5/D1" : "2.7.6/D2", "x", {});
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
