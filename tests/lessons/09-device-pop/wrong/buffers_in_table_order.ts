// Mistake: the buffers are collected by descriptor index (a sparse array,
// compacted at the end), which is the chain's order only when the driver
// happens to link descriptors upwards: a chain that runs 7, 6, 5, 4 comes back
// in the order 4, 5, 6, 7, its data scrambled.
// Source: none
// Must fail: "a chain is taken whatever its framing" [2.7.4.1/1]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  const byIndex: { seg: BufferSegment; writable: boolean }[] = [];
  let total = 0;
  let writing = false;
  let count = 0;
  for (let i = head;;) {
    if (count++ === ring.size) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} loops`, {});
    }
    const at = ring.descAddr + 16 * i;
    const addr = m.readU64Number(at);
    const len = m.readU32(at + 8);
    const flags = m.readU16(at + 12);
    const next = m.readU16(at + 14);
    if (flags & 4) {
      Object.assign(ring.indirectDesc, { index: i, addr, len, flags });
      return finish(head, byIndex, count, true);
    }
    if (len === 0) return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} is empty`, {});
    if (!m.contains(addr, len)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Descriptor ${i} is outside RAM`, {});
    }
    if ((total += len) > 2 ** 32) return breakDeviceRing(ring, "2.7.5.2/1", "Over 4 GiB", {});
    if (flags & 2) writing = true;
    else if (writing) return breakDeviceRing(ring, "2.7.4.2/1", `Readable ${i} after writable`, {});
    byIndex[i] = { seg: { addr, len }, writable: (flags & 2) !== 0 };
    if (!(flags & 1)) return finish(head, byIndex, count, false);
    if (next >= ring.size) {
      return breakDeviceRing(ring, "2.7.5/D1", `next ${next} is out of the table`, {});
    }
    i = next;
  }
}

function finish(
  head: number,
  byIndex: { seg: BufferSegment; writable: boolean }[],
  descriptorCount: number,
  indirect: boolean,
): DescriptorChain {
  const all = byIndex.filter((e) => e !== undefined);
  const readable = all.filter((e) => !e.writable).map((e) => e.seg);
  const writable = all.filter((e) => e.writable).map((e) => e.seg);
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
