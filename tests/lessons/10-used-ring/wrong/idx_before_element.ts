// Mistake: the used idx is stored first and the element after it, "since
// nothing runs in between anyway": a driver reading between the two stores
// reaps an element that still holds the previous lap's id and len.
// Source: none; it is the order smp_wmb() in QEMU's virtqueue_split_flush protects.
// Must fail: "a used element is complete in memory before the used idx moves" [2.7.8.2/1]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const slot = ring.usedIdx % ring.size;
  ring.usedIdx = (ring.usedIdx + 1) & 0xffff;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
  ring.memory.writeU32(ring.usedAddr + 4 + 8 * slot, head);
  ring.memory.writeU32(ring.usedAddr + 8 + 8 * slot, len);
}
