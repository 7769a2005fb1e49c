// Correct: Linux's shape. addChain validates in one loop, then walks the
// free list writing each descriptor field by field; detachChain clears the
// head's record, splices the chain onto the front of the free list, and
// frees the table last; the stream functions skip whole segments, then copy
// through views.

import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../../../virtqueue/constants.ts";
import {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} from "../../../../virtqueue/layout.ts";
import {
  HEAD_ADDED,
  HEAD_FREE,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../../../virtqueue/driver/ring.ts";
import {
  type BufferSegment,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";

export function addChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  const all = [...readable, ...writable];
  const n = all.length;
  if (n === 0) throw new VirtqueueChainError(null, -1, "A chain needs at least one buffer");
  let total = 0;
  let writableBytes = 0;
  for (let k = 0; k < n; k++) {
    const { len } = all[k];
    if (len === 0) throw new VirtqueueChainError("2.7.5/D3", k, `Buffer ${k} is empty`);
    if (len > 0xffff_ffff) {
      throw new VirtqueueChainError(null, k, `Buffer ${k} of ${len} bytes does not fit a le32`);
    }
    total += len;
    if (k >= readable.length) writableBytes += len;
  }
  if (total > 2 ** 32) {
    throw new VirtqueueChainError("2.7.5.2/1", -1, `Chain of ${total} bytes is over 2^32`);
  }
  if (n > ring.size) {
    throw new VirtqueueChainError("2.7.5.3.1/3", -1, `${n} buffers, queue size ${ring.size}`);
  }
  for (let k = 0; k < n; k++) {
    if (!ring.memory.contains(all[k].addr, all[k].len)) {
      throw new VirtqueueChainError("2.7.5/D2", k, `Buffer ${k} is not in guest RAM`);
    }
  }
  if (ring.numFree < n) throw new VirtqueueFullError(n, ring.numFree);

  const head = ring.freeHead;
  let d = head;
  for (let k = 0; k < n; k++) {
    const at = ring.descAddr + descOffset(d);
    const last = k === n - 1;
    ring.memory.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, all[k].addr);
    ring.memory.writeU32(at + VIRTQ_DESC_LEN_OFFSET, all[k].len);
    ring.memory.writeU16(
      at + VIRTQ_DESC_FLAGS_OFFSET,
      (k >= readable.length ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
    );
    ring.memory.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, last ? 0 : ring.next[d]);
    d = ring.next[d];
  }
  ring.freeHead = d;
  ring.numFree -= n;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = n;
  ring.writable[head] = writableBytes;
  ring.tables[head] = NO_INDIRECT_TABLE;
  ring.inFlight++;
  return head;
}

export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  const token = ring.tokens[head] as T;
  const count = ring.count[head];
  const table = ring.tables[head];
  ring.state[head] = HEAD_FREE;
  ring.tokens[head] = undefined;
  ring.tables[head] = NO_INDIRECT_TABLE;
  let tail = head;
  for (let k = 1; k < count; k++) tail = ring.next[tail];
  ring.next[tail] = ring.freeHead;
  ring.freeHead = head;
  ring.numFree += count;
  ring.inFlight--;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`Offset ${offset} is not a non-negative integer`);
  }
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  checkOffset(offset);
  let skip = offset;
  let done = 0;
  for (const seg of segments) {
    if (done === dest.length) break;
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, dest.length - done);
    dest.set(memory.bytes(seg.addr + skip, n), done);
    done += n;
    skip = 0;
  }
  return done;
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  checkOffset(offset);
  let skip = offset;
  let done = 0;
  for (const seg of segments) {
    if (done === src.length) break;
    if (skip >= seg.len) {
      skip -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - skip, src.length - done);
    memory.bytes(seg.addr + skip, n).set(src.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}
