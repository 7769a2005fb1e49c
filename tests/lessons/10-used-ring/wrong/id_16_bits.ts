// Mistake: the head is stored with writeU16 ("a descriptor index is 16
// bits"), but id is le32: the upper half keeps whatever the slot held a lap
// ago.
// Source: none (the field is le32 "for padding reasons", §2.7.8).
// Must fail: "pushUsed names the chain's head in the slot the used idx points at" [2.7.8/D1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU16(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
