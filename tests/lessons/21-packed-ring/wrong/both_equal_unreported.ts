// Mistake: a descriptor with AVAIL = USED = the wrap counter is taken for "not yet" and ignored, like QEMU's is_desc_avail, instead of reported.
// Source: none
// Must fail: "AVAIL and USED both equal to the wrap counter break the ring" [2.8.1/D1]

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";

export {
  addPacked,
  getBufPacked,
  pushUsedPacked,
  walkPackedChain,
} from "../correct/straight_line.ts";

const AVAIL = 1 << 7;
const USED = 1 << 15;

function bit(flags: number, mask: number): number {
  return (flags & mask) !== 0 ? 1 : 0;
}

export function descAvailablePacked(ring: PackedDeviceRing): boolean {
  const flags = ring.memory.readU16(ring.descAddr + 16 * ring.nextAvail + 14);
  const a = bit(flags, AVAIL);
  const u = bit(flags, USED);
  const w = ring.availWrap;
  if (a === w && u !== w) return true;
  return false;
}
