/**
 * The device half of a packed virtqueue (virtio v1.2 §2.8) as plain state
 * and the parts that work on it, hardened the way QEMU's
 * `virtqueue_packed_pop` and Linux vhost's packed ring are: every list is
 * walked and validated before a device model sees it, and a driver that
 * breaks a rule gets a reported violation and a broken queue, never an
 * exception out of the device.
 *
 * The device polls one place, the descriptor at `nextAvail` (§2.8.2): it is
 * available when its `VIRTQ_DESC_F_AVAIL` bit equals the wrap counter the
 * device expects and `VIRTQ_DESC_F_USED` does not (§2.8.1). Buffers may
 * complete in any order: each used descriptor goes at `nextUsed`, the
 * Buffer ID tells the driver which buffer it was, and both sides skip the
 * ring slots that buffer took (§2.8.6, §2.8.8).
 *
 * The device takes buffers in ring order, one list after the next
 * (2.8.12/1: `walkPackedChain` only ever starts at `nextAvail`), and writes
 * used descriptors in the order the device model pushes them, that is in
 * completion order (2.8.12/2). It never writes an element's bytes here: only
 * the used descriptor's `id`, `len` and `flags` (device models write only
 * device-writable elements, 2.8.15/1).
 *
 * @module
 */

import type { ConformanceReporter, Violation, ViolationValue } from "../../conformance/log.ts";
import { ConformanceError } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { type GuestMemory, GuestMemoryError, hexAddress } from "../../memory/guest_memory.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../constants.ts";
import type { SplitQueueConfig } from "../types.ts";
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

/** One element of a {@linkcode PackedChainRecord}: a `BufferSegment` the ring refills. */
export interface PackedSegment {
  /** Guest-physical address of the first byte. */
  addr: number;
  /** Length in bytes. */
  len: number;
}

/**
 * One buffer as the device popped it: a `DescriptorChain` whose `head` is
 * the Buffer ID, plus the ring slots it took. The ring keeps one record per
 * Buffer ID and refills it on every pop of that id (a Buffer ID cannot be
 * made available again while in flight, 2.8.6/D1), so popping allocates
 * nothing once warm.
 */
export interface PackedChainRecord {
  /** The Buffer ID (from the list's last descriptor): what `push` takes. */
  head: number;
  /** Device-readable elements, in list order. */
  readonly readable: PackedSegment[];
  /** Device-writable elements, in list order. */
  readonly writable: PackedSegment[];
  /** Sum of the readable lengths, in bytes. */
  readableLength: number;
  /** Sum of the writable lengths, in bytes. */
  writableLength: number;
  /** Descriptors read, an indirect table's entries included. */
  descriptorCount: number;
  /** Whether the buffer is an indirect table. */
  indirect: boolean;
  /** Ring slots the buffer took (1 for an indirect table): how far `pushUsedPacked` skips. */
  slots: number;
  /** Whether the buffer is popped and not pushed back. */
  inUse: boolean;
}

/** The indirect descriptor where the last walk stopped (`readIndirectTablePacked` reads its table). */
export interface PackedIndirectDescriptor {
  /** Ring position of the descriptor. */
  position: number;
  /** `addr`: the table's guest-physical address (`Infinity` above 2^53). */
  addr: number;
  /** `len`: the table's size in bytes. */
  len: number;
}

/**
 * Everything the device knows about one packed virtqueue.
 *
 * Invariants the parts keep: `nextAvail` and `nextUsed` are ring positions
 * (0 to `size - 1`); `availWrap` (the wrap counter the device expects of the
 * driver's next available descriptor) and `usedWrap` (the Device Ring Wrap
 * Counter) are 0 or 1, both starting at 1 (§2.8.1); a record in `chains` has
 * `inUse` set exactly while its buffer is popped and not pushed, and
 * `inFlight` counts those; once `broken` is set nothing more is read or
 * written.
 */
