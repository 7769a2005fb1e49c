// Mistake: each entry's next is its own index k, not k + 1.
// Source: none
// Must fail: "the table holds the chain from entry 0, readable first, next = k + 1" [2.7.5.3/D2]

// deno-lint-ignore-file no-unused-vars
import type { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  type VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../../../../virtqueue/constants.ts";
import type { breakDeviceRing, SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { HEAD_ADDED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../../../virtqueue/driver/add.ts";
import {
  type BufferSegment,
  type DescriptorChain,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export { addBuffers, readIndirectTable } from "../correct/one_pass.ts";

export function addIndirectChain<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  allocTable: (bytes: number) => number,
): number {
  const all = [...readable, ...writable];
  const n = all.length;
  if (!ring.indirect) {
    throw new VirtqueueChainError("2.7.5.3.1/1", -1, "VIRTIO_F_INDIRECT_DESC not negotiated");
  }
  if (n === 0) throw new VirtqueueChainError(null, -1, "A chain needs a buffer");
  let total = 0;
  all.forEach((b, k) => {
    if (b.len === 0) throw new VirtqueueChainError("2.7.5/D3", k, `Buffer ${k} is empty`);
    if (b.len > 0xffff_ffff) throw new VirtqueueChainError(null, k, `Buffer ${k} is too long`);
    total += b.len;
  });
  if (total > 2 ** 32) throw new VirtqueueChainError("2.7.5.2/1", -1, "Chain over 4 GiB");
  if (n > ring.size) throw new VirtqueueChainError("2.7.5.3.1/3", -1, "Chain over Queue Size");
  all.forEach((b, k) => {
    if (!ring.memory.contains(b.addr, b.len)) {
      throw new VirtqueueChainError("2.7.5/D2", k, `Buffer ${k} is outside RAM`);
    }
  });
  if (ring.numFree === 0) throw new VirtqueueFullError(1, 0);

  const table = allocTable(VIRTQ_DESC_SIZE * n);
  const m = ring.memory;
  all.forEach((b, k) => {
    const at = table + VIRTQ_DESC_SIZE * k;
    const last = k === n - 1;
    m.writeU64(at, b.addr);
    m.writeU32(at + 8, b.len);
    m.writeU16(at + 12, (k >= readable.length ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : 1));
    m.writeU16(at + 14, k);
  });
  const head = ring.freeHead;
  const at = ring.descAddr + VIRTQ_DESC_SIZE * head;
  m.writeU64(at, table);
  m.writeU32(at + 8, VIRTQ_DESC_SIZE * n);
  m.writeU16(at + 12, VIRTQ_DESC_F_INDIRECT);
  m.writeU16(at + 14, 0);
  ring.freeHead = ring.next[head];
  ring.numFree--;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = 1;
  ring.writable[head] = writable.reduce((s, b) => s + b.len, 0);
  ring.tables[head] = table;
  ring.inFlight++;
  return head;
}
