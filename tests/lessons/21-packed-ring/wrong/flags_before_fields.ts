// Mistake: a later descriptor's flags are stored before its addr and len: the first flags still come last, but each descriptor is exposed before it is filled.
// Source: none
// Must fail: "each descriptor's flags come after its addr, len and id" [2.8.21.1.1/1]

import { PACKED_NO_TABLE } from "../../../../virtqueue/packed/driver_ring.ts";
import type { PackedDriverRing } from "../../../../virtqueue/packed/driver_ring.ts";
import {
  type BufferSegment,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export {
  descAvailablePacked,
  getBufPacked,
  pushUsedPacked,
  walkPackedChain,
} from "../correct/straight_line.ts";

const AVAIL = 1 << 7;
const USED = 1 << 15;
const NEXT = 1;
const WRITE = 2;

export function addPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): void {
  const all = [...readable, ...writable];
  const n = all.length;
  if (n === 0) throw new VirtqueueChainError(null, -1, "empty buffer");
  if (n > ring.size) throw new VirtqueueChainError("2.8.17/2", -1, "longer than the ring");
  if (n > ring.numFree) throw new VirtqueueFullError(n, ring.numFree);
  all.forEach((e, k) => {
    if (!(e.len >= 1 && e.len <= 0xffff_ffff)) {
      throw new VirtqueueChainError(null, k, `element ${k} has length ${e.len}`);
    }
    if (!ring.memory.contains(e.addr, e.len)) {
      throw new VirtqueueChainError("2.8.4/D1", k, `element ${k} is outside RAM`);
    }
  });
  const id = ring.freeHead;
  let p = ring.nextAvail;
  let w = ring.availWrap;
  let firstFlags = 0;
  for (let k = 0; k < n; k++) {
    const d = ring.descAddr + 16 * p;
    let flags = w === 1 ? AVAIL : USED;
    if (k >= readable.length) flags |= WRITE;
    if (k < n - 1) flags |= NEXT;
    if (k === 0) firstFlags = flags;
    else ring.memory.writeU16(d + 14, flags);
    ring.memory.writeU64(d, all[k].addr);
    ring.memory.writeU32(d + 8, all[k].len);
    if (k === n - 1) ring.memory.writeU16(d + 12, id);
    p++;
    if (p === ring.size) {
      p = 0;
      w = 1 - w;
    }
  }
  ring.memory.writeU16(ring.descAddr + 16 * ring.nextAvail + 14, firstFlags);
  ring.nextAvail = p;
  ring.availWrap = w;
  ring.numFree -= n;
  ring.numAdded += n;
  ring.freeHead = ring.nextId[id];
  ring.inUse[id] = 1;
  ring.descCount[id] = n;
  ring.writable[id] = writable.reduce((s, e) => s + e.len, 0);
  ring.table[id] = PACKED_NO_TABLE;
  ring.tokens[id] = token;
  ring.inFlight++;
}