export interface PackedDeviceRing {
  /** Which half this record describes. */
  readonly side: "device";
  /** The shared guest RAM. */
  readonly memory: GuestMemory;
  /** Queue index within its device. */
  readonly index: number;
  /** Queue Size, in descriptors (1 to 32768). */
  readonly size: number;
  /** Guest-physical address of the Descriptor Ring (Descriptor Area). */
  readonly descAddr: number;
  /** Guest-physical address of the Driver Event Suppression structure (Driver Area): the device reads it. */
  readonly driverEventAddr: number;
  /** Guest-physical address of the Device Event Suppression structure (Device Area): the device writes it. */
  readonly deviceEventAddr: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated. */
  readonly eventIdx: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated. */
  readonly indirect: boolean;
  /** Where driver violations go (already scoped to this queue). */
  readonly reporter: ConformanceReporter;
  /** Called once, with the violation, when the ring breaks (the transport sets DEVICE_NEEDS_RESET). */
  readonly onBroken: (violation: Violation) => void;

  /** Ring position of the next descriptor to look at for an available buffer. */
  nextAvail: number;
  /** The wrap counter an available descriptor at `nextAvail` carries, 0 or 1. */
  availWrap: number;
  /** Ring position where the next used descriptor goes. */
  nextUsed: number;
  /** The Device Ring Wrap Counter, 0 or 1. */
  usedWrap: number;
  /** Ring slots used since the last used buffer notification decision. */
  usedSinceSignal: number;
  /** Whether the device wants available buffer notifications. */
  notifications: boolean;
  /** Buffers popped and not pushed back. */
  inFlight: number;
  /** Per Buffer ID: its record, made on first pop. */
  readonly chains: Map<number, PackedChainRecord>;
  /** The record the next walk fills; it becomes the record of the id the walk finds. */
  scratch: PackedChainRecord;
  /** The indirect descriptor where the last walk stopped (valid when that record has `indirect`). */
  readonly indirectDesc: PackedIndirectDescriptor;
  /** The violation that broke the ring, or `null` while it is healthy. */
  broken: Violation | null;
  /** Last bad Driver Event Suppression flags value reported (each value once), or -1. */
  lastBadDriverFlags: number;
}

function emptyRecord(): PackedChainRecord {
  return {
    head: 0,
    readable: [],
    writable: [],
    readableLength: 0,
    writableLength: 0,
    descriptorCount: 0,
    indirect: false,
    slots: 0,
    inUse: false,
  };
}

/**
 * Builds the device-side state of a packed queue the driver configured:
 * nothing popped, both wrap counters 1. Writes nothing.
 *
 * @param config Memory, the three area addresses, Queue Size, negotiated features, reporter.
 * @param onBroken Called once when the ring breaks (default: nothing).
 * @returns A healthy ring.
 * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { createPackedDeviceRing, descAvailablePacked } from "./device_ring.ts";
 * const ring = createPackedDeviceRing({
 *   memory: new GuestMemory(0x2000), index: 0, size: 4, eventIdx: false, indirect: false,
 *   descAddr: 0x0, availAddr: 0x1000, usedAddr: 0x1004,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * assert.equal(descAvailablePacked(ring), false); // a zeroed ring holds nothing
 * ```
 */
export function createPackedDeviceRing(
  config: SplitQueueConfig,
  onBroken: (violation: Violation) => void = () => {},
): PackedDeviceRing {
  const { size } = config;
  if (!isValidPackedQueueSize(size)) throw new PackedQueueSizeError(size);
  return {
    side: "device",
    memory: config.memory,
    index: config.index,
    size,
    descAddr: config.descAddr,
    driverEventAddr: config.availAddr,
    deviceEventAddr: config.usedAddr,
    eventIdx: config.eventIdx,
    indirect: config.indirect,
    reporter: config.reporter,
    onBroken,
    nextAvail: 0,
    availWrap: 1,
    nextUsed: 0,
    usedWrap: 1,
    usedSinceSignal: 0,
    notifications: true,
    inFlight: 0,
    chains: new Map(),
    scratch: emptyRecord(),
    indirectDesc: { position: -1, addr: 0, len: 0 },
    broken: null,
    lastBadDriverFlags: -1,
  };
}

/** What the device does about a driver that broke a rule the ring cannot live with. */
export const PACKED_DEVICE_BROKEN_ACTION = "queue marked broken until reset; device needs reset";

