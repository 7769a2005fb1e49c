// Mistake: the used idx is kept modulo the Queue Size, as xv6 kept its own
// used_idx: at the end of each lap idx goes back to 0, which a driver can
// only read as the device taking entries back.
// Source: xv6-riscv before aeaf610 (2020-10-04) kept used_idx modulo NUM.
// Must fail: "the used idx moves on by one, free-running across the 16-bit wrap" [2.7.8/D2]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";

export { getBuf, moreUsed } from "../correct/straight_line.ts";

export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const elem = ring.usedAddr + 4 + 8 * ring.usedIdx;
  ring.memory.writeU32(elem, head);
  ring.memory.writeU32(elem + 4, len);
  ring.usedIdx = (ring.usedIdx + 1) % ring.size;
  ring.memory.writeU16(ring.usedAddr + 2, ring.usedIdx);
}
