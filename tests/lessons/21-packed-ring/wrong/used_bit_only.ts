// Mistake: a used descriptor gets VIRTQ_DESC_F_USED = the wrap counter and VIRTQ_DESC_F_AVAIL its inverse, mirroring the driver's marking.
// Source: none
// Must fail: "the used descriptor carries the Buffer ID, len, and AVAIL = USED = usedWrap" [2.8.12/2]

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
  let flags = ring.usedWrap === 1 ? USED : AVAIL;
  if (len > 0) flags |= WRITE;
  ring.memory.writeU16(d + 14, flags);
  const slots = ring.chains.get(id)!.slots;
  ring.nextUsed += slots;
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  ring.usedSinceSignal += slots;
}
