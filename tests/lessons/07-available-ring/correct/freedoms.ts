// Correct: every freedom the contract leaves. publishAvail stores idx even
// when nothing was placed (the same value: nothing changes); the device
// reads idx and the flags even on a broken ring before answering, and moves
// lastAvail before it looks at the head, so a refused head leaves it moved
// (the ring is broken then, and lastAvail means nothing).

import {
  availRingEntryOffset,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
} from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const k = ring.added++;
  ring.pending[k] = head;
  ring.memory.writeU16(
    ring.availAddr + availRingEntryOffset((ring.availIdx + k) & ring.mask),
    head,
  );
}

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  const idx = (ring.availIdx + n) & 0xffff;
  for (const head of ring.pending.subarray(0, n)) ring.state[head] = HEAD_PUBLISHED;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  Object.assign(ring, { availIdx: idx, added: 0, published: ring.published + n });
  return n;
}

export function availableCount(ring: SplitDeviceRing): number {
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  if (ring.broken) return 0;
  const ahead = (idx - ring.lastAvail + 0x10000) & 0xffff;
  if (ahead <= ring.size) return ahead;
  const back = ahead >= 0x8001;
  breakDeviceRing(
    ring,
    back ? "2.7.6.1/1" : "2.7.6/D1",
    back ? "The driver took buffers back" : "The driver made more available than the ring holds",
    { idx, lastAvail: ring.lastAvail, size: ring.size },
  );
  return 0;
}

export function availHead(ring: SplitDeviceRing): number {
  const flags = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  if (ring.broken) return -1;
  checkAvailFlags(ring, flags);
  const slot = ring.lastAvail % ring.size;
  ring.lastAvail = (ring.lastAvail + 1) % 0x10000;
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  const problem = head >= ring.size ? "2.7.5/D1" : ring.inUse[head] !== 0 ? "2.7.6/D2" : null;
  if (problem === null) return head;
  breakDeviceRing(ring, problem, `Slot ${slot} holds head ${head}`, { slot, head });
  return -1;
}
