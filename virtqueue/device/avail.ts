/**
 * The device reading the available ring (virtio v1.2 §2.7.6) and steering
 * available buffer notifications (§2.7.10): how many chains the driver made
 * available, which head comes next, and the device's side of notification
 * suppression (`VIRTQ_USED_F_NO_NOTIFY`, or `avail_event` with
 * `VIRTIO_F_EVENT_IDX`).
 *
 * Each function is a device-side part over a {@linkcode SplitDeviceRing}.
 * They read the driver's fields through `ring.memory` and trust none of
 * them; a rule the driver broke is reported with its requirement id and,
 * where the device cannot go on, breaks the ring. A ring part outside RAM
 * makes them throw `GuestMemoryError`, which the queue class turns into a
 * 2.7.5/D2 violation (`ringAccessFailed`).
 *
 * @module
 */

import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import { breakDeviceRing, type SplitDeviceRing } from "./ring.ts";

// The names the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_F_NO_NOTIFY } = constants;
const {
  availRingEntryOffset,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
} = layout;

/**
 * How many chains the driver has made available that the device has not
 * taken: the distance from `ring.lastAvail` to the available `idx`, over the
 * whole 16-bit plane (idx 0x0002 seen from lastAvail 0xfffe is 4 ahead).
 *
 * A distance of more than Queue Size is impossible for a driver that keeps
 * the rules (the ring has only `size` slots): above 0x8000 it reads as the
 * driver moving `idx` back, taking exposed buffers away (2.7.6.1/1), below
 * that as running too far ahead (2.7.6/D1, QEMU's "Guest moved used index
 * from %u to %u"). Both break the ring. Reads `idx` only, so it is also the
 * re-check after notifications are enabled.
 *
 * @param ring The device ring.
 * @returns Chains available, from 0 to `ring.size`; 0 when the ring is (or just became) broken.
 * @throws {GuestMemoryError} If the available ring is not inside RAM.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 */
export function availableCount(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return 0;
  const availIdx = ring.memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET);
  const pending = (availIdx - ring.lastAvail) & 0xffff;
  return pending <= ring.size ? pending : availIdxImpossible(ring, availIdx);
}

/** Breaks the ring for an available `idx` more than Queue Size ahead; returns 0. */
function availIdxImpossible(ring: SplitDeviceRing, availIdx: number): 0 {
  const last = ring.lastAvail;
  const pending = (availIdx - last) & 0xffff;
  if (pending > 0x8000) {
    // Seen modulo 2^16, a step back looks like a huge step forward.
    breakDeviceRing(
      ring,
      "2.7.6.1/1",
      `Available idx went back from ${last} to ${availIdx}: exposed buffers cannot be taken back`,
      { availIdx, lastAvailIdx: last },
    );
  } else {
    breakDeviceRing(
      ring,
      "2.7.6/D1",
      `Available idx ${availIdx} is ${pending} entries ahead of the device's ${last}, ` +
        `more than the queue size ${ring.size}`,
      { availIdx, lastAvailIdx: last, size: ring.size },
    );
  }
  return 0;
}

/**
 * Takes the next available head: reads the available ring's `flags` (a
 * value the rules do not allow is logged, 2.7.7.1/1 or 2.7.7.1/2, once per
 * value, and the queue goes on), then `ring[lastAvail % size]`, and advances
 * `ring.lastAvail` (16-bit, wrapping).
 *
 * The head must name a descriptor (below Queue Size, 2.7.5/D1) and must not
 * be the head of a chain the device still holds: a driver cannot make a
 * chain available again before it came back in the used ring (2.7.6/D2;
 * QEMU's "Virtqueue size exceeded" class). Either breaks the ring.
 *
 * Call it only when {@linkcode availableCount} is above 0.
 *
 * @param ring The device ring.
 * @returns The head index, or -1 when the ring is (or just became) broken.
 * @throws {GuestMemoryError} If the available ring is not inside RAM.
 * @throws {ConformanceError} When the log is strict and a rule is broken or logged.
 */
export function availHead(ring: SplitDeviceRing): number {
  if (ring.broken !== null) return -1;
  const memory = ring.memory;
  checkAvailFlags(ring, memory.readU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET));
  // QEMU and vhost put a read barrier between reading idx and the ring
  // entry; in this single-threaded model program order already orders them.
  const last = ring.lastAvail;
  const slot = last & ring.mask;
  const head = memory.readU16(ring.availAddr + availRingEntryOffset(slot));
  if (head >= ring.size || ring.inUse[head] !== 0) return badHead(ring, slot, head);
  ring.lastAvail = (last + 1) & 0xffff;
  return head;
}

/** Breaks the ring for an available entry naming no descriptor, or one in flight; returns -1. */
function badHead(ring: SplitDeviceRing, slot: number, head: number): -1 {
  if (head >= ring.size) {
    breakDeviceRing(
      ring,
      "2.7.5/D1",
      `Available ring slot ${slot} names descriptor ${head}, beyond the queue size ${ring.size}`,
      { slot, head, size: ring.size },
    );
  } else {
    breakDeviceRing(
      ring,
      "2.7.6/D2",
      `Available ring slot ${slot} names descriptor ${head}, the head of a chain the device ` +
        "has not returned yet",
      { slot, head, inFlight: ring.inFlight },
    );
  }
  return -1;
}

