// Correct: takes every freedom the contracts leave. Off values are as far
// from the ring as they get (half the index space away, where no entry
// within Queue Size can reach); a reap with notifications off re-writes that
// far value instead of leaving the field alone; with event idx the device
// reads the flags anyway and reports a non-zero value as 2.7.7.1/2 (availHead
// does too); the avail_event store is written twice, the second one final.

import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

const far = (idx: number) => (idx + 0x8000) & 0xffff;

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (!ring.eventIdx || ring.broken) return;
  ring.memory.writeU16(ring.availEventAddr, far(ring.lastAvail));
  if (ring.notifications) ring.memory.writeU16(ring.availEventAddr, ring.lastAvail);
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  const flags = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  if (ring.broken) return false;
  const old = ring.signalledUsed;
  if (old === ring.usedIdx) return false;
  ring.signalledUsed = ring.usedIdx;
  checkAvailFlags(ring, flags); // 2.7.7.1/2 with event idx, 2.7.7.1/1 without
  if (!ring.eventIdx) return (flags & 1) === 0;
  return vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), ring.usedIdx, old);
}

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (!ring.eventIdx) return;
  ring.memory.writeU16(ring.usedEventAddr, ring.callbacks ? ring.lastUsed : far(ring.lastUsed));
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, far(ring.lastUsed));
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 1);
  ring.callbacks = false;
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  ring.callbacks = true;
  const used = ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET);
  return used === ring.lastUsed;
}
