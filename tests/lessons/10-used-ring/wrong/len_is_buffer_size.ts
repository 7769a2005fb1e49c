// Mistake: len is the chain's writable size ("the buffer it filled"), not
// the bytes the device model says it wrote: the driver then trusts bytes
// nobody wrote.
// Source: Linux 49d8c5ffad07 "vhost/vsock: fix incorrect used length reported to the guest" (2021).
// Must fail: "the used element's len is the bytes the device wrote, as given" [2.7.8.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, _len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, ring.writable[head]);
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
