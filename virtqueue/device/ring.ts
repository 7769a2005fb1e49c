/**
 * The device half of a split virtqueue as plain state (virtio v1.2 §2.7):
 * everything the device knows about one queue, in one record that the
 * device-side parts (`avail.ts`, `walk.ts`, `used.ts`) read and update.
 *
 * The record is an ordinary object of numbers, booleans and typed arrays, so
 * a test or a grader can build one in any state it needs, for instance at
 * `lastAvail = 0xfffe` to cross the 16-bit wrap of the ring indices without
 * 65 534 warm-up round trips ({@linkcode createSplitDeviceRing} with
 * `startIdx`).
 *
 * @module
 */

import type { ConformanceReporter, Violation, ViolationValue } from "../../conformance/log.ts";
import { ConformanceError } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { type GuestMemory, GuestMemoryError, hexAddress } from "../../memory/guest_memory.ts";
import {
  availEventOffset,
  availRingSize,
  checkRingIndex,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  usedEventOffset,
  usedRingSize,
  VIRTQ_USED_IDX_OFFSET,
} from "../layout.ts";
import type { SplitQueueConfig } from "../types.ts";
import { attachRingDisplay } from "../inspect.ts";

/**
 * The indirect descriptor at which {@linkcode SplitDeviceRing}'s last chain
 * walk stopped (`walkChain` records it, `readIndirectTable` reads the table
 * it points to). Its fields are copies of the descriptor as read once from
 * guest memory: the table is never read through the descriptor again.
 */
export interface IndirectDescriptor {
  /** Index of the descriptor in the descriptor table. */
  index: number;
  /** `addr`: guest-physical address of the indirect table (`Infinity` above 2^53). */
  addr: number;
  /** `len`: size of the indirect table, in bytes. */
  len: number;
  /** `flags`, as the driver wrote them. */
  flags: number;
}

/** One buffer of a {@linkcode DeviceChainRecord}: a `BufferSegment` the ring refills. */
export interface SegmentRecord {
  /** Guest-physical address of the first byte. */
  addr: number;
  /** Length in bytes. */
  len: number;
}

/**
 * The chain the device ring keeps for one descriptor head, refilled by every
 * walk that starts at that head (`walkChain`, then `readIndirectTable`):
 * the same object, the same two arrays and, as far as they go, the same
 * segment objects each time, so popping a chain allocates nothing once the
 * ring is warm. It is a `DescriptorChain` with writable fields.
 *
 * A head cannot be made available again before its chain came back in the
 * used ring (2.7.6/D2, checked by `availHead`), so the record of a chain the
 * device holds is never overwritten; once the chain is pushed, the next walk
 * of that head reuses it.
 */
export interface DeviceChainRecord {
  /** Index of the head descriptor. */
  head: number;
  /** Device-readable buffers, in chain order. */
  readonly readable: SegmentRecord[];
  /** Device-writable buffers, in chain order. */
  readonly writable: SegmentRecord[];
  /** Sum of the readable lengths, in bytes. */
  readableLength: number;
  /** Sum of the writable lengths, in bytes. */
  writableLength: number;
  /** Descriptors walked, indirect table entries included. */
  descriptorCount: number;
  /** Whether the chain ends in an indirect descriptor (after `walkChain`) or used one. */
  indirect: boolean;
}

/**
 * The chain record of `head` in `ring.chains`, made on first use.
 *
 * @param ring The device ring.
 * @param head A descriptor index below `ring.size`.
 */
export function chainRecord(ring: SplitDeviceRing, head: number): DeviceChainRecord {
  const record = ring.chains[head];
  return record !== null ? record : newChainRecord(ring, head);
}

function newChainRecord(ring: SplitDeviceRing, head: number): DeviceChainRecord {
  const record: DeviceChainRecord = {
    head,
    readable: [],
    writable: [],
    readableLength: 0,
    writableLength: 0,
    descriptorCount: 0,
    indirect: false,
  };
  ring.chains[head] = record;
  return record;
}

