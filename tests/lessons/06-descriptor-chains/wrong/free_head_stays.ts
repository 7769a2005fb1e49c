// Mistake: addChain takes its descriptors and counts them off numFree, but
// never moves freeHead past them: the next chain is placed over this one.
// Source: none.
// Must fail: "addChain records the chain in the driver's own record" [2.7.13.1/D2]

import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../../../virtqueue/constants.ts";
import { descOffset } from "../../../../virtqueue/layout.ts";
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
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  const all = [...readable, ...writable];
  if (all.length === 0) throw new VirtqueueChainError(null, -1, "Empty chain");
  let total = 0;
  all.forEach((b, k) => {
    if (b.len === 0) throw new VirtqueueChainError("2.7.5/D3", k, "Empty buffer");
    if (b.len > 0xffff_ffff) throw new VirtqueueChainError(null, k, "Buffer too long");
    total += b.len;
  });
  if (total > 2 ** 32) throw new VirtqueueChainError("2.7.5.2/1", -1, "Chain over 2^32 bytes");
  if (all.length > ring.size) throw new VirtqueueChainError("2.7.5.3.1/3", -1, "Chain too long");
  all.forEach((b, k) => {
    if (!ring.memory.contains(b.addr, b.len)) {
      throw new VirtqueueChainError("2.7.5/D2", k, "Buffer outside RAM");
    }
  });
  if (all.length > ring.numFree) throw new VirtqueueFullError(all.length, ring.numFree);
  const head = ring.freeHead;
  let d = head;
  all.forEach((b, k) => {
    const at = ring.descAddr + descOffset(d);
    const last = k === all.length - 1;
    ring.memory.writeU64(at, b.addr);
    ring.memory.writeU32(at + 8, b.len);
    ring.memory.writeU16(
      at + 12,
      (k >= readable.length ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
    );
    ring.memory.writeU16(at + 14, last ? 0 : ring.next[d]);
    d = ring.next[d];
  });
  ring.numFree -= all.length;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = all.length;
  ring.writable[head] = writable.reduce((s, b) => s + b.len, 0);
  ring.tables[head] = NO_INDIRECT_TABLE;
  ring.inFlight++;
  return head;
}
