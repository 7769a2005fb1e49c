// Mistake: the whole used ring header is rewritten on each push, flags
// included ("idx and flags together"): the device's own notification
// suppression is clobbered and a store lands outside the element and idx.
// Source: none.
// Must fail: "pushUsed stores the used element, then the used idx, and nothing else" [2.7.8.2/1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * (ring.usedIdx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  ring.memory.writeU32(ring.usedAddr, ring.usedIdx << 16); // flags 0, idx
}
