/**
 * The driver half of a split virtqueue as plain state (virtio v1.2 §2.7), in
 * the manner of Linux's `struct vring_virtqueue`: the free list of
 * descriptors, a private shadow of every chain posted, and the ring indices.
 * The driver-side parts (`areas.ts`, `add.ts`, `detach.ts`, `avail.ts`,
 * `used.ts`) read and update one such record.
 *
 * The shadow is why the driver never trusts the device: to free a chain it
 * walks its own `next` links, never the descriptor table in shared memory,
 * and it checks every used entry against what it posted.
 *
 * The record is an ordinary object of numbers, booleans and typed arrays, so
 * a test or a grader can build one in any state it needs, for instance at
 * `availIdx = 0xfffe` to cross the 16-bit wrap without 65 534 warm-up round
 * trips ({@linkcode createSplitDriverRing} with `startIdx`).
 *
 * @module
 */

import type { ConformanceReporter, Violation, ViolationValue } from "../../conformance/log.ts";
import { ConformanceError } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { type GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import {
  VRING_AVAIL_ALIGN_SIZE,
  VRING_DESC_ALIGN_SIZE,
  VRING_USED_ALIGN_SIZE,
} from "../constants.ts";
import {
  availEventOffset,
  availRingSize,
  checkRingIndex,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  usedEventOffset,
  usedRingSize,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../layout.ts";
import type { SplitQueueConfig } from "../types.ts";
import { attachRingDisplay } from "../inspect.ts";

/** `state[head]`: the descriptor is not the head of a posted chain. */
export const HEAD_FREE = 0;
/** `state[head]`: placed by `addChain`, not yet published by `publishAvail`. */
export const HEAD_ADDED = 1;
/** `state[head]`: published (the available `idx` covers it) and not reaped yet. */
export const HEAD_PUBLISHED = 2;

/** `tables[head]` of a chain without an indirect table. */
export const NO_INDIRECT_TABLE: number = -1;

/**
 * Everything the driver side knows about one split virtqueue.
 *
 * Invariants the driver-side parts keep:
 *
 * - the free list starts at `freeHead` and follows `next` for `numFree`
 *   descriptors; every descriptor is either on it or in exactly one posted
 *   chain, whose descriptors are linked by `next` in chain order from its
 *   head (`count[head]` of them);
 * - `state[h]` is {@linkcode HEAD_FREE} for every descriptor that is not
 *   the head of a posted chain; `tokens[h]`, `count[h]`, `writable[h]` and
 *   `tables[h]` describe the chain at head `h` while it is posted;
 * - `pending[0..added)` are the heads added since the last `publishAvail`;
 * - `availIdx` and `lastUsed` are free-running 16-bit indices;
 * - `published` counts chains the device may return (published, not
 *   reaped), `inFlight` all chains posted and not reaped;
 * - once `broken` is set, nothing more is reaped or added.
 *
 * @typeParam T The token type attached to chains.
 */
export interface SplitDriverRing<T = unknown> {
  /** Which half this record describes (for displays). */
  readonly side: "driver";
  /** The shared guest RAM. */
  readonly memory: GuestMemory;
  /** Queue index within its device. */
  readonly index: number;
  /** Queue Size, in descriptors (a power of two from 1 to 32768). */
  readonly size: number;
  /** `size - 1`: a ring index `& mask` is its slot. */
  readonly mask: number;
  /** Guest-physical address of the descriptor table (Descriptor Area). */
  readonly descAddr: number;
  /** Guest-physical address of the available ring (Driver Area). */
  readonly availAddr: number;
  /** Guest-physical address of the used ring (Device Area). */
  readonly usedAddr: number;
  /** Guest-physical address of `used_event` (after the available ring's `ring[size]`). */
  readonly usedEventAddr: number;
  /** Guest-physical address of `avail_event` (after the used ring's `ring[size]`). */
  readonly availEventAddr: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated. */
  readonly eventIdx: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated. */
  readonly indirect: boolean;
  /** Where device violations go (already scoped to this queue). */
  readonly reporter: ConformanceReporter;

  /** Shadow links: the free list, and the order of descriptors inside each posted chain. */
  readonly next: Uint16Array;
  /** First descriptor of the free list (meaningless when `numFree` is 0). */
  freeHead: number;
  /** Descriptors on the free list. */
  numFree: number;
  /** Per head: {@linkcode HEAD_FREE}, {@linkcode HEAD_ADDED} or {@linkcode HEAD_PUBLISHED}. */
  readonly state: Uint8Array;
  /** Per head: the token of the chain posted there. */
  readonly tokens: (T | undefined)[];
  /** Per head: descriptors the chain takes in the descriptor table (1 with an indirect table). */
  readonly count: Uint16Array;
  /** Per head: device-writable bytes posted (the most a used `len` may say). */
  readonly writable: Float64Array;
  /** Per head: address of the chain's indirect table, or {@linkcode NO_INDIRECT_TABLE}. */
  readonly tables: Float64Array;

  /** Heads added and not yet published, in the order they were added. */
  readonly pending: Uint16Array;
  /** Number of heads in `pending`. */
  added: number;
  /** The available `idx` as last published. */
  availIdx: number;
  /** The used ring index of the next entry to reap (Linux's `last_used_idx`). */
  lastUsed: number;
  /** Chains published and not reaped: what the device may return. */
  published: number;
  /** Chains added and not reaped, published or not. */
  inFlight: number;
  /** Whether the driver wants used buffer notifications (§2.7.7). */
  callbacks: boolean;
  /** The violation by the device that broke the ring, or `null`. */
  broken: Violation | null;
  /** Last bad used ring `flags` value reported (so one value is reported once), or -1. */
  lastBadUsedFlags: number;
}

/** Options for {@linkcode createSplitDriverRing}. */
export interface SplitDriverRingOptions {
  /**
   * Start the ring at this 16-bit index instead of 0: `availIdx` and
   * `lastUsed` take it, and so do the available and used `idx` fields (and
   * `used_event`, `avail_event` with `VIRTIO_F_EVENT_IDX`) in guest memory.
   */
  readonly startIdx?: number;
}

/**
 * Builds the driver-side state of a queue over parts the caller allocated,
 * and initializes the rings in guest memory: both `flags` to 0 (the used
 * ring's included, 2.7.10.1/1) and both `idx` to the start index, as well as
 * `used_event` and `avail_event` when `VIRTIO_F_EVENT_IDX` is in use.
 *
 * @param config Memory, the three part addresses (aligned as §2.7 requires,
 *   and large enough for `size`, with the event fields when `eventIdx`),
 *   Queue Size, negotiated features, reporter.
 * @param options Starting index.
 * @returns A healthy ring with every descriptor free, in order 0, 1, 2...
 * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768.
 * @throws {RangeError} If a part is misaligned (2.7.1/1) or not inside RAM,
 *   or `startIdx` is not an integer from 0 to 0xffff.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDriverRing } from "./ring.ts";
 *
 * const memory = new GuestMemory(0x4000);
 * const ring = createSplitDriverRing({
 *   memory, index: 0, size: 8, eventIdx: false, indirect: false,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x2000,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * }, { startIdx: 0xfffe });
 * assert.equal(ring.numFree, 8);
 * assert.equal(memory.readU16(0x1002), 0xfffe); // available idx
 * ```
 */
export function createSplitDriverRing<T = unknown>(
  config: SplitQueueConfig,
  options: SplitDriverRingOptions = {},
): SplitDriverRing<T> {
  const { memory, size, eventIdx } = config;
  if (!isValidQueueSize(size)) throw new QueueSizeError(size);
  const start = options.startIdx ?? 0;
  checkRingIndex(start, "Start index");
  checkPart(
    memory,
    "Descriptor table",
    config.descAddr,
    descTableSize(size),
    VRING_DESC_ALIGN_SIZE,
  );
  checkPart(
    memory,
    "Available ring",
    config.availAddr,
    availRingSize(size, eventIdx),
    VRING_AVAIL_ALIGN_SIZE,
  );
  checkPart(
    memory,
    "Used ring",
    config.usedAddr,
    usedRingSize(size, eventIdx),
    VRING_USED_ALIGN_SIZE,
  );
  const next = new Uint16Array(size);
  for (let i = 0; i < size; i++) next[i] = i + 1; // the last link is never followed
  const ring: SplitDriverRing<T> = {
    side: "driver",
    memory,
    index: config.index,
    size,
    mask: size - 1,
    descAddr: config.descAddr,
    availAddr: config.availAddr,
    usedAddr: config.usedAddr,
    usedEventAddr: config.availAddr + usedEventOffset(size),
    availEventAddr: config.usedAddr + availEventOffset(size),
    eventIdx,
    indirect: config.indirect,
    reporter: config.reporter,
    next,
    freeHead: 0,
    numFree: size,
    state: new Uint8Array(size),
    tokens: new Array<T | undefined>(size).fill(undefined),
    count: new Uint16Array(size),
    writable: new Float64Array(size),
    tables: new Float64Array(size).fill(NO_INDIRECT_TABLE),
    pending: new Uint16Array(size),
    added: 0,
    availIdx: start,
    lastUsed: start,
    published: 0,
    inFlight: 0,
    callbacks: true,
    broken: null,
    lastBadUsedFlags: -1,
  };
  attachRingDisplay(ring);
  memory.writeU16(ring.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
  memory.writeU16(ring.availAddr + VIRTQ_AVAIL_IDX_OFFSET, start);
  memory.writeU16(ring.usedAddr + VIRTQ_USED_FLAGS_OFFSET, 0); // 2.7.10.1/1
  memory.writeU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET, start);
  if (eventIdx) {
    memory.writeU16(ring.usedEventAddr, start);
    memory.writeU16(ring.availEventAddr, start);
  }
  return ring;
}

/** What the driver does about a device that broke a rule the ring cannot live with. */
export const DRIVER_RING_BROKEN_ACTION = "queue marked broken: no more buffers are reaped or added";

/**
 * Reports a device violation that the driver cannot go on from (Linux's
 * `BAD_RING`) and breaks the ring: `ring.broken` is set, once. Driver-side
 * parts call it for every fatal rule.
 *
 * @param ring The driver ring.
 * @param id The rule the device broke.
 * @param message What was observed, with the values.
 * @param values The offending values, by name.
 * @returns `null`, so a part can `return breakDriverRing(...)` where it would return a result.
 * @throws {ConformanceError} When the log is strict (the ring is broken first).
 */
export function breakDriverRing(
  ring: SplitDriverRing<unknown>,
  id: RequirementId,
  message: string,
  values: Readonly<Record<string, ViolationValue>>,
): null {
  let violation: Violation;
  try {
    violation = ring.reporter.report(id, message, values, DRIVER_RING_BROKEN_ACTION);
  } catch (e) {
    if (e instanceof ConformanceError) ring.broken ??= e.violation;
    throw e;
  }
  ring.broken ??= violation;
  return null;
}

function checkPart(
  memory: GuestMemory,
  name: string,
  addr: number,
  bytes: number,
  align: number,
): void {
  if (!Number.isSafeInteger(addr) || addr % align !== 0) {
    throw new RangeError(
      `${name} at ${hexAddress(addr)} is not aligned to ${align} bytes (§2.7.1/1)`,
    );
  }
  if (!memory.contains(addr, bytes)) {
    throw new RangeError(
      `${name} of ${bytes} byte(s) at ${hexAddress(addr)} is not inside guest RAM`,
    );
  }
}
