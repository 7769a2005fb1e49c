// Correct: the freedoms the contract leaves. addr read as a bigint and
// turned into a number only when it is safe; next read only when the chain
// goes on; the order of the checks inside a descriptor is this solution's own
// (the order of writable and readable first, then the total, then the length);
// messages carry no values; the chain is built as a frozen record.

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

const FOUR_GIB = 1n << 32n;
const OUTSIDE = "A buffer lies outside RAM";
type Seg = { readonly writable: boolean; readonly seg: BufferSegment };
const allInRam = (memory: SplitDeviceRing["memory"], segments: readonly Seg[]) =>
  segments.every(({ seg }) => memory.contains(seg.addr, seg.len));

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const { memory, size, descAddr } = ring;
  const segments: Seg[] = [];
  let total = 0n;
  let index = head;
  for (let walked = 1;; walked++) {
    if (walked > size) return breakDeviceRing(ring, "2.7.5.3.1/3", "The chain never ends", {});
    const base = descAddr + index * 16;
    const wide = memory.readU64(base);
    const addr = wide > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(wide);
    const len = memory.readU32(base + 8);
    const flags = memory.readU16(base + 12);
    if ((flags & 0b100) !== 0) {
      if (!allInRam(memory, segments)) return breakDeviceRing(ring, "2.7.5/D2", OUTSIDE, {});
      ring.indirectDesc.index = index;
      ring.indirectDesc.addr = addr;
      ring.indirectDesc.len = len;
      ring.indirectDesc.flags = flags;
      return finish(head, segments, walked, true);
    }
    const writable = (flags & 0b10) !== 0;
    if (!writable && segments.some((s) => s.writable)) {
      return breakDeviceRing(ring, "2.7.4.2/1", "A readable buffer follows a writable one", {});
    }
    total += BigInt(len);
    if (total > FOUR_GIB) return breakDeviceRing(ring, "2.7.5.2/1", "Over 4 GiB in one chain", {});
    if (len === 0) return breakDeviceRing(ring, "2.7.5/D3", "A descriptor with no bytes", {});
    segments.push({ writable, seg: { addr, len } });
    if ((flags & 0b1) === 0) {
      if (!allInRam(memory, segments)) return breakDeviceRing(ring, "2.7.5/D2", OUTSIDE, {});
      return finish(head, segments, walked, false);
    }
    const next = memory.readU16(base + 14);
    if (next >= size) return breakDeviceRing(ring, "2.7.5/D1", "The chain leaves the table", {});
    index = next;
  }
}

function finish(
  head: number,
  segments: readonly Seg[],
  descriptorCount: number,
  indirect: boolean,
): DescriptorChain | null {
  const readable = segments.filter((s) => !s.writable).map((s) => s.seg);
  const writable = segments.filter((s) => s.writable).map((s) => s.seg);
  return Object.freeze({
    head,
    readable,
    writable,
    readableLength: readable.reduce((n, s) => n + s.len, 0),
    writableLength: writable.reduce((n, s) => n + s.len, 0),
    descriptorCount,
    indirect,
  });
}
