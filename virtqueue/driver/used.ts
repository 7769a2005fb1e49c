/**
 * The driver receiving used buffers (virtio v1.2 §2.7.14, §2.7.8; Linux's
 * `virtqueue_get_buf_ctx_split`) and steering used buffer notifications
 * (§2.7.7: `VIRTQ_AVAIL_F_NO_INTERRUPT`, or `used_event` with
 * `VIRTIO_F_EVENT_IDX`).
 *
 * Every used entry is checked against the shadow of what was posted; an
 * entry that does not fit breaks the ring (Linux's `BAD_RING`), so nothing
 * is freed on the device's word alone.
 *
 * @module
 */

import * as constants from "../constants.ts";
import * as layout from "../layout.ts";
import type { UsedBuffer } from "../types.ts";
import * as driverAvail from "./avail.ts";
import * as driverRing from "./ring.ts";
import { breakDriverRing, type SplitDriverRing } from "./ring.ts";

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
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} = layout;
const { checkUsedFlags } = driverAvail;
const { HEAD_PUBLISHED } = driverRing;

/**
 * Reaps the used entry at `ring.lastUsed`, if the used `idx` has moved past
 * it, and checks it against the shadow before trusting it:
 *
 * | rule | broken when |
 * | --- | --- |
 * | 2.7.8/D2 | the used `idx` is further ahead than the chains published and not reaped |
 * | 2.7.8/D1 | `id` is Queue Size or more, or not the head of a published, unreaped chain |
 * | 2.7.8.2/2 | `len` is more than the chain's device-writable bytes |
 *
 * Any of them breaks the ring and nothing is freed. Used ring `flags` the
 * device may not set are only logged (2.7.10.2/1, 2.7.10.2/2). On success
 * `ring.lastUsed` (16-bit) and `ring.published` move first, then `detach`
 * releases the chain and gives its token.
 *
 * @param ring The driver ring.
 * @param detach Releases the chain at a head and returns its token
 *   (the queue class binds `detachChain` to the ring and the allocator).
 * @returns The token and `len`, or `null` when nothing is pending or the ring is (or just became) broken.
 * @throws {ConformanceError} When the log is strict and a check fails.
 */
export function getBuf<T>(
  ring: SplitDriverRing<T>,
  detach: (head: number) => T,
): UsedBuffer<T> | null {
  if (ring.broken !== null) return null;
  const memory = ring.memory;
  const usedIdx = memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET);
  const last = ring.lastUsed;
  if (usedIdx === last) return null;
  checkUsedFlags(ring, memory.readU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET));
  if (((usedIdx - last) & 0xffff) > ring.published) return usedIdxTooFar(ring, usedIdx);
  // Linux has a read barrier here (idx before the element); see
  // publishAvail for why program order suffices in this model.
  const elem = ring.usedAddr + usedElemOffset(last & ring.mask);
  const id = memory.readU32(elem + VIRTQ_USED_ELEM_ID_OFFSET);
  const len = memory.readU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED || len > ring.writable[id]) {
    return badUsedElem(ring, id, len);
  }
  ring.lastUsed = (last + 1) & 0xffff;
  ring.published--;
  return { token: detach(id), len };
}

// The ways a used entry breaks the ring: each builds its message only when
// it happens, so that getBuf stays small enough to inline.

function usedIdxTooFar(ring: SplitDriverRing<unknown>, usedIdx: number): null {
  const last = ring.lastUsed;
  const pending = (usedIdx - last) & 0xffff;
  return breakDriverRing(
    ring,
    "2.7.8/D2",
    `Used idx moved to ${usedIdx}, ${pending} entries past the last reaped ${last}, ` +
      `but only ${ring.published} chain(s) are outstanding`,
    { usedIdx, lastUsedIdx: last, pending, outstanding: ring.published },
  );
}

/** Breaks the ring for a used element naming no outstanding chain (2.7.8/D1) or overstating its `len` (2.7.8.2/2). */
function badUsedElem(ring: SplitDriverRing<unknown>, id: number, len: number): null {
  const slot = ring.lastUsed & ring.mask;
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED) {
    return breakDriverRing(
      ring,
      "2.7.8/D1",
      id >= ring.size
        ? `Used element ${slot} names descriptor ${id}, beyond the queue size ${ring.size}`
        : `Used element ${slot} names descriptor ${id}, which is not the head of an ` +
          "outstanding chain",
      { slot, id, size: ring.size },
    );
  }
  const writable = ring.writable[id];
  return breakDriverRing(
    ring,
    "2.7.8.2/2",
    `Used element ${slot} reports ${len} byte(s) written to chain ${id}, which has only ` +
      `${writable} writable byte(s)`,
    { slot, id, len, writable },
  );
}

