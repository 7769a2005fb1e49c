// Mistake: len is stored as 16 bits, like the other small fields of the
// ring: a 64 KiB + 1 request reports 1 byte written.
// Source: none.
// Must fail: "the used element's len is the bytes the device wrote, as given" [2.7.8.2/2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU16(elem + 4, len);
  ring.memory.writeU16(elem + 6, 0);
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