/**
 * Moves `avail_event` after the device took an entry (§2.7.10, with
 * `VIRTIO_F_EVENT_IDX`): to `lastAvail`, the next entry the device has not
 * taken, while notifications are on, so the driver notifies when it
 * publishes the next entry (2.7.10/D2); to `lastAvail - 1` while they are
 * off, the one index the driver cannot cross before the device takes
 * another entry. Without `VIRTIO_F_EVENT_IDX` it stores nothing: the used
 * ring ends before `avail_event` then, and the bytes there are the driver's
 * (2.7.10/D3; rust-hypervisor-firmware PR #34 is a device that wrote it
 * anyway). Nothing either on a broken ring.
 *
 * The queue class calls it after every head taken, and reads the available
 * `idx` again (its next `availableCount`) only after this store: a driver
 * that published meanwhile, seeing the old value, did not notify.
 *
 * @param ring The device ring.
 * @throws {GuestMemoryError} If the used ring is not inside RAM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDeviceRing } from "./ring.ts";
 * import { updateAvailEvent } from "./avail.ts";
 *
 * const memory = new GuestMemory(4096);
 * const ring = createSplitDeviceRing({
 *   memory, index: 0, size: 4, eventIdx: true, indirect: false,
 *   descAddr: 0x0, availAddr: 0x100, usedAddr: 0x200, reporter: new ConformanceLog().scoped("q"),
 * }, { startIdx: 0xffff });
 * ring.lastAvail = 0; // entry 0xffff taken
 * updateAvailEvent(ring);
 * assert.equal(memory.readU16(ring.availEventAddr), 0);
 * ```
 */
export function updateAvailEvent(ring: SplitDeviceRing): void {
  if (!ring.eventIdx || ring.broken !== null) return;
  const last = ring.lastAvail;
  ring.memory.writeU16(ring.availEventAddr, ring.notifications ? last : (last - 1) & 0xffff);
}

/**
 * Asks the driver not to send available buffer notifications (§2.7.10):
 * sets `VIRTQ_USED_F_NO_NOTIFY` without `VIRTIO_F_EVENT_IDX`; with it, keeps
 * the used ring's `flags` at 0 (2.7.10.2/2) and moves `avail_event` to
 * `lastAvail - 1`, which the driver cannot reach before the device takes
 * another entry. Advisory only: the driver may still notify (2.7.10.2/3).
 *
 * @param ring The device ring.
 * @throws {GuestMemoryError} If the used ring is not inside RAM.
 */
export function disableNotifications(ring: SplitDeviceRing): void {
  if (ring.broken !== null) return;
  ring.notifications = false;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.availEventAddr, (ring.lastAvail - 1) & 0xffff);
  } else {
    ring.memory.writeU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET, VIRTQ_USED_F_NO_NOTIFY);
  }
}

/**
 * Asks for available buffer notifications again (§2.7.10): clears
 * `VIRTQ_USED_F_NO_NOTIFY`, or (with `VIRTIO_F_EVENT_IDX`) sets `avail_event`
 * to `lastAvail`; then reads the available `idx` again (2.7.10/D1). Without
 * that re-check a chain published while notifications were off would wait
 * for a notification that the driver, seeing them off, never sent.
 *
 * @param ring The device ring.
 * @returns `true` if chains are available (take them now); `false` otherwise
 *   and when the ring is broken.
 * @throws {GuestMemoryError} If a ring part is not inside RAM.
 */
export function enableNotifications(ring: SplitDeviceRing): boolean {
  if (ring.broken !== null) return false;
  ring.notifications = true;
  const memory = ring.memory;
  if (ring.eventIdx) {
    memory.writeU16(ring.availEventAddr, ring.lastAvail);
  } else {
    memory.writeU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET, 0);
  }
  // A full barrier belongs here in a multi-threaded model: publish the
  // suppression field, then look at idx again.
  return memory.readU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET) !== ring.lastAvail;
}

/**
 * Logs available ring `flags` the rules do not allow (each bad value once in
 * a row): only 0 or `VIRTQ_AVAIL_F_NO_INTERRUPT` without event idx
 * (2.7.7.1/1), only 0 with it (2.7.7.1/2). The queue goes on: the device
 * honours bit 0 without event idx and ignores flags with it.
 *
 * @param ring The device ring.
 * @param flags The available ring's `flags`, as read.
 * @throws {ConformanceError} When the log is strict and the value is bad.
 */
export function checkAvailFlags(ring: SplitDeviceRing, flags: number): void {
  // The common case in two tests: an allowed value, after an allowed value.
  const bad = ring.eventIdx ? flags : flags & ~VIRTQ_AVAIL_F_NO_INTERRUPT;
  if (bad !== 0 || ring.lastBadAvailFlags !== -1) availFlagsChanged(ring, flags, bad !== 0);
}

/** The slow path of {@linkcode checkAvailFlags}: a bad value, or the first good one after bad ones. */
function availFlagsChanged(ring: SplitDeviceRing, flags: number, bad: boolean): void {
  if (!bad) {
    ring.lastBadAvailFlags = -1;
    return;
  }
  if (flags === ring.lastBadAvailFlags) return; // reported already
  ring.lastBadAvailFlags = flags;
  const hex = `0x${flags.toString(16)}`;
  if (ring.eventIdx) {
    ring.reporter.report(
      "2.7.7.1/2",
      `Available ring flags are ${hex} although VIRTIO_F_EVENT_IDX was negotiated`,
      { flags },
      "logged; the device ignores flags and follows used_event",
    );
  } else {
    ring.reporter.report(
      "2.7.7.1/1",
      `Available ring flags are ${hex}; only 0 and 1 are allowed`,
      { flags },
      "logged; only VIRTQ_AVAIL_F_NO_INTERRUPT is honoured",
    );
  }
}
