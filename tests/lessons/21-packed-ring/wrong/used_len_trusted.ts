// Mistake: the used len is trusted, so a driver copies more bytes out of the buffer than the buffer has.
// Source: Linux CVE-2021-38160 (virtio_console trusted the device's used length)
// Must fail: "a used len above the buffer's writable bytes breaks the ring" [2.8.4/D2]

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
const WRITE = 2;

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
  let len = 0;
  if (flags & WRITE) {
    len = ring.memory.readU32(d + 8);
  }
  ring.nextUsed += ring.descCount[id];
  if (ring.nextUsed >= ring.size) {
    ring.nextUsed -= ring.size;
    ring.usedWrap = 1 - ring.usedWrap;
  }
  return { token: detach(id), len };
}
