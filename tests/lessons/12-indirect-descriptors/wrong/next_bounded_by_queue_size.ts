// Mistake: an entry's next is checked against Queue Size, as in the descriptor
// table, instead of against the table's own number of entries.
// Source: none
// Must fail: "a descriptor index beyond the table is refused" [2.7.5/D1]

// deno-lint-ignore-file no-unused-vars
import type { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../../../../virtqueue/constants.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { HEAD_ADDED, SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../../../virtqueue/driver/add.ts";
import type {
  BufferSegment,
  DescriptorChain,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export { addBuffers, addIndirectChain } from "../correct/one_pass.ts";

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
    if (next >= ring.size) {
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
