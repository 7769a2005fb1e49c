// Mistake: loops are caught by marking each visited descriptor in the table
// itself (bit 15 of flags, which no flag uses) and clearing the marks when
// the walk is over: the device writes the driver's descriptor table, which it
// must never do, and a driver looking at it meanwhile sees flags it never
// wrote.
// Source: none
// Must fail: "the device never writes the descriptor table" [2.7.5.1/2]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

const MARK = 0x8000;

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  const marked: number[] = [];
  const unmark = () => {
    for (const i of marked) {
      m.writeU16(ring.descAddr + 16 * i + 12, m.readU16(ring.descAddr + 16 * i + 12) & ~MARK);
    }
  };
  try {
    const readable: BufferSegment[] = [];
    const writable: BufferSegment[] = [];
    let total = 0;
    for (let i = head;;) {
      const at = ring.descAddr + 16 * i;
      const raw = m.readU16(at + 12);
      if (raw & MARK) {
        return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} loops at ${i}`, {});
      }
      m.writeU16(at + 12, raw | MARK);
      marked.push(i);
      const flags = raw;
      const addr = m.readU64Number(at);
      const len = m.readU32(at + 8);
      if (flags & 4) {
        Object.assign(ring.indirectDesc, { index: i, addr, len, flags });
        return chain(head, readable, writable, marked.length, true);
      }
      if (len === 0) return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} is empty`, {});
      if (!m.contains(addr, len)) {
        return breakDeviceRing(ring, "2.7.5/D2", `Descriptor ${i} is outside RAM`, {});
      }
      if ((total += len) > 2 ** 32) return breakDeviceRing(ring, "2.7.5.2/1", "Over 4 GiB", {});
      if (flags & 2) writable.push({ addr, len });
      else if (writable.length) {
        return breakDeviceRing(ring, "2.7.4.2/1", `Readable ${i} after writable`, {});
      } else readable.push({ addr, len });
      if (!(flags & 1)) return chain(head, readable, writable, marked.length, false);
      const next = m.readU16(at + 14);
      if (next >= ring.size) {
        return breakDeviceRing(ring, "2.7.5/D1", `next ${next} is out of the table`, {});
      }
      i = next;
    }
  } finally {
    unmark();
  }
}

function chain(
  head: number,
  readable: BufferSegment[],
  writable: BufferSegment[],
  descriptorCount: number,
  indirect: boolean,
): DescriptorChain {
  const sum = (l: BufferSegment[]) => l.reduce((n, s) => n + s.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount,
    indirect,
  };
}
