// Mistake: len is read as a 16-bit field: a descriptor claiming 0xffff_ffff
// bytes is seen as 0xffff bytes, inside RAM, and taken.
// Source: none (QEMU CVE-2016-7422 is a crash from a descriptor length near 2^32)
// Must fail: "a buffer or table outside RAM is refused, one ending on its last byte taken" [2.7.5/D2]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  const readable: BufferSegment[] = [];
  const writable: BufferSegment[] = [];
  let readableLength = 0;
  let writableLength = 0;
  let count = 0;
  let i = head;
  for (;;) {
    if (count === ring.size) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} is longer than ${ring.size}`, {
        head,
      });
    }
    count++;
    const at = ring.descAddr + 16 * i;
    const addr = m.readU64Number(at);
    const len = m.readU16(at + 8);
    const flags = m.readU16(at + 12);
    const next = m.readU16(at + 14);
    if (flags & INDIRECT) {
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
    if (len === 0) return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} has length 0`, { i });
    if (!m.contains(addr, len)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Descriptor ${i} is not in RAM`, { i, addr, len });
    }
    if (readableLength + writableLength + len > 2 ** 32) {
      return breakDeviceRing(ring, "2.7.5.2/1", `Chain ${head} is over 4 GiB`, { head });
    }
    if (flags & WRITE) {
      writable.push({ addr, len });
      writableLength += len;
    } else if (writableLength > 0) {
      return breakDeviceRing(ring, "2.7.4.2/1", `Descriptor ${i}: readable after writable`, { i });
    } else {
      readable.push({ addr, len });
      readableLength += len;
    }
    if (!(flags & NEXT)) break;
    if (next >= ring.size) {
      return breakDeviceRing(ring, "2.7.5/D1", `Descriptor ${i} has next ${next}`, { i, next });
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