/**
 * Reports a driver violation the device cannot go on from and breaks the
 * ring: `broken` is set and `onBroken` called, once.
 *
 * @returns `null`, for `return breakPackedDeviceRing(...)`.
 * @throws {ConformanceError} When the log is strict (the ring is broken first).
 */
export function breakPackedDeviceRing(
  ring: PackedDeviceRing,
  id: RequirementId,
  message: string,
  values: Readonly<Record<string, ViolationValue>>,
): null {
  let violation: Violation;
  try {
    violation = ring.reporter.report(id, message, values, PACKED_DEVICE_BROKEN_ACTION);
  } catch (e) {
    if (e instanceof ConformanceError) markBroken(ring, e.violation);
    throw e;
  }
  markBroken(ring, violation);
  return null;
}

function markBroken(ring: PackedDeviceRing, violation: Violation): void {
  if (ring.broken !== null) return;
  ring.broken = violation;
  ring.onBroken(violation);
}

/**
 * Turns a failed guest memory access to a ring part into a 2.8.4/D1
 * violation that breaks the ring; the queue class wraps every part in it.
 *
 * @throws {unknown} `error` itself when it is not a `GuestMemoryError`.
 * @throws {ConformanceError} When the log is strict.
 */
export function packedRingAccessFailed(ring: PackedDeviceRing, error: unknown): void {
  if (!(error instanceof GuestMemoryError)) throw error;
  breakPackedDeviceRing(
    ring,
    "2.8.4/D1",
    `A part of packed queue ${ring.index} is not inside guest RAM: access of ${error.length} ` +
      `byte(s) at ${hexAddress(error.address)} failed`,
    { address: error.address, length: error.length },
  );
}

/** Whether `flags` mark a descriptor available on wrap `wrap` (§2.8.1). */
function isAvail(flags: number, wrap: number): boolean {
  const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
  return avail === wrap && used !== wrap;
}

/**
 * Whether the descriptor at `nextAvail` is available (QEMU `is_desc_avail`):
 * `VIRTQ_DESC_F_AVAIL` equal to the expected wrap counter and
 * `VIRTQ_DESC_F_USED` not (§2.8.1, 2.8.15/2). Both bits equal to the wrap
 * counter is a used descriptor no device wrote there: the driver set
 * `VIRTQ_DESC_F_USED` wrong (2.8.1/D1), which breaks the ring.
 *
 * @param ring The device ring.
 * @returns `true` if a buffer starts at `nextAvail`.
 * @throws {ConformanceError} When the log is strict and the flags are bad.
 */
export function descAvailablePacked(ring: PackedDeviceRing): boolean {
  const flags = ring.memory.readU16(
    ring.descAddr + ring.nextAvail * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS,
  );
  if (isAvail(flags, ring.availWrap)) return true;
  const avail = (flags & VIRTQ_DESC_F_AVAIL) !== 0 ? 1 : 0;
  const used = (flags & VIRTQ_DESC_F_USED) !== 0 ? 1 : 0;
  if (avail === ring.availWrap && used === ring.availWrap) {
    breakPackedDeviceRing(
      ring,
      "2.8.1/D1",
      `Descriptor at position ${ring.nextAvail} has VIRTQ_DESC_F_AVAIL and VIRTQ_DESC_F_USED ` +
        `both ${avail} (flags 0x${flags.toString(16)}): made available with USED not inverted`,
      { position: ring.nextAvail, flags, wrap: ring.availWrap },
    );
  }
  return false;
}

/** Fills the `n`-th element of `list`, reusing its object. */
function setSegment(list: PackedSegment[], n: number, addr: number, len: number): void {
  const seg = list[n];
  if (seg === undefined) list.push({ addr, len });
  else {
    seg.addr = addr;
    seg.len = len;
  }
}

