// Mistake: each descriptor's flags are stored as it is written, the first one's included, so the device can see a list before its end is there.
// Source: none
// Must fail: "the first descriptor's flags are the last store of all" [2.8.17/6]

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
  for (let k = 0; k < n; k++) {
    const d = ring.descAddr + 16 * p;
    ring.memory.writeU64(d, all[k].addr);
    ring.memory.writeU32(d + 8, all[k].len);
    if (k === n - 1) ring.memory.writeU16(d + 12, id);
    let flags = w === 1 ? AVAIL : USED;
    if (k >= readable.length) flags |= WRITE;
    if (k < n - 1) flags |= NEXT;
    ring.memory.writeU16(d + 14, flags);
    p++;
    if (p === ring.size) {
      p = 0;
      w = 1 - w;
    }
  }
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
