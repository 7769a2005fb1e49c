/**
 * The driver half of a packed virtqueue (virtio v1.2 §2.8) as plain state
 * and the parts that work on it, in the manner of Linux's
 * `drivers/virtio/virtio_ring.c` (`virtqueue_add_packed`,
 * `virtqueue_kick_prepare_packed`, `virtqueue_get_buf_ctx_packed`,
 * `detach_buf_packed`, `virtqueue_enable_cb_prepare_packed`).
 *
 * One ring of descriptors serves both directions: the driver writes
 * available descriptors at `nextAvail`, the device overwrites them with used
 * descriptors in the order buffers complete, and each side tells the two
 * apart by the `VIRTQ_DESC_F_AVAIL` / `VIRTQ_DESC_F_USED` bits against its
 * own wrap counter (§2.8.1). A buffer's descriptors share a Buffer ID; the
 * device returns one used descriptor per buffer, and the driver skips as
 * many ring slots as that buffer took (§2.8.6).
 *
 * The driver keeps a private shadow per Buffer ID (token, descriptor count,
 * writable bytes, indirect table) and never reads its own descriptors back:
 * a used descriptor is checked against that shadow, and one that names no
 * buffer in flight, or claims more bytes than the buffer could take, breaks
 * the queue.
 *
 * @module
 */

