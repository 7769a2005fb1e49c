/**
 * The replaceable parts of the split virtqueue (virtio v1.2 §2.7): one table
 * per side, each entry a plain function over a ring state record
 * (`SplitDriverRing`, `SplitDeviceRing`). `SplitQueueDriver` and
 * `SplitQueueDevice` call every step through these tables, so a learner's
 * function with the same signature and contract can stand in for any one of
 * them while the reference supplies the rest.
 *
 * No part calls another part: where one step needs another, the queue class
 * calls them in sequence (`addBuffers`, then `placeAvailEntry`; `walkChain`,
 * then `readIndirectTable`) or passes the other step in (`getBuf` receives
 * the bound `detachChain`, `addBuffers` the `addChain` and
 * `addIndirectChain` it chooses between, `allocateQueueAreas` the layout, `drainUsed` the
 * queue whose `getBuf`, `disableCallbacks` and `enableCallbacks` it repeats).
 * The device half's stream copies (`readChain`, `writeChain`) are not steps
 * of the queue itself: `SplitQueueDevice` hands them to the device models
 * (`DeviceQueue.streams`), whose parts copy every byte of a chain with them.
 *
 * @module
 */

import { splitQueueLayout } from "./layout.ts";
import { allocateQueueAreas } from "./driver/areas.ts";
import { addBuffers, addChain, addIndirectChain } from "./driver/add.ts";
import { detachChain } from "./driver/detach.ts";
import { needsKick, placeAvailEntry, publishAvail } from "./driver/avail.ts";
import {
  disableCallbacks,
  enableCallbacks,
  getBuf,
  moreUsed,
  updateUsedEvent,
} from "./driver/used.ts";
import { drainUsed } from "./driver/drain.ts";
import {
  availableCount,
  availHead,
  disableNotifications,
  enableNotifications,
  updateAvailEvent,
} from "./device/avail.ts";
import { readIndirectTable, walkChain } from "./device/walk.ts";
import { needsInterrupt, pushUsed } from "./device/used.ts";
import { readChain, writeChain } from "./chain.ts";

/** The steps of the driver half of a split virtqueue, in the order a buffer meets them. */
export interface SplitRingDriverParts {
  /** Sizes and alignments of the three parts (§2.7). */
  readonly splitQueueLayout: typeof splitQueueLayout;
  /** Allocates the three parts: aligned, separate, zeroed (§2.7, 2.7.10.1/1). */
  readonly allocateQueueAreas: typeof allocateQueueAreas;
  /** Places a chain in the descriptor table from the shadow free list (§2.7.13.1). */
  readonly addChain: typeof addChain;
  /** Places a chain in an indirect table (§2.7.5.3). */
  readonly addIndirectChain: typeof addIndirectChain;
  /** Chooses direct descriptors or an indirect table, falling back to direct ones (§2.7.5.3). */
  readonly addBuffers: typeof addBuffers;
  /** Puts a head in the next available ring entry (§2.7.13.2). */
  readonly placeAvailEntry: typeof placeAvailEntry;
  /** Advances the available `idx` over the entries placed (§2.7.13.3). */
  readonly publishAvail: typeof publishAvail;
  /** Does the device want a notification? (§2.7.10.1, §2.7.13.4) */
  readonly needsKick: typeof needsKick;
  /** Has the device returned entries not reaped yet? (Linux `more_used_split`) */
  readonly moreUsed: typeof moreUsed;
  /** Reaps and checks one used entry (§2.7.14). */
  readonly getBuf: typeof getBuf;
  /** Frees a chain through the shadow (Linux `detach_buf_split`). */
  readonly detachChain: typeof detachChain;
  /** Moves `used_event` after a reap (§2.7.7.2, with `VIRTIO_F_EVENT_IDX`). */
  readonly updateUsedEvent: typeof updateUsedEvent;
  /** Asks for no used buffer notifications (§2.7.7). */
  readonly disableCallbacks: typeof disableCallbacks;
  /** Asks for used buffer notifications again, and re-checks the used ring (§2.7.7). */
  readonly enableCallbacks: typeof enableCallbacks;
  /** Reaps everything returned, notifications off, then on and a last look (§2.7.14). */
  readonly drainUsed: typeof drainUsed;
}

/** The reference implementations of {@linkcode SplitRingDriverParts}. */
export const REFERENCE_SPLIT_RING_DRIVER_PARTS: SplitRingDriverParts = Object.freeze({
  splitQueueLayout,
  allocateQueueAreas,
  addChain,
  addIndirectChain,
  addBuffers,
  placeAvailEntry,
  publishAvail,
  needsKick,
  moreUsed,
  getBuf,
  detachChain,
  updateUsedEvent,
  disableCallbacks,
  enableCallbacks,
  drainUsed,
});

