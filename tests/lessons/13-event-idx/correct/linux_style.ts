// Correct: the way Linux and vhost write it: vring_need_event on used_event
// over the batch since the last signal, used_event stored after every reap
// while callbacks are on (virtqueue_get_buf_ctx_split), disable writing
// last_used - 1 and enable writing last_used and looking again
// (virtqueue_enable_cb), avail_event moved behind the last entry taken.

import { vringNeedEvent } from "../../../../virtqueue/event_idx.ts";
import { VIRTQ_AVAIL_F_NO_INTERRUPT } from "../../../../virtqueue/constants.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_IDX_OFFSET } from "../../../../virtqueue/layout.ts";
import { checkAvailFlags } from "../../../../virtqueue/device/avail.ts";
import type { SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";

export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (!ring.eventIdx || ring.broken !== null) return;
  const event = ring.notifications ? ring.lastAvail : (ring.lastAvail - 1) & 0xffff;
  ring.memory.writeU16(ring.availEventAddr, event);
}

export function needsInterrupt(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null) return false;
  const old = ring.signalledUsed;
  const now = ring.usedIdx;
  if (old === now) return false;
  ring.signalledUsed = now;
  if (ring.eventIdx) return vringNeedEvent(ring.memory.readU16(ring.usedEventAddr), now, old);
  const flags = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
  checkAvailFlags(ring, flags);
  return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
}

export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (ring.eventIdx && ring.callbacks) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
}

export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.callbacks = false;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.usedEventAddr, (ring.lastUsed - 1) & 0xffff);
  } else {
    ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }
}

export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.callbacks = true;
  if (ring.eventIdx) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
  else ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
}
