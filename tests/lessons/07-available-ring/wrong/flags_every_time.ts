// Mistake: availHead reports bad flags itself on every call: a driver that
// leaves one bad value there floods the log with the same line, once per
// chain taken.
// Source: none.
// Must fail: "available ring flags the rules do not allow are logged, once each" [2.7.7.1/1]

import { availRingEntryOffset, VIRTQ_AVAIL_FLAGS_OFFSET } from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { availableCount, placeAvailEntry, publishAvail } from "../correct/linux_style.ts";

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  const flags = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  if ((flags & ~1) !== 0) {
    ring.reporter.report("2.7.7.1/1", `Available ring flags are ${flags}`, { flags }, "logged");
  }
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
