// Mistake: a descriptor counts as available whenever VIRTQ_DESC_F_AVAIL matches the wrap counter, whatever VIRTQ_DESC_F_USED says.
// Source: none
// Must fail: "a descriptor is available when AVAIL is the wrap counter and USED its inverse" [2.8.15/2]

import { breakPackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";
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
  if (a === w) return true;
  if (a === w && u === w) {
    breakPackedDeviceRing(ring, "2.8.1/D1", `slot ${ring.nextAvail}: AVAIL and USED both ${w}`, {
      flags,
    });
  }
  return false;
}
