// Correct: two phases. First copy the chain's descriptors out of guest memory,
// each field read once, marking visited descriptors to stop a loop; then
// check the copies, shape first and RAM last, and build the chain from them.
// The table is never read again after the copy.

import { NO_SEGMENTS } from "../../../../virtqueue/device/walk.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { DescriptorChain } from "../../../../virtqueue/types.ts";

interface Copy {
  readonly index: number;
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
}

export function walkChain(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const m = ring.memory;
  const seen = new Uint8Array(ring.size);
  const copies: Copy[] = [];
  let stop: "end" | "indirect" = "end";
  for (let i = head;;) {
    if (seen[i]) {
      return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} comes back to descriptor ${i}`, {
        head,
        desc: i,
      });
    }
    seen[i] = 1;
    const at = ring.descAddr + 16 * i;
    const copy = {
      index: i,
      addr: m.readU64Number(at),
      len: m.readU32(at + 8),
      flags: m.readU16(at + 12),
    };
    copies.push(copy);
    if (copy.flags & 4) {
      stop = "indirect";
      break;
    }
    if (!(copy.flags & 1)) break;
    const next = m.readU16(at + 14);
    if (next >= ring.size) {
      return breakDeviceRing(
        ring,
        "2.7.5/D1",
        `next ${next} of descriptor ${i} is out of the table`,
        {
          head,
          next,
        },
      );
    }
    i = next;
  }
  const direct = stop === "indirect" ? copies.slice(0, -1) : copies;
  let total = 0;
  let writing = false;
  for (const d of direct) {
    if (d.len === 0) {
      return breakDeviceRing(ring, "2.7.5/D3", `Zero-length descriptor ${d.index}`, { head });
    }
    total += d.len;
    if (total > 0x1_0000_0000) {
      return breakDeviceRing(ring, "2.7.5.2/1", `${total} bytes in one chain`, { head, total });
    }
    if (d.flags & 2) writing = true;
    else if (writing) {
      return breakDeviceRing(ring, "2.7.4.2/1", `Readable ${d.index} after writable`, { head });
    }
  }
  for (const d of direct) {
    if (!m.contains(d.addr, d.len)) {
      return breakDeviceRing(ring, "2.7.5/D2", `Buffer of descriptor ${d.index} is not in RAM`, {
        head,
      });
    }
  }
  if (stop === "indirect") {
    const last = copies[copies.length - 1];
    ring.indirectDesc.index = last.index;
    ring.indirectDesc.addr = last.addr;
    ring.indirectDesc.len = last.len;
    ring.indirectDesc.flags = last.flags;
  }
  const readable = direct.filter((d) => !(d.flags & 2)).map(({ addr, len }) => ({ addr, len }));
  const writable = direct.filter((d) => d.flags & 2).map(({ addr, len }) => ({ addr, len }));
  const sum = (list: readonly { len: number }[]) => list.reduce((n, s) => n + s.len, 0);
  return {
    head,
    readable: readable.length ? readable : NO_SEGMENTS,
    writable: writable.length ? writable : NO_SEGMENTS,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: copies.length,
    indirect: stop === "indirect",
  };
}
