// Mistake: addChain lays the chain out in consecutive descriptors from the
// free list's head (d, d + 1, d + 2...), as if the free list were always in
// order: once chains have come back out of order, it writes over a chain
// still in flight.
// Source: none; the free list is a list precisely because descriptors come back in any order.
// Must fail: "addChain puts each buffer in a descriptor of its own, in order" [2.7.13.1/D1]

import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../../../virtqueue/constants.ts";
import {
  HEAD_ADDED,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../../../virtqueue/driver/ring.ts";
import {
  type BufferSegment,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export { detachChain, readChain, writeChain } from "../correct/free_list_walk.ts";

export function addChain<T>(
  ring: SplitDriverRing<T>,
  r: readonly BufferSegment[],
  w: readonly BufferSegment[],
  token: T,
): number {
  const all = [...r, ...w];
  if (!all.length) throw new VirtqueueChainError(null, -1, "e");
  all.forEach((b, k) => {
    if (b.len === 0) throw new VirtqueueChainError("2.7.5/D3", k, "z");
  });
  if (all.reduce((s, b) => s + b.len, 0) > 2 ** 32) {
    throw new VirtqueueChainError("2.7.5.2/1", -1, "t");
  }
  if (all.length > ring.size) throw new VirtqueueChainError("2.7.5.3.1/3", -1, "l");
  all.forEach((b, k) => {
    if (!ring.memory.contains(b.addr, b.len)) throw new VirtqueueChainError("2.7.5/D2", k, "r");
  });
  if (all.length > ring.numFree) throw new VirtqueueFullError(all.length, ring.numFree);
  const head = ring.freeHead;
  all.forEach((b, k) => {
    const d = head + k;
    const at = ring.descAddr + 16 * d;
    const last = k === all.length - 1;
    ring.memory.writeU64(at, b.addr);
    ring.memory.writeU32(at + 8, b.len);
    ring.memory.writeU16(
      at + 12,
      (k >= r.length ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
    );
    ring.memory.writeU16(at + 14, last ? 0 : d + 1);
  });
  let d = head;
  for (let k = 0; k < all.length; k++) d = ring.next[d];
  ring.freeHead = d;
  ring.numFree -= all.length;
  ring.inFlight++;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = all.length;
  ring.writable[head] = w.reduce((s, b) => s + b.len, 0);
  ring.tables[head] = NO_INDIRECT_TABLE;
  return head;
}
