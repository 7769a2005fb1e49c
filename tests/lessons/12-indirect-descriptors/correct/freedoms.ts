// Correct: every freedom the contract leaves. The device checks the table's
// place in RAM before its length and its flags (a descriptor breaking two
// rules cites the first found), and bounds the walk with a countdown; the
// driver writes the ring descriptor before the table, sets WRITE on it when
// the chain has writable buffers (the device ignores it), leaves 0xffff in
// the `next` fields that mean nothing, and refuses a full ring before it
// looks at the buffers; addBuffers is a chain of ifs.

import { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} from "../../../../virtqueue/layout.ts";
import {
  VIRTQ_DESC_F_INDIRECT as INDIRECT,
  VIRTQ_DESC_F_NEXT as NEXT,
  VIRTQ_DESC_F_WRITE as WRITE,
} from "../../../../virtqueue/constants.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { NO_SEGMENTS } from "../../../../virtqueue/device/walk.ts";
import { HEAD_ADDED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../../../virtqueue/driver/add.ts";
import {
  type BufferSegment,
  type DescriptorChain,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export function readIndirectTable(
  ring: SplitDeviceRing,
  chain: DescriptorChain,
): DescriptorChain | null {
  const { addr: base, len: bytes, flags, index } = ring.indirectDesc;
  const m = ring.memory;
  const no = (id: Parameters<typeof breakDeviceRing>[1], what: string) =>
    breakDeviceRing(ring, id, `${what} (indirect descriptor ${index})`, { head: chain.head });
  if (!ring.indirect) return no("2.7.5.3.1/1", "An indirect table without the feature");
  if (!m.contains(base, bytes)) return no("2.7.5/D2", "An indirect table outside RAM");
  if (bytes === 0 || (bytes & 15) !== 0) return no("2.7.5.3/D1", `A table of ${bytes} bytes`);
  if (flags & NEXT) return no("2.7.5.3.1/4", "INDIRECT together with NEXT");
  const size = bytes / 16;
  if (size > ring.size) return no("2.7.5.3.1/3", `A table of ${size} entries`);

  let readable: BufferSegment[] | null = null;
  let writable: BufferSegment[] | null = null;
  let inBytes = chain.readableLength;
  let outBytes = chain.writableLength;
  let left = size;
  let room = ring.size - (chain.descriptorCount - 1);
  let walked = 0;
  let i = 0;
  while (true) {
    if (left-- === 0) return no("2.7.5.3.1/3", "A loop in an indirect table");
    if (room-- === 0) return no("2.7.5.3.1/3", "A chain longer than the queue");
    walked++;
    const at = base + descOffset(i);
    const addr = m.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = m.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const f = m.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = m.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if (!m.contains(addr, len) && len !== 0) return no("2.7.5/D2", `Entry ${i} outside RAM`);
    if (len === 0) return no("2.7.5/D3", `Entry ${i} of length 0`);
    if (f & INDIRECT) return no("2.7.5.3.1/2", `Entry ${i} is indirect`);
    if (inBytes + outBytes + len > 0x1_0000_0000) return no("2.7.5.2/1", "Over 4 GiB");
    if (f & WRITE) {
      (writable ??= [...chain.writable]).push({ addr, len });
      outBytes += len;
    } else if (outBytes > 0) {
      return no("2.7.4.2/1", `Entry ${i} readable after a writable buffer`);
    } else {
      (readable ??= [...chain.readable]).push({ addr, len });
      inBytes += len;
    }
    if ((f & NEXT) === 0) break;
    if (next >= size) return no("2.7.5/D1", `Entry ${i} points to ${next}`);
    i = next;
  }
  return {
    head: chain.head,
    readable: readable ?? (chain.readable.length ? [...chain.readable] : NO_SEGMENTS),
    writable: writable ?? (chain.writable.length ? [...chain.writable] : NO_SEGMENTS),
    readableLength: inBytes,
    writableLength: outBytes,
    descriptorCount: chain.descriptorCount + walked,
    indirect: true,
  };
}

export function addIndirectChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  allocTable: (bytes: number) => number,
): number {
  if (ring.numFree === 0) throw new VirtqueueFullError(1, 0);
  if (!ring.indirect) throw new VirtqueueChainError("2.7.5.3.1/1", -1, "No indirect feature");
  const n = readable.length + writable.length;
  if (n === 0) throw new VirtqueueChainError(null, -1, "Empty chain");
  if (n > ring.size) throw new VirtqueueChainError("2.7.5.3.1/3", -1, `${n} buffers`);
  const at = (k: number) => (k < readable.length ? readable[k] : writable[k - readable.length]);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const { addr, len } = at(k);
    if (len === 0) throw new VirtqueueChainError("2.7.5/D3", k, `Buffer ${k} is empty`);
    if (len > 0xffff_ffff) throw new VirtqueueChainError(null, k, `Buffer ${k}: ${len} bytes`);
    if (!ring.memory.contains(addr, len)) {
      throw new VirtqueueChainError("2.7.5/D2", k, `Buffer ${k} outside RAM`);
    }
    total += len;
  }
  if (total > 2 ** 32) throw new VirtqueueChainError("2.7.5.2/1", -1, `${total} bytes`);

  const table = allocTable(16 * n);
  const m = ring.memory;
  const head = ring.freeHead;
  const d = ring.descAddr + descOffset(head);
  m.writeU64(d + VIRTQ_DESC_ADDR_OFFSET, table);
  m.writeU32(d + VIRTQ_DESC_LEN_OFFSET, 16 * n);
  m.writeU16(d + VIRTQ_DESC_FLAGS_OFFSET, INDIRECT | (writable.length > 0 ? WRITE : 0));
  m.writeU16(d + VIRTQ_DESC_NEXT_OFFSET, 0xffff);
  for (let k = 0; k < n; k++) {
    const e = table + descOffset(k);
    m.writeU64(e + VIRTQ_DESC_ADDR_OFFSET, at(k).addr);
    m.writeU32(e + VIRTQ_DESC_LEN_OFFSET, at(k).len);
    m.writeU16(
      e + VIRTQ_DESC_FLAGS_OFFSET,
      (k >= readable.length ? WRITE : 0) | (k + 1 < n ? NEXT : 0),
    );
    m.writeU16(e + VIRTQ_DESC_NEXT_OFFSET, k + 1 < n ? k + 1 : 0xffff);
  }
  let out = 0;
  for (const b of writable) out += b.len;
  Object.assign(ring, { freeHead: ring.next[head], numFree: ring.numFree - 1 });
  ring.inFlight++;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = 1;
  ring.writable[head] = out;
  ring.tables[head] = table;
  return head;
}

export function addBuffers<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  policy: IndirectPolicy,
  steps: AddBufferSteps,
): number {
  if (policy === "never") return steps.addChain(ring, readable, writable, token);
  if (policy === "always") {
    if (steps.allocTable) {
      return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
    }
    throw new TypeError(`Queue ${ring.index}: "always" needs a table allocator`);
  }
  if (!ring.indirect) return steps.addChain(ring, readable, writable, token);
  if (!steps.allocTable) return steps.addChain(ring, readable, writable, token);
  if (readable.length + writable.length < 2) return steps.addChain(ring, readable, writable, token);
  let outOfMemory = false;
  let head = -1;
  try {
    head = steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
  } catch (e) {
    if (e instanceof GuestOutOfMemoryError) outOfMemory = true;
    else throw e;
  }
  return outOfMemory ? steps.addChain(ring, readable, writable, token) : head;
}
