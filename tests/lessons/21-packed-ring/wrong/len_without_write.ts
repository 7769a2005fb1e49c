// Mistake: the used len is taken whether or not VIRTQ_DESC_F_WRITE is set, though it is reserved without it.
// Source: none
// Must fail: "the buffer comes back with len, or 0 without VIRTQ_DESC_F_WRITE" [2.8.3/D1]

import { breakPackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import type { UsedBuffer } from "../../../../virtqueue/types.ts";

export {
  addPacked,
  descAvailablePacked,
  pushUsedPacked,
  walkPackedChain,
} from "../correct/straight_line.ts";

const AVAIL = 1 << 7;
const USED = 1 << 15;

function bit(flags: number, mask: number): number {
  return (flags & mask) !== 0 ? 1 : 0;
}

export function getBufPacked<T>(
  ring: PackedDriverRing<T>,
  detach: (id: number) => T,
): UsedBuffer<T> | null {
  const d = ring.descAddr + 16 * ring.nextUsed;
  const flags = ring.memory.readU16(d + 14);
  if (bit(flags, AVAIL) !== ring.usedWrap || bit(flags, USED) !== ring.usedWrap) return null;
  const id = ring.memory.readU16(d + 12);
  if (id >= ring.size || ring.inUse[id] === 0) {
    return breakPackedDriverRing(ring, "2.8.22/D1", `used id ${id} is not in flight`, { id });
  }
  const len = ring.memory.readU32(d + 8);
  {
    if (len > ring.writable[id]) {
      return breakPackedDriverRing(ring, "2.8.4/D2", `len ${len} too large`, { id, len });
    }
  }
  ring.nextUsed += ring.descCount[id];
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  return { token: detach(id), len };
}
