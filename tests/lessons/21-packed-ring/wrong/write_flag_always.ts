// Mistake: VIRTQ_DESC_F_WRITE is set in every used descriptor, also when nothing was written.
// Source: none
// Must fail: "VIRTQ_DESC_F_WRITE is set exactly when bytes were written" [2.8.3/D1]

import type { PackedDeviceRing } from "../../../../virtqueue/packed/device_ring.ts";

export {
  addPacked,
  descAvailablePacked,
  getBufPacked,
  walkPackedChain,
} from "../correct/straight_line.ts";

const AVAIL = 1 << 7;
const USED = 1 << 15;
const WRITE = 2;

export function pushUsedPacked(ring: PackedDeviceRing, id: number, len: number): void {
  const d = ring.descAddr + 16 * ring.nextUsed;
  ring.memory.writeU32(d + 8, len);
  ring.memory.writeU16(d + 12, id);
  let flags = ring.usedWrap === 1 ? AVAIL | USED : 0;
  flags |= WRITE;
  ring.memory.writeU16(d + 14, flags);
  const slots = ring.chains.get(id)!.slots;
  ring.nextUsed += slots;
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  ring.usedSinceSignal += slots;
}