/**
 * Reads the buffer that starts at `nextAvail` (which
 * {@linkcode descAvailablePacked} found available), descriptor after
 * descriptor in ring order while `VIRTQ_DESC_F_NEXT` is set (2.8.18/1),
 * wrapping past the ring's end, and validates it:
 *
 * - every later descriptor of the list is available on its own wrap
 *   (2.8.17/6: the first was made available last);
 * - the list has at most Queue Size descriptors (2.8.17/2);
 * - no device-readable element follows a device-writable one (2.8.17/3);
 * - every element lies inside RAM (2.8.4/D1);
 * - `VIRTQ_DESC_F_INDIRECT` only with `VIRTIO_F_INDIRECT_DESC` (2.8.19/1)
 *   and only on a list of that one descriptor (2.8.19/4); the walk stops
 *   there and records it in `ring.indirectDesc` for `readIndirectTablePacked`;
 * - the Buffer ID, read from the last descriptor (§2.8.6), is not in flight
 *   already (2.8.6/D1).
 *
 * A failed check is reported and breaks the ring. On success `nextAvail`
 * and `availWrap` move past the list, and the record of the Buffer ID is
 * returned, filled, `inUse` still false (the queue sets it).
 *
 * @param ring The device ring.
 * @returns The buffer's record, or `null` when the driver broke a rule.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 * @throws {GuestMemoryError} When the Descriptor Ring is not inside RAM (the queue turns it into 2.8.4/D1).
 */
export function walkPackedChain(ring: PackedDeviceRing): PackedChainRecord | null {
  const { memory, descAddr, size } = ring;
  const rec = ring.scratch;
  let pos = ring.nextAvail;
  let wrap = ring.availWrap;
  let nr = 0;
  let nw = 0;
  let readableLength = 0;
  let writableLength = 0;
  let count = 0;
  let id = 0;
  let indirect = false;
  for (;;) {
    if (count === size) {
      return breakPackedDeviceRing(
        ring,
        "2.8.17/2",
        `List starting at position ${ring.nextAvail} runs past Queue Size ${size} descriptors`,
        { position: ring.nextAvail, size },
      );
    }
    const desc = descAddr + pos * PVIRTQ_DESC_SIZE;
    const flags = memory.readU16(desc + PVIRTQ_DESC_FLAGS);
    if (count > 0 && !isAvail(flags, wrap)) {
      return breakPackedDeviceRing(
        ring,
        "2.8.17/6",
        `Descriptor ${count} of the list starting at position ${ring.nextAvail} (position ` +
          `${pos}, flags 0x${flags.toString(16)}) is not available on wrap ${wrap}: the list's ` +
          "first descriptor was made available before the rest",
        { start: ring.nextAvail, position: pos, flags, wrap },
      );
    }
    const addr = memory.readU64Number(desc + PVIRTQ_DESC_ADDR);
    const len = memory.readU32(desc + PVIRTQ_DESC_LEN);
    id = memory.readU16(desc + PVIRTQ_DESC_ID);
    count++;
    if (++pos === size) {
      pos = 0;
      wrap ^= 1;
    }
    if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
      if (!ring.indirect) {
        return breakPackedDeviceRing(
          ring,
          "2.8.19/1",
          `Descriptor at position ${(pos + size - 1) % size} has VIRTQ_DESC_F_INDIRECT, but ` +
            "VIRTIO_F_INDIRECT_DESC was not negotiated",
          { flags },
        );
      }
      if (count > 1 || (flags & VIRTQ_DESC_F_NEXT) !== 0) {
        return breakPackedDeviceRing(
          ring,
          "2.8.19/4",
          `Descriptor at position ${(pos + size - 1) % size} has VIRTQ_DESC_F_INDIRECT in a ` +
            `list linked by VIRTQ_DESC_F_NEXT (descriptor ${count} of the list, flags 0x${
              flags.toString(16)
            })`,
          { flags, index: count - 1 },
        );
      }
      const ind = ring.indirectDesc;
      ind.position = ring.nextAvail;
      ind.addr = addr;
      ind.len = len;
      indirect = true;
      break;
    }
    if (!memory.contains(addr, len)) {
      return breakPackedDeviceRing(
        ring,
        "2.8.4/D1",
        `Element ${count - 1} of the list at position ${ring.nextAvail} (${len} bytes at ${
          hexAddress(addr)
        }) is not inside guest RAM`,
        { position: ring.nextAvail, addr, len },
      );
    }
    if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
      setSegment(rec.writable, nw++, addr, len);
      writableLength += len;
    } else {
      if (nw > 0) {
        return breakPackedDeviceRing(
          ring,
          "2.8.17/3",
          `Element ${count - 1} of the list at position ${ring.nextAvail} is device-readable ` +
            `after ${nw} device-writable element(s)`,
          { position: ring.nextAvail, element: count - 1 },
        );
      }
      setSegment(rec.readable, nr++, addr, len);
      readableLength += len;
    }
    if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
  }
  const held = ring.chains.get(id);
  if (held !== undefined && held.inUse) {
    return breakPackedDeviceRing(
      ring,
      "2.8.6/D1",
      `Buffer ID ${id} (list at position ${ring.nextAvail}) is made available again while its ` +
        "buffer is still in flight",
      { id, position: ring.nextAvail },
    );
  }
  rec.readable.length = nr;
  rec.writable.length = nw;
  rec.head = id;
  rec.readableLength = readableLength;
  rec.writableLength = writableLength;
  rec.descriptorCount = count;
  rec.indirect = indirect;
  rec.slots = count;
  rec.inUse = false;
  ring.scratch = held ?? emptyRecord();
  ring.chains.set(id, rec);
  ring.nextAvail = pos;
  ring.availWrap = wrap;
  return rec;
}

