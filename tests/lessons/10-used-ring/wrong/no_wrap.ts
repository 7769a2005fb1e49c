// Mistake: ring.usedIdx is incremented as a JavaScript number and never
// wrapped: memory gets the low 16 bits (writeU16 truncates), but the record
// runs on to 0x10000 and beyond.
// Source: none (JavaScript numbers do not overflow at 16 bits).
// Must fail: "the used idx moves on by one, free-running across the 16-bit wrap" [2.7.8/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.usedIdx += 1;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx & 0xffff);
}