/** The steps of the device half of a split virtqueue, in the order a buffer meets them. */
export interface SplitRingDeviceParts {
  /** How many chains the driver made available (§2.7.6; 2.7.6/D1, 2.7.6.1/1). */
  readonly availableCount: typeof availableCount;
  /** Takes the next available head (§2.7.6; 2.7.5/D1, 2.7.6/D2). */
  readonly availHead: typeof availHead;
  /** Moves `avail_event` after taking an entry (§2.7.10, with `VIRTIO_F_EVENT_IDX`). */
  readonly updateAvailEvent: typeof updateAvailEvent;
  /** Walks and validates a chain's direct descriptors (§2.7.5, §2.7.4). */
  readonly walkChain: typeof walkChain;
  /** Reads and validates an indirect table (§2.7.5.3). */
  readonly readIndirectTable: typeof readIndirectTable;
  /** Writes a used element, then the used `idx` (§2.7.8). */
  readonly pushUsed: typeof pushUsed;
  /** Does the driver want a used buffer notification? (§2.7.7.2) */
  readonly needsInterrupt: typeof needsInterrupt;
  /** Asks for no available buffer notifications (§2.7.10). */
  readonly disableNotifications: typeof disableNotifications;
  /** Asks for available buffer notifications again, and re-checks the available ring (§2.7.10). */
  readonly enableNotifications: typeof enableNotifications;
  /** Copies bytes out of a chain's device-readable buffers, as one stream (§2.7.4). */
  readonly readChain: typeof readChain;
  /** Copies bytes into a chain's device-writable buffers, as one stream (§2.7.4, 2.7.5.1/1). */
  readonly writeChain: typeof writeChain;
}

/** The reference implementations of {@linkcode SplitRingDeviceParts}. */
export const REFERENCE_SPLIT_RING_DEVICE_PARTS: SplitRingDeviceParts = Object.freeze({
  availableCount,
  availHead,
  updateAvailEvent,
  walkChain,
  readIndirectTable,
  pushUsed,
  needsInterrupt,
  disableNotifications,
  enableNotifications,
  readChain,
  writeChain,
});

/**
 * A parts table: `reference` with the entries of `overrides` that are
 * functions put in their place (`undefined` entries keep the reference part).
 *
 * @param reference The complete reference table.
 * @param overrides Replacement parts, by name.
 * @returns A new frozen table.
 * @throws {TypeError} If an override is neither a function nor `undefined`,
 *   or names no part of `reference`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeParts, REFERENCE_SPLIT_RING_DRIVER_PARTS } from "./parts.ts";
 * const mine = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, { publishAvail: () => 0 });
 * assert.notEqual(mine.publishAvail, REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail);
 * assert.equal(mine.addChain, REFERENCE_SPLIT_RING_DRIVER_PARTS.addChain);
 * ```
 */
export function mergeParts<P extends object>(reference: P, overrides?: Partial<P>): P {
  const merged = { ...reference };
  if (overrides !== undefined) {
    for (const [name, part] of Object.entries(overrides)) {
      if (part === undefined) continue;
      if (!Object.hasOwn(reference, name)) {
        throw new TypeError(
          `No part is called ${name}; the parts are ${Object.keys(reference).join(", ")}`,
        );
      }
      if (typeof part !== "function") {
        throw new TypeError(`Part ${name} is a ${typeof part}, not a function`);
      }
      (merged as Record<string, unknown>)[name] = part;
    }
  }
  return Object.freeze(merged);
}

/**
 * Whether every part of `parts` is the one of `reference` (the same function
 * objects): a table made by {@linkcode mergeParts} with no override, or with
 * overrides that are the reference functions themselves. The queue classes
 * take their fused fast paths only then.
 *
 * @param parts A complete parts table.
 * @param reference The reference table of the same kind.
 * @returns `true` when no part is replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isReferenceParts, mergeParts, REFERENCE_SPLIT_RING_DRIVER_PARTS } from "./parts.ts";
 * const same = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, {});
 * assert.ok(isReferenceParts(same, REFERENCE_SPLIT_RING_DRIVER_PARTS));
 * const mine = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, { publishAvail: () => 0 });
 * assert.ok(!isReferenceParts(mine, REFERENCE_SPLIT_RING_DRIVER_PARTS));
 * ```
 */
export function isReferenceParts<P extends object>(parts: P, reference: P): boolean {
  for (const name of Object.keys(reference) as (keyof P)[]) {
    if (parts[name] !== reference[name]) return false;
  }
  return true;
}

/**
 * A parts table whose every entry calls the matching part of `reference`:
 * the same behaviour on the path a learner's parts take (the queue classes
 * see replaced parts, so {@linkcode isReferenceParts} is false and their
 * fused fast paths stay off). For tests and benchmarks that compare the two
 * paths.
 *
 * @param reference A complete parts table.
 * @returns Overrides for {@linkcode mergeParts}: one forwarding function per part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   forwardingParts,
 *   isReferenceParts,
 *   mergeParts,
 *   REFERENCE_SPLIT_RING_DRIVER_PARTS,
 * } from "./parts.ts";
 * const parts = mergeParts(
 *   REFERENCE_SPLIT_RING_DRIVER_PARTS,
 *   forwardingParts(REFERENCE_SPLIT_RING_DRIVER_PARTS),
 * );
 * assert.ok(!isReferenceParts(parts, REFERENCE_SPLIT_RING_DRIVER_PARTS));
 * ```
 */
export function forwardingParts<P extends object>(reference: P): Partial<P> {
  const out: Record<string, unknown> = {};
  for (const [name, part] of Object.entries(reference)) {
    out[name] = (...args: unknown[]) => (part as (...a: unknown[]) => unknown)(...args);
  }
  return out as Partial<P>;
}
