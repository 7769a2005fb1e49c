// Mistake: the index is advanced first and the element written at the new
// index's slot: one slot too far, so the entry idx publishes is stale.
// Source: none (an off-by-one between "where the next entry goes" and "how many there are").
// Must fail: "pushUsed names the chain's head in the slot the used idx points at" [2.7.8/D1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx % ring.size);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