/**
 * Whether the device has returned entries not reaped yet: the used `idx`
 * differs from `ring.lastUsed` (Linux's `more_used_split`). A check only:
 * `getBuf` validates the entries.
 *
 * @param ring The driver ring.
 * @returns `true` if the used `idx` has moved past `ring.lastUsed`.
 * @throws {GuestMemoryError} If the used ring is not inside RAM (never for a ring
 *   built by `createSplitDriverRing`).
 */
export function moreUsed(ring: SplitDriverRing<unknown>): boolean {
  return ring.memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) !== ring.lastUsed;
}

/**
 * Moves `used_event` after a reap (§2.7.7, with `VIRTIO_F_EVENT_IDX`): while
 * callbacks are on, to `ring.lastUsed`, the next used entry the driver has not
 * reaped, so the device notifies when it returns the next chain (2.7.7/D1);
 * left behind, the device's next notification would be 65536 entries away.
 * While callbacks are off it leaves `used_event` where `disableCallbacks` put
 * it. Without `VIRTIO_F_EVENT_IDX` it stores nothing: `used_event` is not part
 * of the available ring then, and the bytes after it are not the driver's
 * ring (2.7.7/D2). Linux moves it in `virtqueue_get_buf_ctx_split`.
 *
 * The queue class calls it after every successful reap.
 *
 * @param ring The driver ring.
 * @throws {GuestMemoryError} If the available ring is not inside RAM (never for a
 *   ring built by `createSplitDriverRing`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDriverRing } from "./ring.ts";
 * import { updateUsedEvent } from "./used.ts";
 *
 * const memory = new GuestMemory(4096);
 * const ring = createSplitDriverRing({
 *   memory, index: 0, size: 4, eventIdx: true, indirect: false,
 *   descAddr: 0x0, availAddr: 0x100, usedAddr: 0x200, reporter: new ConformanceLog().scoped("q"),
 * }, { startIdx: 0xfffe });
 * ring.lastUsed = 0xffff; // one entry reaped
 * updateUsedEvent(ring);
 * assert.equal(memory.readU16(ring.usedEventAddr), 0xffff);
 * ```
 */
export function updateUsedEvent(ring: SplitDriverRing<unknown>): void {
  if (ring.eventIdx && ring.callbacks) ring.memory.writeU16(ring.usedEventAddr, ring.lastUsed);
}

/**
 * Asks the device not to send used buffer notifications (§2.7.7): sets
 * `VIRTQ_AVAIL_F_NO_INTERRUPT` without `VIRTIO_F_EVENT_IDX`; with it, keeps
 * `flags` at 0 (2.7.7.1/2) and moves `used_event` to `lastUsed - 1`, the
 * one entry the device cannot reach before the driver reaps again.
 * Advisory only: a notification may still come (2.7.7.1/3).
 *
 * @param ring The driver ring.
 * @throws {GuestMemoryError} If the available ring is not inside RAM (never for a
 *   ring built by `createSplitDriverRing`).
 */
export function disableCallbacks(ring: SplitDriverRing<unknown>): void {
  ring.callbacks = false;
  if (ring.eventIdx) {
    ring.memory.writeU16(ring.usedEventAddr, (ring.lastUsed - 1) & 0xffff);
  } else {
    ring.memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }
}

/**
 * Asks for used buffer notifications again (§2.7.7): clears
 * `VIRTQ_AVAIL_F_NO_INTERRUPT`, or (with `VIRTIO_F_EVENT_IDX`) sets
 * `used_event` to `lastUsed`; then reads the used `idx` again, as Linux's
 * `virtqueue_enable_cb` does, after the store (2.7.14/D1). Without that
 * re-check an entry the device returned while callbacks were off would
 * wait for a notification the device, seeing them off, never sent.
 *
 * @param ring The driver ring.
 * @returns `false` if used entries are pending (reap them now); `true` otherwise.
 * @throws {GuestMemoryError} If a ring part is not inside RAM (never for a ring
 *   built by `createSplitDriverRing`).
 */
export function enableCallbacks(ring: SplitDriverRing<unknown>): boolean {
  ring.callbacks = true;
  const memory = ring.memory;
  if (ring.eventIdx) {
    memory.writeU16(ring.usedEventAddr, ring.lastUsed);
  } else {
    memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  }
  // A full barrier belongs here in a multi-threaded model (store the
  // suppression field, then read idx); see publishAvail.
  return memory.readU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET) === ring.lastUsed;
}