/**
 * Reads the indirect table the last walk stopped at (`ring.indirectDesc`)
 * into `chain` (§2.8.7): the table's `len` is a nonzero multiple of 16
 * (2.8.7/D1) of at most Queue Size entries (2.8.19/3) and lies in RAM
 * (2.8.4/D1); each entry's `VIRTQ_DESC_F_WRITE` sorts it, no readable entry
 * after a writable one (2.8.17/3), each inside RAM (2.8.4/D1). Other flags
 * in an entry are reserved and ignored by the device (§2.8.7), and reported
 * once per table (2.8.19/2) without breaking the ring.
 *
 * @param ring The device ring.
 * @param chain The record {@linkcode walkPackedChain} returned, with `indirect` set.
 * @returns `chain`, its lists and `descriptorCount` now the table's, or `null` when the driver broke a rule.
 * @throws {ConformanceError} When the log is strict and a rule is broken.
 */
export function readIndirectTablePacked(
  ring: PackedDeviceRing,
  chain: PackedChainRecord,
): PackedChainRecord | null {
  const { memory } = ring;
  const { addr: table, len, position } = ring.indirectDesc;
  if (len === 0 || len % PVIRTQ_DESC_SIZE !== 0) {
    return breakPackedDeviceRing(
      ring,
      "2.8.7/D1",
      `Indirect descriptor at position ${position} has len ${len}: not a nonzero multiple of 16`,
      { position, len },
    );
  }
  const n = len / PVIRTQ_DESC_SIZE;
  if (n > ring.size) {
    return breakPackedDeviceRing(
      ring,
      "2.8.19/3",
      `Indirect table at position ${position} has ${n} entries, more than Queue Size ${ring.size}`,
      { position, entries: n, size: ring.size },
    );
  }
  if (!memory.contains(table, len)) {
    return breakPackedDeviceRing(
      ring,
      "2.8.4/D1",
      `Indirect table at position ${position} (${len} bytes at ${
        hexAddress(table)
      }) is not inside guest RAM`,
      { position, addr: table, len },
    );
  }
  let nr = 0;
  let nw = 0;
  let readableLength = 0;
  let writableLength = 0;
  let reported = false;
  for (let i = 0; i < n; i++) {
    const entry = table + i * PVIRTQ_DESC_SIZE;
    const addr = memory.readU64Number(entry + PVIRTQ_DESC_ADDR);
    const elen = memory.readU32(entry + PVIRTQ_DESC_LEN);
    const flags = memory.readU16(entry + PVIRTQ_DESC_FLAGS);
    if ((flags & ~VIRTQ_DESC_F_WRITE) !== 0 && !reported) {
      reported = true;
      ring.reporter.report(
        "2.8.19/2",
        `Entry ${i} of the indirect table at position ${position} has flags 0x${
          flags.toString(16)
        }: only VIRTQ_DESC_F_WRITE is valid there`,
        { position, entry: i, flags },
        "other flags ignored",
      );
    }
    if (!memory.contains(addr, elen)) {
      return breakPackedDeviceRing(
        ring,
        "2.8.4/D1",
        `Entry ${i} of the indirect table at position ${position} (${elen} bytes at ${
          hexAddress(addr)
        }) is not inside guest RAM`,
        { position, entry: i, addr, len: elen },
      );
    }
    if ((flags & VIRTQ_DESC_F_WRITE) !== 0) {
      setSegment(chain.writable, nw++, addr, elen);
      writableLength += elen;
    } else {
      if (nw > 0) {
        return breakPackedDeviceRing(
          ring,
          "2.8.17/3",
          `Entry ${i} of the indirect table at position ${position} is device-readable after ` +
            `${nw} device-writable entr${nw === 1 ? "y" : "ies"}`,
          { position, entry: i },
        );
      }
      setSegment(chain.readable, nr++, addr, elen);
      readableLength += elen;
    }
  }
  chain.readable.length = nr;
  chain.writable.length = nw;
  chain.readableLength = readableLength;
  chain.writableLength = writableLength;
  chain.descriptorCount = n;
  return chain;
}

