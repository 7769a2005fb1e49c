// Mistake: a bad chain is reported to the log and skipped, but the ring is
// not broken: the device carries on with a driver that just broke the rules,
// never sets DEVICE_NEEDS_RESET, and the refused chain is never returned.
// Source: none
// Must fail: "a refused chain breaks the queue" [2.1.2/3]

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
    if (count === ring.size) {
      ring.reporter.report("2.7.5.3.1/3", `Chain ${head} is longer than ${ring.size}`, { head });
      return null;
    }
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
    if (len === 0) {
      ring.reporter.report("2.7.5/D3", `Descriptor ${i} has length 0`, { i });
      return null;
    }
    if (!m.contains(addr, len)) {
      ring.reporter.report("2.7.5/D2", `Descriptor ${i} is not in RAM`, { i, addr, len });
      return null;
    }
    if (readableLength + writableLength + len > 2 ** 32) {
      ring.reporter.report("2.7.5.2/1", `Chain ${head} is over 4 GiB`, { head });
      return null;
    }
    if (flags & WRITE) {
      writable.push({ addr, len });
      writableLength += len;
    } else if (writableLength > 0) {
      ring.reporter.report("2.7.4.2/1", `Descriptor ${i}: readable after writable`, { i });
      return null;
    } else {
      readable.push({ addr, len });
      readableLength += len;
    }
    if (!(flags & NEXT)) break;
    if (next >= ring.size) {
      ring.reporter.report("2.7.5/D1", `Descriptor ${i} has next ${next}`, { i, next });
      return null;
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