/**
 * Everything the device side knows about one split virtqueue.
 *
 * Invariants the device-side parts keep: `lastAvail`, `usedIdx` and
 * `signalledUsed` are free-running 16-bit indices (0 to 0xffff, wrapping);
 * `inUse[h]` is 1 exactly for the heads of chains popped and not pushed back
 * (and `inFlight` counts them); once `broken` is set, nothing more is read
 * from or written to the rings.
 */
export interface SplitDeviceRing {
  /** Which half this record describes (for displays). */
  readonly side: "device";
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
  /** Where driver violations go (already scoped to this queue). */
  readonly reporter: ConformanceReporter;
  /** Called once, with the violation, when the ring breaks (the transport sets DEVICE_NEEDS_RESET). */
  readonly onBroken: (violation: Violation) => void;

  /** The device's `last_avail_idx`: the free-running index of the next available entry to take. */
  lastAvail: number;
  /** The used `idx` as last written. */
  usedIdx: number;
  /** The used `idx` at the last used buffer notification decision. */
  signalledUsed: number;
  /** Whether the device wants available buffer notifications (§2.7.10). */
  notifications: boolean;
  /** Per head: 1 while its chain is popped and not pushed back, else 0. */
  readonly inUse: Uint8Array;
  /** Per head: device-writable bytes of the chain as popped (the most `pushUsed` may report). */
  readonly writable: Float64Array;
  /** Chains popped and not pushed back. */
  inFlight: number;
  /** The indirect descriptor where the last walk stopped (valid when that chain has `indirect: true`). */
  readonly indirectDesc: IndirectDescriptor;
  /**
   * Per head: the chain record the reference walk fills (`null` until the
   * head is first walked); see {@linkcode DeviceChainRecord}.
   */
  readonly chains: (DeviceChainRecord | null)[];
  /** The violation that broke the ring, or `null` while it is healthy. */
  broken: Violation | null;
  /** Last bad available ring `flags` value reported (so one value is reported once), or -1. */
  lastBadAvailFlags: number;
}

/** Options for {@linkcode createSplitDeviceRing}. */
export interface SplitDeviceRingOptions {
  /** Called once when the ring breaks (default: nothing). */
  readonly onBroken?: (violation: Violation) => void;
  /**
   * Start the ring at this 16-bit index instead of 0: `lastAvail`, `usedIdx`
   * and `signalledUsed` take it, and the device writes it to the used `idx`
   * (and to `avail_event` with `VIRTIO_F_EVENT_IDX`). Without it, nothing is
   * written: a queue the driver just set up starts at 0 on both sides.
   */
  readonly startIdx?: number;
}

/**
 * Builds the device-side state of a queue the driver configured.
 *
 * @param config Memory, the three part addresses, Queue Size, negotiated features, reporter.
 * @param options Broken-ring callback and starting index.
 * @returns A healthy ring with nothing popped.
 * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768
 *   (the transport refuses such a `QueueNum` before a queue is built).
 * @throws {RangeError} If `startIdx` is not an integer from 0 to 0xffff.
 * @throws {GuestMemoryError} If `startIdx` is given and the used ring is not inside RAM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createSplitDeviceRing } from "./ring.ts";
 *
 * const memory = new GuestMemory(0x4000);
 * const ring = createSplitDeviceRing({
 *   memory, index: 0, size: 8, eventIdx: false, indirect: false,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x2000,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * }, { startIdx: 0xfffe });
 * assert.equal(ring.lastAvail, 0xfffe);
 * assert.equal(memory.readU16(0x2002), 0xfffe); // used idx
 * ```
 */
