// Mistake: the used descriptor's flags are stored first, so the driver may reap it before its id and len are there.
// Source: none
// Must fail: "the used descriptor's flags are its last store, and nothing else is stored" [2.8.15/3]

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
  let flags = ring.usedWrap === 1 ? AVAIL | USED : 0;
  if (len > 0) flags |= WRITE;
  ring.memory.writeU16(d + 14, flags);
  ring.memory.writeU32(d + 8, len);
  ring.memory.writeU16(d + 12, id);
  const slots = ring.chains.get(id)!.slots;
  ring.nextUsed += slots;
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  ring.usedSinceSignal += slots;
}
