// Correct: collect first, then act. addChain checks the chain against a
// table of rules, lists the descriptor indices it will take, and writes each
// descriptor as one 16-byte record; detachChain appends the chain to the
// tail of the free list; the stream functions find the first buffer by a
// binary search over the buffers' start offsets.

import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../../../virtqueue/constants.ts";
import { descOffset } from "../../../../virtqueue/layout.ts";
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

type Rule = [
  (b: BufferSegment, ring: SplitDriverRing<unknown>) => boolean,
  string | null,
  string,
];
const PER_BUFFER: Rule[] = [
  [(b) => b.len !== 0, "2.7.5/D3", "is empty"],
  [(b) => b.len <= 0xffff_ffff, null, "is too long for a descriptor"],
  [(b, ring) => ring.memory.contains(b.addr, b.len), "2.7.5/D2", "is outside guest RAM"],
];

export function addChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): number {
  const buffers = readable.concat(writable);
  if (buffers.length === 0) throw new VirtqueueChainError(null, -1, "Empty chain");
  for (const [ok, rule, what] of PER_BUFFER.slice(0, 2)) {
    const k = buffers.findIndex((b) => !ok(b, ring));
    if (k >= 0) throw new VirtqueueChainError(rule, k, `Buffer ${k} ${what}`);
  }
  const total = buffers.reduce((sum, b) => sum + b.len, 0);
  if (total > 0x1_0000_0000) throw new VirtqueueChainError("2.7.5.2/1", -1, "Over 4 GiB");
  if (buffers.length > ring.size) {
    throw new VirtqueueChainError("2.7.5.3.1/3", -1, "More buffers than descriptors");
  }
  const [ok, rule, what] = PER_BUFFER[2];
  const k = buffers.findIndex((b) => !ok(b, ring));
  if (k >= 0) throw new VirtqueueChainError(rule, k, `Buffer ${k} ${what}`);
  if (buffers.length > ring.numFree) throw new VirtqueueFullError(buffers.length, ring.numFree);

  const taken: number[] = [];
  for (let d = ring.freeHead; taken.length <= buffers.length; d = ring.next[d]) {
    taken.push(d);
    if (taken.length === ring.numFree) break;
  }
  buffers.forEach((b, i) => {
    const record = new DataView(new ArrayBuffer(16));
    record.setBigUint64(0, BigInt(b.addr), true);
    record.setUint32(8, b.len, true);
    const more = i < buffers.length - 1;
    record.setUint16(
      12,
      (i >= readable.length ? VIRTQ_DESC_F_WRITE : 0) | (more ? VIRTQ_DESC_F_NEXT : 0),
      true,
    );
    record.setUint16(14, more ? taken[i + 1] : 0, true);
    ring.memory.write(ring.descAddr + descOffset(taken[i]), new Uint8Array(record.buffer));
  });
  const head = taken[0];
  ring.freeHead = taken[buffers.length] ?? 0;
  ring.numFree -= buffers.length;
  ring.inFlight += 1;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = buffers.length;
  ring.writable[head] = writable.reduce((sum, b) => sum + b.len, 0);
  ring.tables[head] = NO_INDIRECT_TABLE;
  return head;
}

export function detachChain<T>(
  ring: SplitDriverRing<T>,
  head: number,
  freeTable: (table: number) => void,
): T {
  const chain = [head];
  while (chain.length < ring.count[head]) chain.push(ring.next[chain[chain.length - 1]]);
  const token = ring.tokens[head] as T;
  const table = ring.tables[head];
  ring.tokens[head] = undefined;
  ring.state[head] = HEAD_FREE;
  ring.count[head] = 0;
  ring.writable[head] = 0;
  ring.tables[head] = NO_INDIRECT_TABLE;
  if (ring.numFree === 0) {
    ring.freeHead = head;
  } else {
    let tail = ring.freeHead;
    for (let k = 1; k < ring.numFree; k++) tail = ring.next[tail];
    ring.next[tail] = head;
  }
  ring.numFree += chain.length;
  ring.inFlight -= 1;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  return token;
}

/** Offsets of each buffer's first byte in the stream, and the stream's length last. */
function starts(segments: readonly BufferSegment[]): number[] {
  const out = [0];
  for (const s of segments) out.push(out[out.length - 1] + s.len);
  return out;
}

/** The buffer holding stream byte `offset` (binary search), or `segments.length`. */
function bufferAt(at: readonly number[], offset: number): number {
  let lo = 0;
  let hi = at.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at[mid + 1] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function copy(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  bytes: Uint8Array,
  offset: number,
  into: boolean,
): number {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`Stream offset ${offset} is not a non-negative integer`);
  }
  const at = starts(segments);
  const n = Math.max(0, Math.min(bytes.length, at[at.length - 1] - offset));
  let done = 0;
  for (let i = bufferAt(at, offset); done < n; i++) {
    const from = offset + done - at[i];
    const len = Math.min(segments[i].len - from, n - done);
    if (into) memory.write(segments[i].addr + from, bytes.subarray(done, done + len));
    else memory.read(segments[i].addr + from, bytes.subarray(done, done + len));
    done += len;
  }
  return n;
}

export function readChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  dest: Uint8Array,
  offset = 0,
): number {
  return copy(memory, segments, dest, offset, false);
}

export function writeChain(
  memory: GuestMemory,
  segments: readonly BufferSegment[],
  src: Uint8Array,
  offset = 0,
): number {
  return copy(memory, segments, src, offset, true);
}