import type { ConformanceReporter, Violation, ViolationValue } from "../../conformance/log.ts";
import { ConformanceError } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { type GuestMemory, hexAddress } from "../../memory/guest_memory.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../constants.ts";
import {
  type BufferSegment,
  type SplitQueueConfig,
  type UsedBuffer,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../types.ts";
import {
  PVIRTQ_DESC_ADDR,
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_ID,
  PVIRTQ_DESC_LEN,
  PVIRTQ_DESC_SIZE,
  PVIRTQ_EVENT_FLAGS,
  PVIRTQ_EVENT_OFF_WRAP,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  RING_EVENT_FLAGS_ENABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "./constants.ts";
import { isValidPackedQueueSize, PackedQueueSizeError } from "./layout.ts";

/** A Buffer ID with no indirect table: the `table` entry of {@linkcode PackedDriverRing}. */
export const PACKED_NO_TABLE: number = -1;
/** The end of the free Buffer ID list ({@linkcode PackedDriverRing.freeHead}). */
export const PACKED_NO_ID: number = -1;

/**
 * Everything the driver knows about one packed virtqueue.
 *
 * Invariants the parts keep: `nextAvail` and `nextUsed` are ring positions
 * (0 to `size - 1`); `availWrap` and `usedWrap` are the Driver Ring Wrap
 * Counter and the wrap counter of the next used descriptor, 0 or 1, both
 * starting at 1 (§2.8.1); `numFree` counts the ring slots no buffer in
 * flight holds; for every Buffer ID, `inUse[id]` is 1 exactly while its
 * buffer is in flight, and the free ids form a list from `freeHead`
 * through `nextId`.
 */
export interface PackedDriverRing<T = unknown> {
  /** Which half this record describes. */
  readonly side: "driver";
  /** The shared guest RAM. */
  readonly memory: GuestMemory;
  /** Queue index within its device. */
  readonly index: number;
  /** Queue Size, in descriptors (1 to 32768). */
  readonly size: number;
  /** Guest-physical address of the Descriptor Ring (Descriptor Area). */
  readonly descAddr: number;
  /** Guest-physical address of the Driver Event Suppression structure (Driver Area): the driver writes it. */
  readonly driverEventAddr: number;
  /** Guest-physical address of the Device Event Suppression structure (Device Area): the driver reads it. */
  readonly deviceEventAddr: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated (`RING_EVENT_FLAGS_DESC` in use). */
  readonly eventIdx: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated. */
  readonly indirect: boolean;
  /** Where device violations go (already scoped to this queue). */
  readonly reporter: ConformanceReporter;

  /** Ring position of the next descriptor to make available (Linux `next_avail_idx`). */
  nextAvail: number;
  /** The Driver Ring Wrap Counter, 0 or 1 (Linux `avail_wrap_counter`). */
  availWrap: number;
  /** Ring position of the next used descriptor to read (Linux `last_used_idx`). */
  nextUsed: number;
  /** The wrap counter a used descriptor at `nextUsed` carries, 0 or 1 (Linux `used_wrap_counter`). */
  usedWrap: number;
  /** Ring slots free: not holding a descriptor of a buffer in flight. */
  numFree: number;
  /** Descriptors made available since the last notification decision (Linux `num_added`). */
  numAdded: number;
  /** First free Buffer ID, or {@linkcode PACKED_NO_ID}. */
  freeHead: number;
  /** Per Buffer ID: the next free id after it (valid while it is free). */
  readonly nextId: Int32Array;
  /** Per Buffer ID: 1 while its buffer is in flight, else 0. */
  readonly inUse: Uint8Array;
  /** Per Buffer ID: ring slots its buffer takes (1 for an indirect table). */
  readonly descCount: Uint16Array;
  /** Per Buffer ID: device-writable bytes of its buffer (the most a used `len` may say). */
  readonly writable: Float64Array;
  /** Per Buffer ID: guest-physical address of its indirect table, or {@linkcode PACKED_NO_TABLE}. */
  readonly table: Float64Array;
  /** Per Buffer ID: the caller's token. */
  readonly tokens: (T | undefined)[];
  /** Buffers in flight. */
  inFlight: number;
  /** The Driver Event Suppression flags as last written (Linux `event_flags_shadow`). */
  eventFlagsShadow: number;
  /** Last bad Device Event Suppression flags value reported (each value once), or -1. */
  lastBadDeviceFlags: number;
  /** The violation by the device that broke the ring, or `null`. */
  broken: Violation | null;
}

/**
 * Builds the driver-side state of a packed queue over zeroed areas: no
 * descriptor available, both wrap counters 1, every Buffer ID free (ids 0
 * to `size - 1`, lowest first), Driver Event Suppression at
 * `RING_EVENT_FLAGS_ENABLE` as the zeroed structure says. Writes nothing.
 *
 * @param config Memory, the three area addresses, Queue Size, negotiated features, reporter.
 * @returns A healthy ring with nothing in flight.
 * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
 * @throws {RangeError} If an area is misaligned (2.8.11/1) or not inside RAM (2.8.4/D1).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createPackedDriverRing } from "./driver_ring.ts";
 * const ring = createPackedDriverRing({
 *   memory: new GuestMemory(0x2000), index: 0, size: 4, eventIdx: false, indirect: false,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x1004,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * assert.equal(ring.availWrap, 1);
 * assert.equal(ring.numFree, 4);
 * ```
 */
export function createPackedDriverRing<T = unknown>(config: SplitQueueConfig): PackedDriverRing<T> {
  const { size, memory } = config;
  if (!isValidPackedQueueSize(size)) throw new PackedQueueSizeError(size);
  checkArea(memory, "Descriptor Ring", config.descAddr, size * PVIRTQ_DESC_SIZE, 16);
  checkArea(memory, "Driver Event Suppression", config.availAddr, 4, 4);
  checkArea(memory, "Device Event Suppression", config.usedAddr, 4, 4);
  const nextId = new Int32Array(size);
  for (let id = 0; id < size; id++) nextId[id] = id + 1 < size ? id + 1 : PACKED_NO_ID;
  return {
    side: "driver",
    memory,
    index: config.index,
    size,
    descAddr: config.descAddr,
    driverEventAddr: config.availAddr,
    deviceEventAddr: config.usedAddr,
    eventIdx: config.eventIdx,
    indirect: config.indirect,
    reporter: config.reporter,
    nextAvail: 0,
    availWrap: 1,
    nextUsed: 0,
    usedWrap: 1,
    numFree: size,
    numAdded: 0,
    freeHead: 0,
    nextId,
    inUse: new Uint8Array(size),
    descCount: new Uint16Array(size),
    writable: new Float64Array(size),
    table: new Float64Array(size).fill(PACKED_NO_TABLE),
    tokens: new Array<T | undefined>(size).fill(undefined),
    inFlight: 0,
    eventFlagsShadow: RING_EVENT_FLAGS_ENABLE,
    lastBadDeviceFlags: -1,
    broken: null,
  };
}

function checkArea(memory: GuestMemory, name: string, addr: number, bytes: number, align: number) {
  if (!Number.isSafeInteger(addr) || addr % align !== 0) {
    throw new RangeError(
      `${name} at ${hexAddress(addr)} is not aligned to ${align} bytes (§2.8.11/1)`,
    );
  }
  if (!memory.contains(addr, bytes)) {
    throw new RangeError(
      `${name} (${bytes} bytes at ${hexAddress(addr)}) is not inside guest RAM (§2.8.4/D1)`,
    );
  }
}

/** What the driver does about a device that broke a rule the ring cannot live with. */
export const PACKED_DRIVER_BROKEN_ACTION =
  "queue marked broken: no more buffers are reaped or added";

/**
 * Reports a device violation and breaks the ring (the first violation stays
 * the reason), like Linux's `BAD_RING`.
 *
 * @returns `null`, for `return breakPackedDriverRing(...)`.
 * @throws {ConformanceError} When the log is strict (the ring is broken first).
 */
export function breakPackedDriverRing(
  ring: PackedDriverRing<unknown>,
  id: RequirementId,
  message: string,
  values: Readonly<Record<string, ViolationValue>>,
): null {
  let violation: Violation;
  try {
    violation = ring.reporter.report(id, message, values, PACKED_DRIVER_BROKEN_ACTION);
  } catch (e) {
    if (e instanceof ConformanceError) ring.broken ??= e.violation;
    throw e;
  }
  ring.broken ??= violation;
  return null;
}

/** `VIRTQ_DESC_F_AVAIL` / `VIRTQ_DESC_F_USED` for a descriptor made available on wrap `wrap`. */
function availUsedFlags(wrap: number): number {
  return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/** Checks one element the driver is about to hand over; returns its length. */
function checkElement(memory: GuestMemory, seg: BufferSegment, i: number): number {
  const { addr, len } = seg;
  if (!Number.isInteger(len) || len < 1 || len > 0xffff_ffff) {
    throw new VirtqueueChainError(
      null,
      i,
      `Element ${i} has length ${len}: a descriptor's len is from 1 to 2^32 - 1 bytes`,
    );
  }
  if (!Number.isSafeInteger(addr) || !memory.contains(addr, len)) {
    throw new VirtqueueChainError(
      "2.8.4/D1",
      i,
      `Element ${i} (${len} bytes at ${hexAddress(addr)}) is not inside guest RAM`,
    );
  }
  return len;
}

/**
 * Common checks of a buffer before it is placed (in the ring, or in an
 * indirect table taking one slot); returns its element count.
 */
function checkBuffer(
  ring: PackedDriverRing<unknown>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  indirect: boolean,
): number {
  const total = readable.length + writable.length;
  if (total === 0) {
    throw new VirtqueueChainError(null, -1, "A buffer needs at least one element (§2.8)");
  }
  if (total > ring.size) {
    throw new VirtqueueChainError(
      indirect ? "2.8.19/3" : "2.8.17/2",
      -1,
      `A list of ${total} elements is longer than Queue Size ${ring.size}`,
    );
  }
  const needed = indirect ? 1 : total;
  if (needed > ring.numFree || ring.freeHead === PACKED_NO_ID) {
    throw new VirtqueueFullError(needed, ring.numFree);
  }
  const memory = ring.memory;
  for (let i = 0; i < readable.length; i++) checkElement(memory, readable[i], i);
  for (let i = 0; i < writable.length; i++) {
    checkElement(memory, writable[i], readable.length + i);
  }
  return total;
}

/** Takes a free Buffer ID and records its buffer in the shadow. */
function takeId<T>(
  ring: PackedDriverRing<T>,
  token: T,
  slots: number,
  writableBytes: number,
  table: number,
): number {
  const id = ring.freeHead;
  ring.freeHead = ring.nextId[id];
  ring.inUse[id] = 1;
  ring.descCount[id] = slots;
  ring.writable[id] = writableBytes;
  ring.table[id] = table;
  ring.tokens[id] = token;
  ring.numFree -= slots;
  ring.numAdded += slots;
  ring.inFlight++;
  return id;
}

/**
 * Makes one buffer available in the Descriptor Ring, one descriptor per
 * element (Linux `virtqueue_add_packed`, §2.8.21.1): from `nextAvail` on,
 * device-readable elements first (2.8.17/3), each descriptor's `addr`,
 * `len` and `id` (the buffer's Buffer ID, in every descriptor of the list)
 * stored before its `flags`, `VIRTQ_DESC_F_NEXT` on all but the last,
 * `VIRTQ_DESC_F_WRITE` on device-writable ones, and `VIRTQ_DESC_F_AVAIL` /
 * `VIRTQ_DESC_F_USED` set to the Driver Ring Wrap Counter and its inverse
 * (§2.8.1), which toggles after the ring's last slot. The first
 * descriptor's `flags` are stored last of all, so the device never sees a
 * partial list (2.8.17/6, 2.8.21.1.1/1), and no store to the list follows it
 * (2.8.16/2). Room for the whole list is checked before the first store
 * (2.8.17/5); the slots written are free ones, whose used descriptors the
 * driver has already read (2.8.16/1: `numFree` grows only in
 * `detachBufPacked`, after `getBufPacked` saw the used descriptor).
 *
 * The buffer is visible to the device at once; {@linkcode needsKickPacked}
 * then decides whether to notify it. Limits of the device type on a list's
 * length (2.8.17/1) are the device driver's to keep: the block driver
 * splits requests by `seg_max` before they reach the ring.
 *
 * @param ring The driver ring.
 * @param readable Device-readable elements, in order.
 * @param writable Device-writable elements, in order.
 * @param token Returned with the used descriptor.
 * @throws {VirtqueueChainError} For an empty buffer, one longer than Queue
 *   Size (2.8.17/2), or an element of length 0 or outside RAM (2.8.4/D1).
 * @throws {VirtqueueFullError} When the ring has fewer free slots than elements.
 */
export function addPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
): void {
  const total = checkBuffer(ring, readable, writable, false);
  let writableBytes = 0;
  for (let i = 0; i < writable.length; i++) writableBytes += writable[i].len;
  const id = takeId(ring, token, total, writableBytes, PACKED_NO_TABLE);
  const { memory, descAddr, size } = ring;
  const first = ring.nextAvail;
  let pos = first;
  let wrap = ring.availWrap;
  let firstFlags = 0;
  for (let i = 0; i < total; i++) {
    const inWritable = i >= readable.length;
    const seg = inWritable ? writable[i - readable.length] : readable[i];
    const flags = (inWritable ? VIRTQ_DESC_F_WRITE : 0) |
      (i + 1 < total ? VIRTQ_DESC_F_NEXT : 0) | availUsedFlags(wrap);
    const desc = descAddr + pos * PVIRTQ_DESC_SIZE;
    memory.writeU64(desc + PVIRTQ_DESC_ADDR, seg.addr);
    memory.writeU32(desc + PVIRTQ_DESC_LEN, seg.len);
    memory.writeU16(desc + PVIRTQ_DESC_ID, id);
    if (i === 0) firstFlags = flags;
    else memory.writeU16(desc + PVIRTQ_DESC_FLAGS, flags);
    if (++pos === size) {
      pos = 0;
      wrap ^= 1;
    }
  }
  ring.nextAvail = pos;
  ring.availWrap = wrap;
  memory.writeU16(descAddr + first * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS, firstFlags);
}

/**
 * Makes one buffer available through an indirect table (Linux
 * `virtqueue_add_indirect_packed`, §2.8.7): writes every element into the
 * table at `table` as a `struct pvirtq_desc` (`addr`, `len`, `id` 0,
 * `flags` only `VIRTQ_DESC_F_WRITE`, 2.8.19/2), then one ring descriptor
 * at `nextAvail` with `VIRTQ_DESC_F_INDIRECT`, `len` = 16 × elements and
 * the Buffer ID, its `flags` stored last. The buffer takes one ring slot.
 *
 * @param ring The driver ring.
 * @param readable Device-readable elements, in order.
 * @param writable Device-writable elements, in order.
 * @param token Returned with the used descriptor.
 * @param table Guest-physical address of 16 × (elements) bytes, 16-byte
 *   aligned, that the caller allocated and frees when the buffer comes back.
 * @throws {VirtqueueChainError} Without `VIRTIO_F_INDIRECT_DESC` (2.8.19/1),
 *   for a table longer than Queue Size (2.8.19/3), or an element of length 0
 *   or outside RAM (2.8.4/D1).
 * @throws {VirtqueueFullError} When no ring slot is free.
 */
export function addIndirectPacked<T>(
  ring: PackedDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  table: number,
): void {
  if (!ring.indirect) {
    throw new VirtqueueChainError(
      "2.8.19/1",
      -1,
      "An indirect table needs VIRTIO_F_INDIRECT_DESC, which was not negotiated",
    );
  }
  const total = checkBuffer(ring, readable, writable, true);
  const { memory, descAddr, size } = ring;
  const bytes = total * PVIRTQ_DESC_SIZE;
  if (!Number.isSafeInteger(table) || !memory.contains(table, bytes)) {
    throw new VirtqueueChainError(
      "2.8.4/D1",
      -1,
      `Indirect table (${bytes} bytes at ${hexAddress(table)}) is not inside guest RAM`,
    );
  }
  let writableBytes = 0;
  for (let i = 0; i < total; i++) {
    const inWritable = i >= readable.length;
    const seg = inWritable ? writable[i - readable.length] : readable[i];
    const entry = table + i * PVIRTQ_DESC_SIZE;
    memory.writeU64(entry + PVIRTQ_DESC_ADDR, seg.addr);
    memory.writeU32(entry + PVIRTQ_DESC_LEN, seg.len);
    memory.writeU16(entry + PVIRTQ_DESC_ID, 0);
    memory.writeU16(entry + PVIRTQ_DESC_FLAGS, inWritable ? VIRTQ_DESC_F_WRITE : 0);
    if (inWritable) writableBytes += seg.len;
  }
  const id = takeId(ring, token, 1, writableBytes, table);
  const pos = ring.nextAvail;
  const desc = descAddr + pos * PVIRTQ_DESC_SIZE;
  memory.writeU64(desc + PVIRTQ_DESC_ADDR, table);
  memory.writeU32(desc + PVIRTQ_DESC_LEN, bytes);
  memory.writeU16(desc + PVIRTQ_DESC_ID, id);
  const flags = VIRTQ_DESC_F_INDIRECT | availUsedFlags(ring.availWrap);
  if (pos + 1 === size) {
    ring.nextAvail = 0;
    ring.availWrap ^= 1;
  } else {
    ring.nextAvail = pos + 1;
  }
  memory.writeU16(desc + PVIRTQ_DESC_FLAGS, flags);
}

/**
 * `vring_need_event` (Linux `virtio_ring.h`): whether `event` is one of the
 * positions from `old` (included) to `next` (excluded), in 16-bit
 * arithmetic.
 */
function needEvent(event: number, next: number, old: number): boolean {
  return ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);
}

/**
 * Decides whether the device wants an available buffer notification for
 * the descriptors made available since the last call (Linux
 * `virtqueue_kick_prepare_packed`), reading the Device Event Suppression
 * structure once, after the `flags` stores that made them available
 * (2.8.21.3.1/1): `RING_EVENT_FLAGS_DISABLE` → no; `RING_EVENT_FLAGS_ENABLE`
 * → yes; with `VIRTIO_F_EVENT_IDX`, `RING_EVENT_FLAGS_DESC` → yes if the
 * descriptor at `desc_event_off`, on wrap `desc_event_wrap`, is one of the
 * new ones (2.8.10/D1). Flags the device may not write (0x3, reserved bits,
 * `RING_EVENT_FLAGS_DESC` without event idx) are reported once per value
 * (2.8.14/D2) and read as `RING_EVENT_FLAGS_ENABLE`.
 *
 * @param ring The driver ring; its `numAdded` is consumed.
 * @returns `true` if the caller should notify the device; `false` when
 *   nothing was made available or the device suppressed it.
 * @throws {ConformanceError} When the log is strict and the flags are bad.
 */
export function needsKickPacked(ring: PackedDriverRing<unknown>): boolean {
  const added = ring.numAdded;
  if (added === 0) return false;
  ring.numAdded = 0;
  const word = ring.memory.readU32(ring.deviceEventAddr);
  const offWrap = word & 0xffff;
  const flags = word >>> 16;
  let mode = flags & 0x3;
  if (flags > 0x3 || mode === 0x3 || (mode === RING_EVENT_FLAGS_DESC && !ring.eventIdx)) {
    if (ring.lastBadDeviceFlags !== flags) {
      ring.lastBadDeviceFlags = flags;
      ring.reporter.report(
        "2.8.14/D2",
        `Device Event Suppression flags 0x${flags.toString(16)} are not ENABLE, DISABLE, or DESC ` +
          `with VIRTIO_F_EVENT_IDX${ring.eventIdx ? "" : " (not negotiated)"}`,
        { flags, eventIdx: ring.eventIdx },
        "read as RING_EVENT_FLAGS_ENABLE",
      );
    }
    mode = RING_EVENT_FLAGS_ENABLE;
  }
  if (mode === RING_EVENT_FLAGS_DISABLE) return false;
  if (mode !== RING_EVENT_FLAGS_DESC || added >= ring.size) return true;
  let event = offWrap & 0x7fff;
  if (offWrap >>> 15 !== ring.availWrap) event -= ring.size;
  const next = ring.nextAvail;
  return needEvent(event, next, next - added);
}

/** Whether the descriptor at `nextUsed` is a used one on the expected wrap. */
function usedAt(ring: PackedDriverRing<unknown>): boolean {
  const flags = ring.memory.readU16(
    ring.descAddr + ring.nextUsed * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS,
  );
  const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
  return avail === used && used === ring.usedWrap;
}

/**
 * Reaps the used descriptor at `nextUsed`, if there is one (Linux
 * `virtqueue_get_buf_ctx_packed`): a descriptor is used when its
 * `VIRTQ_DESC_F_AVAIL` and `VIRTQ_DESC_F_USED` bits both equal the used
 * wrap counter (§2.8.1). Its Buffer ID must name a buffer in flight
 * (2.8.22/D1); its `len` counts only with `VIRTQ_DESC_F_WRITE` set (§2.8.4:
 * otherwise it is reserved and read as 0), and must not exceed the buffer's
 * writable bytes (2.8.4/D2). A failed check is reported and breaks the
 * ring. Then `nextUsed` skips the slots the buffer took (§2.8.6), toggling
 * the used wrap counter past the ring's end, and `detach` frees the id.
 *
 * @param ring The driver ring.
 * @param detach Frees a Buffer ID and returns its token (the queue's
 *   `detachBufPacked` with its table freeing).
 * @returns The token and `len`, or `null` when no used descriptor is there
 *   or the device broke a rule.
 * @throws {ConformanceError} When the log is strict and a check fails.
 */
export function getBufPacked<T>(
  ring: PackedDriverRing<T>,
  detach: (id: number) => T,
): UsedBuffer<T> | null {
  if (!usedAt(ring)) return null;
  const { memory, size } = ring;
  const desc = ring.descAddr + ring.nextUsed * PVIRTQ_DESC_SIZE;
  const flags = memory.readU16(desc + PVIRTQ_DESC_FLAGS);
  const id = memory.readU16(desc + PVIRTQ_DESC_ID);
  const rawLen = memory.readU32(desc + PVIRTQ_DESC_LEN);
  if (id >= size || ring.inUse[id] === 0) {
    return breakPackedDriverRing(
      ring,
      "2.8.22/D1",
      `Used descriptor at position ${ring.nextUsed} names Buffer ID ${id}, which is not a ` +
        "buffer in flight",
      { position: ring.nextUsed, id, size },
    );
  }
  const len = (flags & VIRTQ_DESC_F_WRITE) !== 0 ? rawLen : 0;
  if (len > ring.writable[id]) {
    return breakPackedDriverRing(
      ring,
      "2.8.4/D2",
      `Used descriptor for Buffer ID ${id} says ${len} bytes were written; the buffer has ` +
        `${ring.writable[id]} device-writable byte(s)`,
      { id, len, writable: ring.writable[id] },
    );
  }
  let next = ring.nextUsed + ring.descCount[id];
  if (next >= size) {
    next -= size;
    ring.usedWrap ^= 1;
  }
  ring.nextUsed = next;
  return { token: detach(id), len };
}

/**
 * Frees a Buffer ID whose buffer came back (Linux `detach_buf_packed`):
 * its ring slots become free, its indirect table (if any) goes to
 * `freeTable`, and the id returns to the head of the free list.
 *
 * @param ring The driver ring.
 * @param id A Buffer ID in flight.
 * @param freeTable Returns an indirect table's memory.
 * @returns The buffer's token.
 * @throws {RangeError} If `id` is not in flight (a bug of the caller).
 */
export function detachBufPacked<T>(
  ring: PackedDriverRing<T>,
  id: number,
  freeTable: (table: number) => void,
): T {
  if (!(id >= 0 && id < ring.size && ring.inUse[id] === 1)) {
    throw new RangeError(`Buffer ID ${id} of queue ${ring.index} is not in flight`);
  }
  const token = ring.tokens[id] as T;
  ring.tokens[id] = undefined;
  ring.inUse[id] = 0;
  ring.numFree += ring.descCount[id];
  ring.inFlight--;
  const table = ring.table[id];
  if (table !== PACKED_NO_TABLE) {
    ring.table[id] = PACKED_NO_TABLE;
    freeTable(table);
  }
  ring.nextId[id] = ring.freeHead;
  ring.freeHead = id;
  return token;
}

/**
 * With `VIRTIO_F_EVENT_IDX` and used buffer notifications asked for one
 * descriptor (`RING_EVENT_FLAGS_DESC`), moves `desc_event_off` /
 * `desc_event_wrap` to `nextUsed` and the used wrap counter after a reap,
 * so that the device notifies for the next used descriptor (Linux, in
 * `virtqueue_get_buf_ctx_packed`). Stores nothing otherwise.
 *
 * @param ring The driver ring.
 */
export function updateDriverEventPacked(ring: PackedDriverRing<unknown>): void {
  if (!ring.eventIdx || ring.eventFlagsShadow !== RING_EVENT_FLAGS_DESC) return;
  ring.memory.writeU16(
    ring.driverEventAddr + PVIRTQ_EVENT_OFF_WRAP,
    ring.nextUsed | (ring.usedWrap << 15),
  );
}

/**
 * Whether a used descriptor waits at `nextUsed` (Linux `more_used_packed`).
 *
 * @param ring The driver ring.
 */
export function moreUsedPacked(ring: PackedDriverRing<unknown>): boolean {
  return usedAt(ring);
}

/**
 * Asks the device for no used buffer notifications (Linux
 * `virtqueue_disable_cb_packed`): `RING_EVENT_FLAGS_DISABLE` in the Driver
 * Event Suppression structure, stored only when it is not there already.
 * Advisory: a notification may still come.
 *
 * @param ring The driver ring.
 */
export function disableCallbacksPacked(ring: PackedDriverRing<unknown>): void {
  if (ring.eventFlagsShadow === RING_EVENT_FLAGS_DISABLE) return;
  ring.eventFlagsShadow = RING_EVENT_FLAGS_DISABLE;
  ring.memory.writeU16(ring.driverEventAddr + PVIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_DISABLE);
}

/**
 * Asks for used buffer notifications again (Linux
 * `virtqueue_enable_cb_prepare_packed` then `virtqueue_poll_packed`): with
 * `VIRTIO_F_EVENT_IDX`, `desc_event_off` / `desc_event_wrap` first (the
 * next used position and wrap), then `RING_EVENT_FLAGS_DESC`; without it,
 * `RING_EVENT_FLAGS_ENABLE`. Then it looks at the descriptor at `nextUsed`
 * once more, after those stores, so a buffer used meanwhile is not missed
 * (2.8.22/D2).
 *
 * @param ring The driver ring.
 * @returns `false` if a used descriptor is waiting (reap it); `true` otherwise.
 */
export function enableCallbacksPacked(ring: PackedDriverRing<unknown>): boolean {
  const memory = ring.memory;
  if (ring.eventIdx) {
    memory.writeU16(
      ring.driverEventAddr + PVIRTQ_EVENT_OFF_WRAP,
      ring.nextUsed | (ring.usedWrap << 15),
    );
  }
  const flags = ring.eventIdx ? RING_EVENT_FLAGS_DESC : RING_EVENT_FLAGS_ENABLE;
  if (ring.eventFlagsShadow !== flags) {
    ring.eventFlagsShadow = flags;
    memory.writeU16(ring.driverEventAddr + PVIRTQ_EVENT_FLAGS, flags);
  }
  return !usedAt(ring);
}