/**
 * With `VIRTIO_F_EVENT_IDX` and available buffer notifications wanted,
 * moves `desc_event_off` / `desc_event_wrap` of the Device Event
 * Suppression structure to `nextAvail` and its wrap counter after a pop,
 * so the driver notifies for the next descriptor it makes available (as the
 * split ring moves `avail_event`). Stores nothing otherwise.
 *
 * @param ring The device ring.
 */
export function updateDeviceEventPacked(ring: PackedDeviceRing): void {
  if (!ring.eventIdx || !ring.notifications) return;
  ring.memory.writeU16(
    ring.deviceEventAddr + PVIRTQ_EVENT_OFF_WRAP,
    ring.nextAvail | (ring.availWrap << 15),
  );
}

/**
 * Writes the used descriptor of Buffer ID `id` at `nextUsed` (QEMU
 * `virtqueue_packed_fill_desc` then `_flush`): `id` and `len` first, then
 * `flags` last (2.8.15/3) with `VIRTQ_DESC_F_AVAIL` and `VIRTQ_DESC_F_USED`
 * both equal to the Device Ring Wrap Counter (§2.8.1) and
 * `VIRTQ_DESC_F_WRITE` when `len` reports bytes written (2.8.3/D1). Then
 * `nextUsed` skips the slots the buffer took, toggling the wrap counter
 * past the ring's end, and those slots count toward the next notification
 * decision.
 *
 * @param ring The device ring.
 * @param id The Buffer ID, as popped.
 * @param len Bytes written to the buffer's device-writable elements.
 * @throws {RangeError} If `id` has no popped record (the queue checks first).
 */
export function pushUsedPacked(ring: PackedDeviceRing, id: number, len: number): void {
  const rec = ring.chains.get(id);
  if (rec === undefined) throw new RangeError(`Buffer ID ${id} was never popped`);
  const { memory, size } = ring;
  const desc = ring.descAddr + ring.nextUsed * PVIRTQ_DESC_SIZE;
  memory.writeU16(desc + PVIRTQ_DESC_ID, id);
  memory.writeU32(desc + PVIRTQ_DESC_LEN, len);
  const flags = (ring.usedWrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0) |
    (len > 0 ? VIRTQ_DESC_F_WRITE : 0);
  memory.writeU16(desc + PVIRTQ_DESC_FLAGS, flags);
  let next = ring.nextUsed + rec.slots;
  if (next >= size) {
    next -= size;
    ring.usedWrap ^= 1;
  }
  ring.nextUsed = next;
  ring.usedSinceSignal += rec.slots;
}

