/**
 * The device returning buffers through the used ring (virtio v1.2 §2.7.8)
 * and deciding whether the driver wants to hear about it (§2.7.7): used
 * buffer notification suppression by `VIRTQ_AVAIL_F_NO_INTERRUPT`, or by
 * `used_event` with `VIRTIO_F_EVENT_IDX`.
 *
 * Device-side parts over a {@linkcode SplitDeviceRing}; a ring part outside
 * RAM makes them throw `GuestMemoryError`, which the queue class turns into
 * a 2.7.5/D2 violation.
 *
 * @module
 */

import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import * as eventIdx from "../event_idx.ts";
import * as deviceAvail from "./avail.ts";
import type { SplitDeviceRing } from "./ring.ts";

// The names the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const { VIRTQ_AVAIL_F_NO_INTERRUPT } = constants;
const {
  usedElemOffset,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} = layout;
const { vringNeedEvent } = eventIdx;
const { checkAvailFlags } = deviceAvail;

/**
 * Returns a chain to the driver: writes the used element at slot
 * `usedIdx % size` (`id = head`, `len`), then advances the used `idx`
 * (16-bit, wrapping) and `ring.usedIdx`. The element is complete before
 * `idx` moves (2.7.8.2/1), so the driver never sees a new entry without its
 * `len`.
 *
 * `len` is the number of bytes the device wrote into the chain's writable
 * buffers, from the first one on (2.7.8.2/2): 0 for a chain the device only
 * read, never the readable bytes. The queue class checks that `head` is a
 * chain the device holds and that `len` is at most its writable bytes
 * before calling this (a device model's mistake, not the driver's).
 *
 * @param ring The device ring.
 * @param head The chain's head index, as popped.
 * @param len Bytes written, from 0 to the chain's writable length.
 * @throws {GuestMemoryError} If the used ring is not inside RAM.
 */
export function pushUsed(ring: SplitDeviceRing, head: number, len: number): void {
  const memory = ring.memory;
  const elem = ring.usedAddr + usedElemOffset(ring.usedIdx & ring.mask);
  memory.writeU32(elem + VIRTQ_USED_ELEM_ID_OFFSET, head);
  memory.writeU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET, len);
  // 2.7.8.2/1: a write barrier belongs here in a multi-threaded model; in
  // this one, program order makes the element visible before idx.
  const usedIdx = (ring.usedIdx + 1) & 0xffff;
  memory.writeU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET, usedIdx);
  ring.usedIdx = usedIdx;
}

/**
 * Whether the driver wants a used buffer notification for the entries
 * pushed since the last decision, which this call consumes (it moves
 * `ring.signalledUsed` to `ring.usedIdx`):
 *
 * - without `VIRTIO_F_EVENT_IDX`, unless `VIRTQ_AVAIL_F_NO_INTERRUPT` is set
 *   in the available ring's `flags` (2.7.7.2/1; other bits are logged,
 *   2.7.7.1/1);
 * - with it, if one of those entries sits at index `used_event`, by
 *   `vringNeedEvent(used_event, usedIdx, signalledUsed)` (2.7.7.2/2; `flags`
 *   is ignored).
 *
 * @param ring The device ring.
 * @returns `true` if the transport should raise the used buffer interrupt;
 *   `false` when nothing was pushed, the driver suppressed it, or the ring is broken.
 * @throws {GuestMemoryError} If the available ring is not inside RAM.
 * @throws {ConformanceError} When the log is strict and bad flags are logged.
 */
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
