/**
 * The driver half's common case, fused: the reference parts `addBuffers` +
 * `addChain` + `placeAvailEntry` for a chain of one buffer, `publishAvail` +
 * `needsKick`, and `getBuf` + `detachChain` + `updateUsedEvent`, each written
 * as one function over the RAM's `DataView`.
 *
 * Why: a round trip through the parts is some forty functions, five times
 * what TurboFan inlines into one compilation, so it runs as several compiled
 * units calling each other, and every `GuestMemory` accessor checks its
 * address again (docs/ARCHITECTURE.md, "Performance"). The ring's areas are
 * checked to lie inside RAM once, when the queue is built, so the fused
 * steps address RAM directly.
 *
 * When: {@linkcode SplitQueueDriver} uses these only while every one of its
 * parts is the reference one and its memory is exactly a `GuestMemory` (not
 * a subclass that observes stores or counts reads), and only for the cases
 * written here. Anything else (a chain of two or more buffers, a buffer
 * outside RAM, a full table, used ring flags or a used element the checks
 * would report) returns "not handled" before changing anything, and the
 * class runs the parts, which decide and report exactly as always. The
 * property test `tests/virtqueue/fast_path_test.ts` runs random operations,
 * hostile ones included, on a fused queue and on one whose parts are
 * forwarding copies of the reference parts, and requires the same memory,
 * the same results and the same reports after every step.
 *
 * @module
 */

import { ramViewOf } from "../../memory/guest_memory.ts";
import * as constants from "../constants.ts";
import * as eventIdx from "../event_idx.ts";
import type { BufferSegment, UsedBuffer } from "../types.ts";
import * as driverRing from "./ring.ts";
import type { SplitDriverRing } from "./ring.ts";

// Module-local copies: TurboFan folds a module's own constants, not imported
// bindings (docs/ARCHITECTURE.md, "Performance").
const { VIRTQ_DESC_F_WRITE, VIRTQ_USED_F_NO_NOTIFY } = constants;
const { vringNeedEvent } = eventIdx;
const { HEAD_ADDED, HEAD_FREE, HEAD_PUBLISHED, NO_INDIRECT_TABLE } = driverRing;

/** Returned by {@linkcode fusedGetBuf} when the parts must decide (and report). */
export const NOT_HANDLED = undefined;

/**
 * `addBuffers` (policy "auto" or "never") + `addChain` + `placeAvailEntry`
 * for a chain of exactly one buffer, which always goes into one direct
 * descriptor.
 *
 * @param ring The driver ring (areas inside RAM, memory exactly a `GuestMemory`).
 * @param seg The one buffer: `len` in bytes, 1 to 2^32 - 1; `addr` guest-physical.
 * @param write Whether the device writes it (`VIRTQ_DESC_F_WRITE`).
 * @param token What `getBuf` returns for this chain.
 * @returns `true` when the chain was placed; `false`, with nothing changed,
 *   when the parts must handle it (no free descriptor, or a buffer that
 *   `addChain` refuses: they throw the error it deserves).
 */
export function fusedAddOne<T>(
  ring: SplitDriverRing<T>,
  seg: BufferSegment,
  write: boolean,
  token: T,
): boolean {
  const memory = ring.memory;
  const addr = seg.addr;
  const len = seg.len;
  if (ring.numFree === 0 || !((len >>> 0) === len && len !== 0 && memory.contains(addr, len))) {
    return false;
  }
  const view = ramViewOf(memory);
  const base = memory.base;
  const head = ring.freeHead;
  const d = ring.descAddr - base + 16 * head;
  // `addr` is a safe integer inside RAM: `>>> 0` is its low word exactly.
  const lo = addr >>> 0;
  view.setUint32(d, lo, true);
  view.setUint32(d + 4, (addr - lo) / 0x1_0000_0000, true);
  view.setUint32(d + 8, len, true);
  view.setUint16(d + 12, write ? VIRTQ_DESC_F_WRITE : 0, true);
  view.setUint16(d + 14, 0, true);
  ring.freeHead = ring.next[head];
  ring.numFree -= 1;
  ring.state[head] = HEAD_ADDED;
  ring.tokens[head] = token;
  ring.count[head] = 1;
  ring.writable[head] = write ? len : 0;
  ring.tables[head] = NO_INDIRECT_TABLE;
  ring.inFlight++;
  const added = ring.added;
  view.setUint16(ring.availAddr - base + 4 + 2 * ((ring.availIdx + added) & ring.mask), head, true);
  ring.pending[added] = head;
  ring.added = added + 1;
  return true;
}

