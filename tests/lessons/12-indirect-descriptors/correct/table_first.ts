// Correct: collect, then judge. The device copies the whole table out of
// guest memory entry by entry (each field read once) into an array, walks
// that copy with a visited set instead of a counter, and checks RAM for
// every buffer at the end; the driver builds the entries as records first,
// writes them with one helper, and addBuffers decides with a small table of
// conditions.

import { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { HEAD_ADDED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../../../virtqueue/driver/add.ts";
import {
  type BufferSegment,
  type DescriptorChain,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

interface Entry {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

export function readIndirectTable(
  ring: SplitDeviceRing,
  chain: DescriptorChain,
): DescriptorChain | null {
  const d = ring.indirectDesc;
  const head = chain.head;
  const refuse = (id: Parameters<typeof breakDeviceRing>[1], why: string) =>
    breakDeviceRing(ring, id, `Chain ${head}, indirect descriptor ${d.index}: ${why}`, { head });
  if (!ring.indirect) return refuse("2.7.5.3.1/1", "the feature was not negotiated");
  if ((d.flags & NEXT) !== 0) return refuse("2.7.5.3.1/4", "NEXT is set as well");
  if (d.len % 16 !== 0 || d.len === 0) return refuse("2.7.5.3/D1", `len ${d.len}`);
  const count = d.len >> 4;
  if (count > ring.size) return refuse("2.7.5.3.1/3", `${count} entries`);
  if (!ring.memory.contains(d.addr, d.len)) return refuse("2.7.5/D2", "table outside RAM");

  const entries: Entry[] = [];
  const seen = new Set<number>();
  for (let i = 0;;) {
    if (seen.has(i)) return refuse("2.7.5.3.1/3", `entry ${i} is met twice`);
    if (chain.descriptorCount - 1 + seen.size === ring.size) {
      return refuse("2.7.5.3.1/3", "the chain is longer than the queue");
    }
    seen.add(i);
    const e = readEntry(ring.memory, d.addr + 16 * i);
    if (e.flags & INDIRECT) return refuse("2.7.5.3.1/2", `entry ${i} is indirect`);
    entries.push(e);
    if (!(e.flags & NEXT)) break;
    if (e.next >= count) return refuse("2.7.5/D1", `entry ${i} has next ${e.next}`);
    i = e.next;
  }

  const readable = chain.readable.slice();
  const writable = chain.writable.slice();
  let total = chain.readableLength + chain.writableLength;
  for (const e of entries) {
    if (e.len === 0) return refuse("2.7.5/D3", "an entry of length 0");
    total += e.len;
    if (total > 2 ** 32) return refuse("2.7.5.2/1", "more than 4 GiB");
    if (e.flags & WRITE) writable.push({ addr: e.addr, len: e.len });
    else if (writable.length > 0) return refuse("2.7.4.2/1", "readable after writable");
    else readable.push({ addr: e.addr, len: e.len });
  }
  for (const b of [...readable, ...writable]) {
    if (!ring.memory.contains(b.addr, b.len)) return refuse("2.7.5/D2", "a buffer outside RAM");
  }
  const sum = (list: BufferSegment[]) => list.reduce((s, b) => s + b.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: chain.descriptorCount + entries.length,
    indirect: true,
  };
}

function readEntry(m: GuestMemory, at: number): Entry {
  return {
    addr: m.readU64Number(at),
    len: m.readU32(at + 8),
    flags: m.readU16(at + 12),
    next: m.readU16(at + 14),
  };
}

function writeEntry(m: GuestMemory, at: number, e: Entry): void {
  m.writeU64(at, e.addr);
  m.writeU32(at + 8, e.len);
  m.writeU16(at + 12, e.flags);
  m.writeU16(at + 14, e.next);
}

export function addIndirectChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  allocTable: (bytes: number) => number,
): number {
  const n = readable.length + writable.length;
  const entries: Entry[] = [...readable, ...writable].map((b, k) => {
    if (b.len === 0) throw new VirtqueueChainError("2.7.5/D3", k, `Buffer ${k} has length 0`);
    if (b.len > 0xffff_ffff) throw new VirtqueueChainError(null, k, `Buffer ${k} is too long`);
    return {
      addr: b.addr,
      len: b.len,
      flags: (k >= readable.length ? WRITE : 0) | (k < n - 1 ? NEXT : 0),
      next: k < n - 1 ? k + 1 : 0,
    };
  });
  if (n === 0) throw new VirtqueueChainError(null, -1, "No buffers");
  if (entries.reduce((s, e) => s + e.len, 0) > 2 ** 32) {
    throw new VirtqueueChainError("2.7.5.2/1", -1, "More than 4 GiB");
  }
  if (n > ring.size) throw new VirtqueueChainError("2.7.5.3.1/3", -1, "Longer than the queue");
  const outside = entries.findIndex((e) => !ring.memory.contains(e.addr, e.len));
  if (outside >= 0) throw new VirtqueueChainError("2.7.5/D2", outside, "Outside RAM");
  if (!ring.indirect) throw new VirtqueueChainError("2.7.5.3.1/1", -1, "Not negotiated");
  if (ring.numFree < 1) throw new VirtqueueFullError(1, ring.numFree);

  const table = allocTable(16 * n);
  entries.forEach((e, k) => writeEntry(ring.memory, table + 16 * k, e));
  const head = ring.freeHead;
  writeEntry(ring.memory, ring.descAddr + 16 * head, {
    addr: table,
    len: 16 * n,
    flags: INDIRECT,
    next: 0,
  });
  ring.freeHead = ring.next[head];
  ring.numFree -= 1;
  ring.inFlight += 1;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = 1;
  ring.writable[head] = writable.reduce((s, b) => s + b.len, 0);
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
  const direct = () => steps.addChain(ring, readable, writable, token);
  const alloc = steps.allocTable;
  const wantsTable = {
    never: false,
    always: true,
    auto: ring.indirect && alloc !== undefined && readable.length + writable.length > 1,
  }[policy];
  if (!wantsTable) return direct();
  if (alloc === undefined) throw new TypeError("This queue has no allocator for tables");
  let head: number | undefined;
  try {
    head = steps.addIndirectChain(ring, readable, writable, token, alloc);
  } catch (e) {
    if (policy === "always" || !(e instanceof GuestOutOfMemoryError)) throw e;
  }
  return head ?? direct();
}
