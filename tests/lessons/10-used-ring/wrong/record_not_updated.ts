// Mistake: the used idx is stored in memory, but ring.usedIdx is never
// moved: the next push overwrites the same slot and stores the same idx.
// Source: none.
// Must fail: "the used idx moves on by one, free-running across the 16-bit wrap" [2.7.8/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.memory.writeU16(ring.usedAddr + 2, (ring.usedIdx + 1) & 0xffff);
}