/**
 * `publishAvail` then `needsKick` (§2.7.10.1), as `kickPrepare` runs them.
 *
 * @param ring The driver ring.
 * @returns Whether to notify the device; `null` when the parts must decide
 *   (used ring `flags` that `checkUsedFlags` would log), with nothing changed.
 */
export function fusedKickPrepare(ring: SplitDriverRing<unknown>): boolean | null {
  const added = ring.added;
  if (added === 0) return false;
  const memory = ring.memory;
  const view = ramViewOf(memory);
  const base = memory.base;
  let flags = 0;
  if (!ring.eventIdx) {
    // Read before publishing, so that "not handled" changes nothing; the
    // device half cannot run in between (one thread, see publishAvail).
    flags = view.getUint16(ring.usedAddr - base, true);
    if ((flags & ~VIRTQ_USED_F_NO_NOTIFY) !== 0 || ring.lastBadUsedFlags !== -1) return null;
  }
  const state = ring.state;
  const pending = ring.pending;
  for (let k = 0; k < added; k++) state[pending[k]] = HEAD_PUBLISHED;
  const oldIdx = ring.availIdx;
  const newIdx = (oldIdx + added) & 0xffff;
  view.setUint16(ring.availAddr - base + 2, newIdx, true);
  ring.availIdx = newIdx;
  ring.added = 0;
  ring.published += added;
  if (ring.eventIdx) {
    return vringNeedEvent(view.getUint16(ring.availEventAddr - base, true), newIdx, oldIdx);
  }
  return (flags & VIRTQ_USED_F_NO_NOTIFY) === 0;
}

/**
 * `getBuf` + `detachChain` + `updateUsedEvent` for a used entry that passes
 * every check of `getBuf`.
 *
 * @param ring The driver ring (not broken).
 * @param freeTable Frees a chain's indirect table.
 * @returns The reaped buffer; `null` when the used ring holds nothing new;
 *   {@linkcode NOT_HANDLED} when the parts must decide (used ring flags to
 *   log, an idx too far ahead, a used element that breaks the ring), with
 *   nothing changed.
 */
export function fusedGetBuf<T>(
  ring: SplitDriverRing<T>,
  freeTable: (table: number) => void,
): UsedBuffer<T> | null | typeof NOT_HANDLED {
  const memory = ring.memory;
  const view = ramViewOf(memory);
  const used = ring.usedAddr - memory.base;
  const usedIdx = view.getUint16(used + 2, true);
  const last = ring.lastUsed;
  if (usedIdx === last) return null;
  const flags = view.getUint16(used, true);
  if (
    (ring.eventIdx ? flags : flags & ~VIRTQ_USED_F_NO_NOTIFY) !== 0 ||
    ring.lastBadUsedFlags !== -1 || ((usedIdx - last) & 0xffff) > ring.published
  ) {
    return NOT_HANDLED;
  }
  const elem = used + 4 + 8 * (last & ring.mask);
  const id = view.getUint32(elem, true);
  const len = view.getUint32(elem + 4, true);
  if (id >= ring.size || ring.state[id] !== HEAD_PUBLISHED || len > ring.writable[id]) {
    return NOT_HANDLED;
  }
  const lastUsed = (last + 1) & 0xffff;
  ring.lastUsed = lastUsed;
  ring.published--;
  // detachChain
  const token = ring.tokens[id] as T;
  const count = ring.count[id];
  const table = ring.tables[id];
  ring.state[id] = HEAD_FREE;
  ring.tokens[id] = undefined;
  ring.count[id] = 0;
  ring.writable[id] = 0;
  ring.tables[id] = NO_INDIRECT_TABLE;
  const next = ring.next;
  let tail = id;
  for (let k = count - 1; k > 0; k--) tail = next[tail];
  next[tail] = ring.freeHead;
  ring.freeHead = id;
  ring.numFree += count;
  ring.inFlight--;
  if (table !== NO_INDIRECT_TABLE) freeTable(table);
  // updateUsedEvent
  if (ring.eventIdx && ring.callbacks) {
    view.setUint16(ring.usedEventAddr - memory.base, lastUsed, true);
  }
  return { token, len };
}
