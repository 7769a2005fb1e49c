// Mistake: the walker checks the chain in a first pass, then walks it again
// to collect the buffers, reading each descriptor from guest memory a second
// time: a driver that rewrites a len between the two passes gets a buffer the
// device never checked (a double fetch).
// Source: FreeBSD-SA-24:17.bhyve, "bhyve: avoid TOCTOU on iov_len in virtio_vq_recordon()"
// (commit 9b11b889402a, review D45735): iov_len was read from guest memory twice
// Must fail: "each descriptor is read once: a field rewritten after its first read changes nothing" [2.7.5/D2]

import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { BufferSegment, DescriptorChain } from "../../../../virtqueue/types.ts";

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  // Pass 1: is the chain valid?
  let count = 0;
  let total = 0;
  let writing = false;
  let indirect = false;
  for (let i = head;;) {
    if (count++ === ring.size) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} loops`, {});
    }
    const at = ring.descAddr + 16 * i;
    const flags = m.readU16(at + 12);
    if (flags & 4) {
      indirect = true;
      Object.assign(ring.indirectDesc, {
        index: i,
        addr: m.readU64Number(at),
        len: m.readU32(at + 8),
        flags,
      });
      break;
    }
    const len = m.readU32(at + 8);
    if (len === 0) return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} is empty`, {});
    if (!m.contains(m.readU64Number(at), len)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Descriptor ${i} is outside RAM`, {});
    }
    if ((total += len) > 2 ** 32) return breakDeviceRing(ring, "2.7.5.2/1", "Over 4 GiB", {});
    if (flags & 2) writing = true;
    else if (writing) return breakDeviceRing(ring, "2.7.4.2/1", `Readable ${i} after writable`, {});
    if (!(flags & 1)) break;
    const next = m.readU16(at + 14);
    if (next >= ring.size) {
      return breakDeviceRing(ring, "2.7.5/D1", `next ${next} is out of the table`, {});
    }
    i = next;
  }
  // Pass 2: it is valid, collect its buffers.
  const readable: BufferSegment[] = [];
  const writable: BufferSegment[] = [];
  for (let i = head, k = 0; k < count - (indirect ? 1 : 0); k++) {
    const at = ring.descAddr + 16 * i;
    const segment = { addr: m.readU64Number(at), len: m.readU32(at + 8) };
    (m.readU16(at + 12) & 2 ? writable : readable).push(segment);
    i = m.readU16(at + 14);
  }
  const sum = (l: BufferSegment[]) => l.reduce((n, s) => n + s.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: count,
    indirect,
  };
}
