// Mistake: the device reads the used idx back from guest memory to know
// where it is, instead of keeping its own count: a driver that scribbles
// over the used idx (a bug, or an attack) moves the device's used ring.
// Source: none (QEMU keeps its own used_idx shadow; the device owns that count).
// Must fail: "the used idx moves on by one, free-running across the 16-bit wrap" [2.7.8/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const idx = ring.memory.readU16(ring.usedAddr + 2);
  const elem = ring.usedAddr + 4 + 8 * (idx & ring.mask);
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.usedIdx = (idx + 1) & 0xffff;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
