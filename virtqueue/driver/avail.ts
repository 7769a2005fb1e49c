/**
 * The driver making chains available (virtio v1.2 §2.7.13.2 to §2.7.13.4,
 * Linux's `virtqueue_add_split` tail and `virtqueue_kick_prepare_split`):
 * each head goes into the next available ring entry, a batch of entries
 * becomes visible when `idx` moves past them, and then the driver decides
 * whether the device wants to be told.
 *
 * @module
 */

import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import * as eventIdx from "../event_idx.ts";
import * as driverRing from "./ring.ts";
import type { SplitDriverRing } from "./ring.ts";

// The names the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const { VIRTQ_USED_F_NO_NOTIFY } = constants;
const { availRingEntryOffset, VIRTQ_AVAIL_IDX_OFFSET, VIRTQ_USED_FLAGS_OFFSET } = layout;
const { vringNeedEvent } = eventIdx;
const { HEAD_PUBLISHED } = driverRing;

/**
 * Puts `head` in the next available ring entry (§2.7.13.2): slot
 * `(availIdx + added) % size`, where `added` counts the entries placed since
 * the last `publishAvail`. The device cannot see the entry yet: `idx` does
 * not move (that is `publishAvail`'s step), so several chains can be
 * published together. The head is also remembered in `ring.pending`.
 *
 * @param ring The driver ring, with fewer than `size` heads placed since the last publish.
 * @param head The head `addChain` or `addIndirectChain` returned.
 * @throws {GuestMemoryError} If the available ring is not inside RAM (never for a
 *   ring built by `createSplitDriverRing`, which checks its parts).
 */
export function placeAvailEntry(ring: SplitDriverRing<unknown>, head: number): void {
  const slot = (ring.availIdx + ring.added) & ring.mask;
  ring.memory.writeU16(ring.availAddr + availRingEntryOffset(slot), head);
  ring.pending[ring.added++] = head;
}

/**
 * Makes the entries placed since the last call visible (§2.7.13.3): adds
 * their number to the available `idx` (16-bit, free-running: 0xffff + 1 is
 * 0, never taken modulo the Queue Size) and stores it, after the entries and
 * their descriptors are in place (2.7.13.3.1/1). The heads become
 * `HEAD_PUBLISHED` in the shadow (the device may now return them),
 * `ring.availIdx` and `ring.published` move, and `ring.added` goes back to 0.
 *
 * @param ring The driver ring.
 * @returns How many chains were published (0: nothing was placed, nothing written).
 * @throws {GuestMemoryError} If the available ring is not inside RAM (never for a
 *   ring built by `createSplitDriverRing`).
 */
export function publishAvail(ring: SplitDriverRing<unknown>): number {
  const added = ring.added;
  if (added === 0) return 0;
  for (let k = 0; k < added; k++) ring.state[ring.pending[k]] = HEAD_PUBLISHED;
  const newIdx = (ring.availIdx + added) & 0xffff;
  // 2.7.13.3.1/1 asks for a write barrier here, so that the device sees the
  // descriptors and ring entries before the new idx. This model runs the
  // driver and the device on one JavaScript thread over one ArrayBuffer:
  // every store is complete and visible, in program order, before the next
  // statement runs, and the device half only runs after this call returns.
  // A device in a worker sharing a SharedArrayBuffer would need
  // Atomics.store for idx (a release store) to get the same guarantee.
  ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, newIdx);
  ring.availIdx = newIdx;
  ring.added = 0;
  ring.published += added;
  return added;
}

/**
 * Whether the device wants an available buffer notification for the chains
 * just published (§2.7.10.1), read after the new `idx` is stored
 * (2.7.13.4.1/1):
 *
 * - without `VIRTIO_F_EVENT_IDX`, unless the used ring's `flags` hold
 *   `VIRTQ_USED_F_NO_NOTIFY` (2.7.10.1/2; bits the device may not set are
 *   logged, 2.7.10.2/1);
 * - with it, if one of the entries from `oldIdx` to `availIdx - 1` sits at
 *   index `avail_event`: `vringNeedEvent(avail_event, availIdx, oldIdx)`,
 *   ignoring `flags` (2.7.10.1/3).
 *
 * @param ring The driver ring, just after `publishAvail`.
 * @param oldIdx The available `idx` before that `publishAvail`.
 * @returns `true` if the caller should notify the device.
 * @throws {ConformanceError} When the log is strict and bad flags are logged.
 */
export function needsKick(ring: SplitDriverRing<unknown>, oldIdx: number): boolean {
  const memory = ring.memory;
  // 2.7.13.4.1/1: a full barrier between storing idx and reading the
  // device's suppression fields; the single-thread argument of publishAvail applies.
  if (ring.eventIdx) {
    return vringNeedEvent(memory.readU16(ring.availEventAddr), ring.availIdx, oldIdx);
  }
  const flags = memory.readU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET);
  checkUsedFlags(ring, flags);
  return (flags & VIRTQ_USED_F_NO_NOTIFY) === 0;
}

/**
 * Logs used ring `flags` the device may not set (each bad value once in a
 * row): only 0 or `VIRTQ_USED_F_NO_NOTIFY` without event idx (2.7.10.2/1),
 * only 0 with it (2.7.10.2/2). The queue goes on: the driver honours bit 0
 * without event idx and ignores flags with it.
 *
 * @param ring The driver ring.
 * @param flags The used ring's `flags`, as read.
 * @throws {ConformanceError} When the log is strict and the value is bad.
 */
export function checkUsedFlags(ring: SplitDriverRing<unknown>, flags: number): void {
  // The common case in two tests: an allowed value, after an allowed value.
  const bad = ring.eventIdx ? flags : flags & ~VIRTQ_USED_F_NO_NOTIFY;
  if (bad !== 0 || ring.lastBadUsedFlags !== -1) usedFlagsChanged(ring, flags, bad !== 0);
}

/** The slow path of {@linkcode checkUsedFlags}: a bad value, or the first good one after bad ones. */
function usedFlagsChanged(ring: SplitDriverRing<unknown>, flags: number, bad: boolean): void {
  if (!bad) {
    ring.lastBadUsedFlags = -1;
    return;
  }
  if (flags === ring.lastBadUsedFlags) return; // reported already
  ring.lastBadUsedFlags = flags;
  const hex = `0x${flags.toString(16)}`;
  if (ring.eventIdx) {
    ring.reporter.report(
      "2.7.10.2/2",
      `Used ring flags are ${hex} although VIRTIO_F_EVENT_IDX was negotiated`,
      { flags },
      "logged; the driver ignores flags and follows avail_event",
    );
  } else {
    ring.reporter.report(
      "2.7.10.2/1",
      `Used ring flags are ${hex}; only 0 and 1 are allowed`,
      { flags },
      "logged; only VIRTQ_USED_F_NO_NOTIFY is honoured",
    );
  }
}
