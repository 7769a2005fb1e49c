// Correct: QEMU's shape on the device side (the descriptor's checks in the
// order of §2.7.5.3, then one loop over the table that reads each entry into
// locals, counts entries against the table's length and checks RAM as it
// goes); Linux's virtqueue_add_split on the driver side (check, allocate,
// write the table entry by entry, then the one ring descriptor) and a
// try/catch around the indirect step for the fallback.

import { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../../../../virtqueue/constants.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
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
  const { index: desc, addr: table, len, flags } = ring.indirectDesc;
  const head = chain.head;
  if (!ring.indirect) {
    return breakDeviceRing(ring, "2.7.5.3.1/1", `Descriptor ${desc} is indirect, not negotiated`, {
      head,
      desc,
    });
  }
  if (flags & VIRTQ_DESC_F_NEXT) {
    return breakDeviceRing(ring, "2.7.5.3.1/4", `Descriptor ${desc} has INDIRECT and NEXT`, {
      head,
      flags,
    });
  }
  if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) {
    return breakDeviceRing(ring, "2.7.5.3/D1", `Indirect table length ${len} is invalid`, {
      head,
      len,
    });
  }
  const entries = len / VIRTQ_DESC_SIZE;
  if (entries > ring.size) {
    return breakDeviceRing(ring, "2.7.5.3.1/3", `Indirect table of ${entries} entries`, {
      head,
      entries,
    });
  }
  const m = ring.memory;
  if (!m.contains(table, len)) {
    return breakDeviceRing(ring, "2.7.5/D2", `Indirect table is outside RAM`, { head, table });
  }
  const readable: BufferSegment[] = [...chain.readable];
  const writable: BufferSegment[] = [...chain.writable];
  let rlen = chain.readableLength;
  let wlen = chain.writableLength;
  let walked = 0;
  for (let i = 0;;) {
    if (walked === entries) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Indirect table of chain ${head} loops`, {
        head,
      });
    }
    if (chain.descriptorCount - 1 + walked === ring.size) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} is longer than Queue Size`, {
        head,
      });
    }
    walked++;
    const at = table + VIRTQ_DESC_SIZE * i;
    const addr = m.readU64Number(at);
    const l = m.readU32(at + 8);
    const f = m.readU16(at + 12);
    const next = m.readU16(at + 14);
    if (f & VIRTQ_DESC_F_INDIRECT) {
      return breakDeviceRing(ring, "2.7.5.3.1/2", `Entry ${i} is itself indirect`, { head });
    }
    if (l === 0) return breakDeviceRing(ring, "2.7.5/D3", `Entry ${i} has length 0`, { head });
    if (rlen + wlen + l > 2 ** 32) {
      return breakDeviceRing(ring, "2.7.5.2/1", `Chain ${head} is over 4 GiB`, { head });
    }
    if (!m.contains(addr, l)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Entry ${i}'s buffer is outside RAM`, { head });
    }
    if (f & VIRTQ_DESC_F_WRITE) {
      writable.push({ addr, len: l });
      wlen += l;
    } else {
      if (wlen > 0) {
        return breakDeviceRing(ring, "2.7.4.2/1", `Entry ${i} is readable after writable`, {
          head,
        });
      }
      readable.push({ addr, len: l });
      rlen += l;
    }
    if (!(f & VIRTQ_DESC_F_NEXT)) break;
    if (next >= entries) {
      return breakDeviceRing(ring, "2.7.5/D1", `Entry ${i} has next ${next}`, { head, next });
    }
    i = next;
  }
  return {
    head,
    readable,
    writable,
    readableLength: rlen,
    writableLength: wlen,
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
    m.writeU16(at + 14, last ? 0 : k + 1);
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

export function addBuffers<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  policy: IndirectPolicy,
  steps: AddBufferSteps,
): number {
  const n = readable.length + writable.length;
  switch (policy) {
    case "never":
      return steps.addChain(ring, readable, writable, token);
    case "always":
      if (!steps.allocTable) throw new TypeError("No allocator for an indirect table");
      return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
    case "auto":
      if (ring.indirect && steps.allocTable && n >= 2) {
        try {
          return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
        } catch (e) {
          if (!(e instanceof GuestOutOfMemoryError)) throw e;
        }
      }
      return steps.addChain(ring, readable, writable, token);
  }
}
