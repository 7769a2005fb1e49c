/**
 * The device half's common case, fused: the reference parts
 * `availableCount` + `availHead` + `updateAvailEvent` + `walkChain` for a
 * chain of one direct descriptor, `pushUsed`, and `needsInterrupt`, each
 * written as one function over the RAM's `DataView`.
 *
 * Why and when: as for the driver half (`virtqueue/driver/fast_path.ts`).
 * {@linkcode SplitQueueDevice} uses these only while every one of its parts
 * is the reference one, its memory is exactly a `GuestMemory`, and the three
 * areas lie inside RAM (checked once, when the queue is built). A case not
 * written here (a chain of two or more descriptors, an indirect one, an
 * available idx or head the checks would report, flags to log, a buffer
 * outside RAM, a descriptor above 4 GiB) returns "not handled" before
 * changing anything, and the class runs the parts, which read the ring
 * again and decide and report on what they read. Nothing the fused steps
 * read decides anything the parts then do: a driver that changes the ring
 * between the two reads meets the parts' checks alone.
 *
 * @module
 */

import { ramViewOf } from "../../memory/guest_memory.ts";
import * as constants from "../constants.ts";
import * as eventIdx from "../event_idx.ts";
import type { DescriptorChain } from "../types.ts";
import * as deviceRing from "./ring.ts";
import type { SegmentRecord, SplitDeviceRing } from "./ring.ts";

// Module-local copies: TurboFan folds a module's own constants, not imported
// bindings (docs/ARCHITECTURE.md, "Performance").
const {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} = constants;
const { vringNeedEvent } = eventIdx;
const { chainRecord } = deviceRing;

/** Returned by {@linkcode fusedPop} when the parts must decide (and report). */
export const NOT_HANDLED = undefined;

/**
 * The next available chain, when it is one direct descriptor that passes
 * every check of `availableCount`, `availHead` and `walkChain`; refills the
 * head's chain record as `walkChain` does, and stores `avail_event` as
 * `updateAvailEvent` does (with `VIRTIO_F_EVENT_IDX`).
 *
 * @param ring The device ring (not broken; areas inside RAM).
 * @returns The chain; `null` when nothing is available;
 *   {@linkcode NOT_HANDLED} when the parts must take it, with nothing changed.
 */
export function fusedPop(ring: SplitDeviceRing): DescriptorChain | null | typeof NOT_HANDLED {
  const memory = ring.memory;
  const view = ramViewOf(memory);
  const base = memory.base;
  const avail = ring.availAddr - base;
  const last = ring.lastAvail;
  const pending = (view.getUint16(avail + 2, true) - last) & 0xffff;
  if (pending === 0) return null;
  const flags = view.getUint16(avail, true);
  if (
    pending > ring.size || (ring.eventIdx ? flags : flags & ~VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0 ||
    ring.lastBadAvailFlags !== -1
  ) {
    return NOT_HANDLED;
  }
  const head = view.getUint16(avail + 4 + 2 * (last & ring.mask), true);
  if (head >= ring.size || ring.inUse[head] !== 0) return NOT_HANDLED;
  const d = ring.descAddr - base + 16 * head;
  const addr = view.getUint32(d, true);
  const len = view.getUint32(d + 8, true);
  const descFlags = view.getUint16(d + 12, true);
  if (
    view.getUint32(d + 4, true) !== 0 || len === 0 ||
    (descFlags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) !== 0 || !memory.contains(addr, len)
  ) {
    return NOT_HANDLED;
  }
  const lastAvail = (last + 1) & 0xffff;
  ring.lastAvail = lastAvail;
  if (ring.eventIdx) {
    view.setUint16(
      ring.availEventAddr - base,
      ring.notifications ? lastAvail : (lastAvail - 1) & 0xffff,
      true,
    );
  }
  const chain = chainRecord(ring, head);
  const write = (descFlags & VIRTQ_DESC_F_WRITE) !== 0;
  if (write) {
    setOnly(chain.writable, addr, len);
    if (chain.readable.length !== 0) chain.readable.length = 0;
  } else {
    setOnly(chain.readable, addr, len);
    if (chain.writable.length !== 0) chain.writable.length = 0;
  }
  chain.head = head;
  chain.readableLength = write ? 0 : len;
  chain.writableLength = write ? len : 0;
  chain.descriptorCount = 1;
  chain.indirect = false;
  return chain;
}

/** Makes `segments` hold exactly one segment, reusing its first record. */
function setOnly(segments: SegmentRecord[], addr: number, len: number): void {
  if (segments.length === 0) {
    segments.push({ addr, len });
    return;
  }
  const segment = segments[0];
  segment.addr = addr;
  segment.len = len;
  if (segments.length !== 1) segments.length = 1;
}

/**
 * `pushUsed`: the used element, then the used `idx` (2.7.8.2/1).
 *
 * @param ring The device ring (areas inside RAM).
 * @param head The chain's head.
 * @param len Bytes written, already checked by the caller.
 */
export function fusedPush(ring: SplitDeviceRing, head: number, len: number): void {
  const memory = ring.memory;
  const view = ramViewOf(memory);
  const used = ring.usedAddr - memory.base;
  const usedIdx = ring.usedIdx;
  const elem = used + 4 + 8 * (usedIdx & ring.mask);
  view.setUint32(elem, head, true);
  view.setUint32(elem + 4, len, true);
  const next = (usedIdx + 1) & 0xffff;
  view.setUint16(used + 2, next, true);
  ring.usedIdx = next;
}

/**
 * `needsInterrupt` (§2.7.7.2), when the available ring's `flags` need no
 * report.
 *
 * @param ring The device ring (not broken; areas inside RAM).
 * @returns Whether to interrupt; `null` when the parts must decide (flags
 *   `checkAvailFlags` would log), with nothing changed.
 */
export function fusedNeedsInterrupt(ring: SplitDeviceRing): boolean | null {
  const old = ring.signalledUsed;
  const now = ring.usedIdx;
  if (old === now) return false;
  const memory = ring.memory;
  const view = ramViewOf(memory);
  const base = memory.base;
  if (ring.eventIdx) {
    ring.signalledUsed = now;
    return vringNeedEvent(view.getUint16(ring.usedEventAddr - base, true), now, old);
  }
  const flags = view.getUint16(ring.availAddr - base, true);
  if ((flags & ~VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0 || ring.lastBadAvailFlags !== -1) return null;
  ring.signalledUsed = now;
  return (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
}
