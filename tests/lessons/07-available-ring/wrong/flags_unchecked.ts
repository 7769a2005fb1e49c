// Mistake: availHead never looks at the available ring's flags: a driver
// that sets bits the rules do not allow goes unreported.
// Source: none.
// Must fail: "available ring flags the rules do not allow are logged, once each" [2.7.7.1/1]

import { availRingEntryOffset } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  const slot = ring.lastAvail & ring.mask;
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  if (head >= ring.size || ring.inUse[head] !== 0) {
    const id = head >= ring.size ? "2.7.5/D1" : "2.7.6/D2";
    breakDeviceRing(ring, id, `slot ${slot} holds head ${head}`, { slot, head });
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