export function createSplitDeviceRing(
  config: SplitQueueConfig,
  options: SplitDeviceRingOptions = {},
): SplitDeviceRing {
  const { size } = config;
  if (!isValidQueueSize(size)) throw new QueueSizeError(size);
  const start = options.startIdx ?? 0;
  checkRingIndex(start, "Start index");
  const ring: SplitDeviceRing = {
    side: "device",
    memory: config.memory,
    index: config.index,
    size,
    mask: size - 1,
    descAddr: config.descAddr,
    availAddr: config.availAddr,
    usedAddr: config.usedAddr,
    usedEventAddr: config.availAddr + usedEventOffset(size),
    availEventAddr: config.usedAddr + availEventOffset(size),
    eventIdx: config.eventIdx,
    indirect: config.indirect,
    reporter: config.reporter,
    onBroken: options.onBroken ?? (() => {}),
    lastAvail: start,
    usedIdx: start,
    signalledUsed: start,
    notifications: true,
    inUse: new Uint8Array(size),
    writable: new Float64Array(size),
    inFlight: 0,
    indirectDesc: { index: -1, addr: 0, len: 0, flags: 0 },
    chains: new Array<DeviceChainRecord | null>(size).fill(null),
    broken: null,
    lastBadAvailFlags: -1,
  };
  attachRingDisplay(ring);
  if (options.startIdx !== undefined) {
    ring.memory.writeU16(ring.usedAddr + VIRTQ_USED_IDX_OFFSET, start);
    if (ring.eventIdx) ring.memory.writeU16(ring.availEventAddr, start);
  }
  return ring;
}

/** What the device does about a driver that broke a rule the ring cannot live with. */
export const DEVICE_RING_BROKEN_ACTION = "queue marked broken until reset; device needs reset";

/**
 * Reports a driver violation that the device cannot go on from, and breaks
 * the ring: `ring.broken` is set and `ring.onBroken` called, once (a second
 * violation on a broken ring is still reported, but the first one stays the
 * reason). Device-side parts call it for every fatal rule.
 *
 * @param ring The device ring.
 * @param id The rule the driver broke.
 * @param message What was observed, with the values.
 * @param values The offending values, by name.
 * @returns `null`, so a part can `return breakDeviceRing(...)` where it would return a result.
 * @throws {ConformanceError} When the log is strict (the ring is broken first).
 */
export function breakDeviceRing(
  ring: SplitDeviceRing,
  id: RequirementId,
  message: string,
  values: Readonly<Record<string, ViolationValue>>,
): null {
  let violation: Violation;
  try {
    violation = ring.reporter.report(id, message, values, DEVICE_RING_BROKEN_ACTION);
  } catch (e) {
    if (e instanceof ConformanceError) markBroken(ring, e.violation);
    throw e;
  }
  markBroken(ring, violation);
  return null;
}

function markBroken(ring: SplitDeviceRing, violation: Violation): void {
  if (ring.broken !== null) return;
  ring.broken = violation;
  ring.onBroken(violation);
}

/**
 * Turns a failed guest memory access to a ring part (descriptor table,
 * available or used ring, event field) into a 2.7.5/D2 violation that breaks
 * the ring: the driver placed that part where there is no RAM. The queue
 * classes wrap every device-side part in this, so no part has to.
 *
 * @param ring The device ring.
 * @param error What the part threw.
 * @throws {unknown} `error` itself when it is not a `GuestMemoryError` (a bug, not the driver's doing).
 * @throws {ConformanceError} When the log is strict.
 */
export function ringAccessFailed(ring: SplitDeviceRing, error: unknown): void {
  if (!(error instanceof GuestMemoryError)) throw error;
  breakDeviceRing(
    ring,
    "2.7.5/D2",
    `${ringPartAt(ring, error.address)} is not inside guest RAM: access of ${error.length} ` +
      `byte(s) at ${hexAddress(error.address)} failed`,
    {
      address: error.address,
      length: error.length,
      descAddr: ring.descAddr,
      availAddr: ring.availAddr,
      usedAddr: ring.usedAddr,
    },
  );
}

/** Which part of the ring an address falls in, for messages. */
function ringPartAt(ring: SplitDeviceRing, address: number): string {
  const within = (start: number, bytes: number) => address >= start && address < start + bytes;
  if (within(ring.descAddr, descTableSize(ring.size))) return "Descriptor table";
  if (within(ring.availAddr, availRingSize(ring.size, true))) return "Available ring";
  if (within(ring.usedAddr, usedRingSize(ring.size, true))) return "Used ring";
  return "Virtqueue part";
}
