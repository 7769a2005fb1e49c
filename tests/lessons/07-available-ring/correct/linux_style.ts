// Correct: Linux's shape. The slot is (avail idx + added) & mask, idx is a
// u16 that wraps by masking, the device computes the distance once and
// classifies it, and every refusal goes through breakDeviceRing.

import {
  availRingEntryOffset,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
} from "../../../../virtqueue/layout.ts";
import { HEAD_PUBLISHED, type SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import { breakDeviceRing, type SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";

export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = (ring.availIdx + ring.added) & ring.mask;
  ring.memory.writeU16(ring.availAddr + availRingEntryOffset(slot), head);
  ring.pending[ring.added] = head;
  ring.added++;
}

export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const n = ring.added;
  if (n === 0) return 0;
  for (let k = 0; k < n; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const idx = (ring.availIdx + n) & 0xffff;
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx);
  ring.availIdx = idx;
  ring.published += n;
  ring.added = 0;
  return n;
}

export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const idx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const pending = (idx - ring.lastAvail) & 0xffff;
  if (pending <= ring.size) return pending;
  const values = { idx, lastAvail: ring.lastAvail };
  if (pending > 0x8000) {
    breakDeviceRing(ring, "2.7.6.1/1", `idx moved back from ${ring.lastAvail} to ${idx}`, values);
  } else {
    breakDeviceRing(ring, "2.7.6/D1", `idx ${idx} is ${pending} entries ahead`, values);
  }
  return 0;
}

export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  checkAvailFlags(ring, ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET));
  const slot = ring.lastAvail & ring.mask;
  const head = ring.memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  if (head >= ring.size) {
    breakDeviceRing(ring, "2.7.5/D1", `slot ${slot} names descriptor ${head}`, { slot, head });
    return -1;
  }
  if (ring.inUse[head]) {
    breakDeviceRing(ring, "2.7.6/D2", `head ${head} is still the device's`, { slot, head });
    return -1;
  }
  ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
  return head;
}
