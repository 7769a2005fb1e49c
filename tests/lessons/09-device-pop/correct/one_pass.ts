// Correct: one pass in the style of QEMU's virtqueue_split_pop, each
// descriptor read into locals and checked as it is met, RAM bounds included;
// a counter bounds the walk by Queue Size.

import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../../../virtqueue/constants.ts";
import {
  descOffset,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
} from "../../../../virtqueue/layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const readable: BufferSegment[] = [];
  const writable: BufferSegment[] = [];
  let readableLength = 0;
  let writableLength = 0;
  let count = 0;
  let i = head;
  for (;;) {
    if (count === ring.size) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} loops`, { head, count });
    }
    count++;
    const at = ring.descAddr + descOffset(i);
    const addr = ring.memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET);
    const len = ring.memory.readU32(at + VIRTQ_DESC_LEN_OFFSET);
    const flags = ring.memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET);
    const next = ring.memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET);
    if (flags & VIRTQ_DESC_F_INDIRECT) {
      Object.assign(ring.indirectDesc, { index: i, addr, len, flags });
      return {
        head,
        readable,
        writable,
        readableLength,
        writableLength,
        descriptorCount: count,
        indirect: true,
      };
    }
    if (len === 0) {
      return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} is empty`, { head, desc: i });
    }
    if (!ring.memory.contains(addr, len)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Descriptor ${i} is outside RAM`, {
        head,
        desc: i,
        addr,
        len,
      });
    }
    if (readableLength + writableLength + len > 2 ** 32) {
      return breakDeviceRing(ring, "2.7.5.2/1", `Chain ${head} is over 4 GiB`, { head });
    }
    if (flags & VIRTQ_DESC_F_WRITE) {
      writable.push({ addr, len });
      writableLength += len;
    } else if (writable.length > 0) {
      return breakDeviceRing(ring, "2.7.4.2/1", `Descriptor ${i} is readable after writable`, {
        head,
        desc: i,
      });
    } else {
      readable.push({ addr, len });
      readableLength += len;
    }
    if (!(flags & VIRTQ_DESC_F_NEXT)) break;
    if (next >= ring.size) {
      return breakDeviceRing(ring, "2.7.5/D1", `Descriptor ${i} has next ${next}`, {
        head,
        desc: i,
        next,
      });
    }
    i = next;
  }
  return {
    head,
    readable,
    writable,
    readableLength,
    writableLength,
    descriptorCount: count,
    indirect: false,
  };
}
