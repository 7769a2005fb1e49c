// Correct: every freedom the contract leaves. addChain checks RAM before
// anything else (a chain breaking two rules is refused for the first found),
// leaves the last descriptor's next as it was and parks freeHead at 0xffff
// when the list runs empty; detachChain zeroes the freed descriptors in the
// table (the chain is the driver's again), puts them at the back of the free
// list and leaves count, writable and tables stale; the stream functions
// copy byte by byte through the accessors.

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

const NO_FREE_HEAD = 0xffff;

function refuse(ring: SplitDriverRing<unknown>, buffers: readonly BufferSegment[]): void {
  buffers.forEach((b, k) => {
    if (!ring.memory.contains(b.addr, b.len)) {
      throw new VirtqueueChainError("2.7.5/D2", k, `No RAM at ${b.addr} for ${b.len} bytes`);
    }
  });
  if (buffers.length === 0) throw new VirtqueueChainError(null, -1, "Nothing to place");
  buffers.forEach((b, k) => {
    if (b.len === 0) throw new VirtqueueChainError("2.7.5/D3", k, "Zero-length buffer");
    if (b.len >= 2 ** 32) throw new VirtqueueChainError(null, k, "Length over le32");
  });
  if (buffers.length > ring.size) {
    throw new VirtqueueChainError("2.7.5.3.1/3", -1, "Longer than the queue");
  }
  if (buffers.reduce((s, b) => s + b.len, 0) > 2 ** 32) {
    throw new VirtqueueChainError("2.7.5.2/1", -1, "Over 2^32 bytes");
  }
}

export function addChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  const buffers = [...readable, ...writable];
  refuse(ring, buffers);
  if (ring.numFree < buffers.length) throw new VirtqueueFullError(buffers.length, ring.numFree);
  const m = ring.memory;
  const head = ring.freeHead;
  let d = head;
  buffers.forEach((b, k) => {
    const at = ring.descAddr + descOffset(d);
    m.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, BigInt(b.addr));
    m.writeU32(at + VIRTQ_DESC_LEN_OFFSET, b.len);
    const writes = k >= readable.length ? 2 : 0;
    if (k === buffers.length - 1) {
      m.writeU16(at + VIRTQ_DESC_FLAGS_OFFSET, writes);
    } else {
      m.writeU16(at + VIRTQ_DESC_FLAGS_OFFSET, writes | 1);
      m.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, ring.next[d]);
    }
    d = ring.next[d];
  });
  ring.numFree -= buffers.length;
  ring.freeHead = ring.numFree === 0 ? NO_FREE_HEAD : d;
  Object.assign(ring, { inFlight: ring.inFlight + 1 });
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = buffers.length;
  ring.writable[head] = writable.reduce((s, b) => s + b.len, 0);
  ring.tables[head] = NO_INDIRECT_TABLE;
  return head;
}

export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  const token = ring.tokens[head] as T;
  const table = ring.tables[head];
  const n = ring.count[head];
  ring.state[head] = HEAD_FREE;
  ring.tokens[head] = undefined;
  let last = head;
  for (let k = 0; k < n; k++) {
    ring.memory.fill(ring.descAddr + descOffset(last), 16, 0);
    if (k < n - 1) last = ring.next[last];
  }
  if (ring.numFree === 0) {
    ring.freeHead = head;
  } else {
    let tail = ring.freeHead;
    for (let k = 1; k < ring.numFree; k++) tail = ring.next[tail];
    ring.next[tail] = head;
  }
  ring.numFree += n;
  ring.inFlight -= 1;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}

function locate(segments: readonly BufferSegment[], offset: number): [number, number] {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`Bad offset ${offset}`);
  let i = 0;
  let skip = offset;
  while (i < segments.length && skip >= segments[i].len) skip -= segments[i++].len;
  return [i, skip];
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  let [i, at] = locate(segments, offset);
  let n = 0;
  for (; n < dest.length && i < segments.length; n++) {
    dest[n] = memory.readU8(segments[i].addr + at);
    if (++at === segments[i].len) [i, at] = [i + 1, 0];
  }
  return n;
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  let [i, at] = locate(segments, offset);
  let n = 0;
  for (; n < src.length && i < segments.length; n++) {
    memory.writeU8(segments[i].addr + at, src[n]);
    if (++at === segments[i].len) [i, at] = [i + 1, 0];
  }
  return n;
}
