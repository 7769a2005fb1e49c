// Mistake: a bad chain throws a RangeError, as a library function meeting a
// bad argument would: here the argument comes from the guest, and the throw
// reaches the device model (or the whole hypervisor process).
// Source: none
// Must fail: "a chain that loops or runs past Queue Size is refused" [2.7.5.3.1/3]

import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
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
    if (count === ring.size) throw new RangeError(`Chain ${head} is longer than ${ring.size}`);
    count++;
    const at = ring.descAddr + 16 * i;
    const addr = m.readU64Number(at);
    const len = m.readU32(at + 8);
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
    if (len === 0) throw new RangeError(`Descriptor ${i} has length 0`);
    if (!m.contains(addr, len)) throw new RangeError(`Descriptor ${i} is not in RAM`);
    if (readableLength + writableLength + len > 2 ** 32) throw new RangeError("Over 4 GiB");
    if (flags & WRITE) {
      writable.push({ addr, len });
      writableLength += len;
    } else if (writableLength > 0) {
      throw new RangeError(`Descriptor ${i}: readable after writable`);
    } else {
      readable.push({ addr, len });
      readableLength += len;
    }
    if (!(flags & NEXT)) break;
    if (next >= ring.size) throw new RangeError(`Descriptor ${i} has next ${next}`);
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