/**
 * Whether the driver wants a used buffer notification for the descriptors
 * used since the last call, which this call consumes (QEMU
 * `virtio_packed_should_notify`): reads the Driver Event Suppression
 * structure once: `RING_EVENT_FLAGS_DISABLE` → no; `RING_EVENT_FLAGS_ENABLE`
 * → yes; with `VIRTIO_F_EVENT_IDX`, `RING_EVENT_FLAGS_DESC` → yes if the
 * used descriptor at `desc_event_off` on wrap `desc_event_wrap` is one of
 * those just written (2.8.10/D2). Flags the driver may not write are reported once per
 * value (2.8.14/D1) and read as `RING_EVENT_FLAGS_ENABLE`.
 *
 * @param ring The device ring.
 * @returns `true` if the transport should raise the used buffer interrupt.
 * @throws {ConformanceError} When the log is strict and the flags are bad.
 */
export function needsInterruptPacked(ring: PackedDeviceRing): boolean {
  const count = ring.usedSinceSignal;
  if (count === 0) return false;
  ring.usedSinceSignal = 0;
  const word = ring.memory.readU32(ring.driverEventAddr);
  const offWrap = word & 0xffff;
  const flags = word >>> 16;
  let mode = flags & 0x3;
  if (flags > 0x3 || mode === 0x3 || (mode === RING_EVENT_FLAGS_DESC && !ring.eventIdx)) {
    if (ring.lastBadDriverFlags !== flags) {
      ring.lastBadDriverFlags = flags;
      ring.reporter.report(
        "2.8.14/D1",
        `Driver Event Suppression flags 0x${flags.toString(16)} are not ENABLE, DISABLE, or DESC ` +
          `with VIRTIO_F_EVENT_IDX${ring.eventIdx ? "" : " (not negotiated)"}`,
        { flags, eventIdx: ring.eventIdx },
        "read as RING_EVENT_FLAGS_ENABLE",
      );
    }
    mode = RING_EVENT_FLAGS_ENABLE;
  }
  if (mode === RING_EVENT_FLAGS_DISABLE) return false;
  if (mode !== RING_EVENT_FLAGS_DESC || count >= ring.size) return true;
  let event = offWrap & 0x7fff;
  if (offWrap >>> 15 !== ring.usedWrap) event -= ring.size;
  const next = ring.nextUsed;
  return ((next - event - 1) & 0xffff) < (count & 0xffff);
}

/**
 * Asks the driver for no available buffer notifications:
 * `RING_EVENT_FLAGS_DISABLE` in the Device Event Suppression structure.
 * Advisory: the driver may still notify.
 *
 * @param ring The device ring.
 */
export function disableNotificationsPacked(ring: PackedDeviceRing): void {
  ring.notifications = false;
  ring.memory.writeU16(ring.deviceEventAddr + PVIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_DISABLE);
}

/**
 * Asks for available buffer notifications again (QEMU
 * `virtio_queue_packed_set_notification`): with `VIRTIO_F_EVENT_IDX`,
 * `desc_event_off` / `desc_event_wrap` = `nextAvail` and its wrap first,
 * then `RING_EVENT_FLAGS_DESC`; without it `RING_EVENT_FLAGS_ENABLE`. Then
 * it looks at the descriptor at `nextAvail` once more, so a buffer made
 * available meanwhile is not missed (2.8.10/D3).
 *
 * @param ring The device ring.
 * @returns `true` if a buffer became available meanwhile (pop it).
 */
export function enableNotificationsPacked(ring: PackedDeviceRing): boolean {
  const memory = ring.memory;
  ring.notifications = true;
  if (ring.eventIdx) {
    memory.writeU16(
      ring.deviceEventAddr + PVIRTQ_EVENT_OFF_WRAP,
      ring.nextAvail | (ring.availWrap << 15),
    );
    memory.writeU16(ring.deviceEventAddr + PVIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_DESC);
  } else {
    memory.writeU16(ring.deviceEventAddr + PVIRTQ_EVENT_FLAGS, RING_EVENT_FLAGS_ENABLE);
  }
  const flags = memory.readU16(
    ring.descAddr + ring.nextAvail * PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS,
  );
  return isAvail(flags, ring.availWrap);
}
