/**
 * Ring fixtures for graders: one split virtqueue in a small guest memory,
 * both halves built on the ring's own state records (`SplitDriverRing`,
 * `SplitDeviceRing`) and parts tables, started at any 16-bit index. A grader
 * builds one per case (well under a millisecond), so it can start a ring at
 * 0xfffe to cross the 16-bit wrap without 65,534 warm-up trips, or put the
 * learner's walker against one hostile table after another.
 *
 * {@linkcode ringFixture} gives:
 *
 * - a {@linkcode SnoopingMemory} (every ring access observable), an allocator
 *   and a conformance log (not strict by default: a grader checks that a
 *   hostile case is *reported*, and that nothing throws);
 * - the three areas, allocated and zeroed as `allocateQueueAreas` does, or
 *   where the grader puts them;
 * - the driver half (`SplitQueueDriver`, its record `driver`) and the device
 *   half (`SplitQueueDevice`, its record `device`), each on the reference
 *   parts with the grader's replacements merged in (the learner's);
 * - idx fields in memory that agree with both records at the start index
 *   (available and used `idx`, and `used_event`, `avail_event` with
 *   `VIRTIO_F_EVENT_IDX`);
 * - raw writers for a hostile side: descriptors, available slots and `idx`,
 *   used elements and `idx`, written through the memory's accessors without
 *   being observed, so they never count against the side under test.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { ConformanceLog, type Violation } from "../../conformance/log.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { MACHINE_RAM_BASE } from "../../machine.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
import type { SplitDriverRing } from "../../virtqueue/driver/ring.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import type { SplitRingDeviceParts, SplitRingDriverParts } from "../../virtqueue/parts.ts";
import {
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  usedElemOffset,
  usedRingSize,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../../virtqueue/layout.ts";
import type { BufferSegment, SplitQueueAddresses } from "../../virtqueue/types.ts";
import { ringPlace } from "./format.ts";
import { type AddressRange, SnoopingMemory } from "./snoop.ts";

/** Where fixture RAM starts: where the lab machine's RAM starts. */
export const RING_RAM_BASE: number = MACHINE_RAM_BASE;
/** Fixture RAM by default: 256 KiB, room for a 1024-entry queue and its buffers. */
export const RING_RAM_SIZE = 256 * 1024;

/** What {@linkcode ringFixture} takes; everything is optional. */
export interface RingFixtureOptions {
  /** Queue Size (default 8). */
  readonly size?: number;
  /** 16-bit index both halves start at (default 0): 0xfffe crosses the wrap on the third chain. */
  readonly startIdx?: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated (default false). */
  readonly eventIdx?: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated (default false). */
  readonly indirect?: boolean;
  /** Driver-side parts to use instead of the reference ones (the learner's). */
  readonly driver?: Partial<SplitRingDriverParts>;
  /** Device-side parts to use instead of the reference ones (the learner's). */
  readonly device?: Partial<SplitRingDeviceParts>;
  /**
   * The memory (default: a fresh {@linkcode SnoopingMemory} of `ramSize` at {@linkcode
   * RING_RAM_BASE}).
   */
  readonly memory?: SnoopingMemory;
  /** Size of fresh RAM in bytes (default {@linkcode RING_RAM_SIZE}). */
  readonly ramSize?: number;
  /** The conformance log (default: a new one, strict if `strict`). */
  readonly log?: ConformanceLog;
  /** Make the new log strict: every violation throws (default false). */
  readonly strict?: boolean;
  /**
   * Where the three areas are (default: allocated by the reference
   * `allocateQueueAreas`, aligned and zeroed, sized with the event fields).
   * They must be zeroed, aligned and inside RAM.
   */
  readonly areas?: SplitQueueAddresses;
}

/** A descriptor as a hostile driver writes it: `addr` may be a `bigint` (above 2^53). */
export interface RawDescriptor {
  /** `addr`: guest-physical address of the buffer (or of an indirect table). */
  readonly addr: number | bigint;
  /** `len`, in bytes (the low 32 bits are written). */
  readonly len: number;
  /** `flags` (`VIRTQ_DESC_F_NEXT`, `_WRITE`, `_INDIRECT`). */
  readonly flags: number;
  /** `next` (default 0). */
  readonly next?: number;
}

/** One queue, both halves, in its own memory: what {@linkcode ringFixture} builds. */
export interface RingFixture<T = string> {
  /** The guest memory both halves share. */
  readonly memory: SnoopingMemory;
  /** Allocator over it (the areas and the buffers come from it). */
  readonly allocator: GuestAllocator;
  /** Where both halves report the rules the other broke. */
  readonly log: ConformanceLog;
  /** Queue Size. */
  readonly size: number;
  /** The index both halves started at. */
  readonly startIdx: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated. */
  readonly eventIdx: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated. */
  readonly indirect: boolean;
  /** Where the three areas are. */
  readonly addresses: SplitQueueAddresses;
  /** The three areas (with the event fields) as ranges, for `watchStores` and budgets. */
  readonly ranges: {
    readonly descTable: AddressRange;
    readonly availRing: AddressRange;
    readonly usedRing: AddressRange;
  };
  /** The driver half, on the merged driver parts. */
  readonly driverQueue: SplitQueueDriver<T>;
  /** The device half, on the merged device parts. */
  readonly deviceQueue: SplitQueueDevice;
  /** The driver half's state record (`driverQueue.ring`). */
  readonly driver: SplitDriverRing<T>;
  /** The device half's state record (`deviceQueue.ring`). */
  readonly device: SplitDeviceRing;
  /** Violations that broke the device half, as its `onBroken` received them. */
  readonly broken: readonly Violation[];

  /**
   * A fresh data buffer from the allocator, its bytes set to `fill`.
   *
   * @param len Length in bytes (at least 1).
   * @param fill Byte value of every byte (default 0).
   */
  buffer(len: number, fill?: number): BufferSegment;
  /**
   * The ring field at an address, in words (`descriptor 3 len`), counting
   * the indirect tables the driver half has in flight; `undefined` elsewhere.
   *
   * @param address A guest-physical address.
   */
  place(address: number): string | undefined;

  /**
   * Writes a descriptor as a hostile (or scripted) driver would, unobserved.
   *
   * @param index Entry index in the table.
   * @param d Its fields.
   * @param table The table's address: the descriptor table by default, or an
   *   indirect table's address.
   */
  writeDescriptor(index: number, d: RawDescriptor, table?: number): void;
  /**
   * Reads a descriptor, unobserved.
   *
   * @param index Entry index in the table.
   * @param table The table's address (default: the descriptor table).
   */
  readDescriptor(
    index: number,
    table?: number,
  ): { addr: number; len: number; flags: number; next: number };
  /** The available `idx` in memory, read unobserved. */
  availIdx(): number;
  /**
   * Stores the available `idx`, unobserved.
   *
   * @param idx The value (its low 16 bits).
   */
  setAvailIdx(idx: number): void;
  /**
   * Makes heads available as a scripted driver would: writes them to the
   * slots from the available `idx` in memory on, then stores `idx` moved past
   * them. Unobserved; the driver half's record does not change.
   *
   * @param heads Descriptor indices (any 16-bit values, for hostile cases).
   */
  makeAvailable(...heads: number[]): void;
  /** The used `idx` in memory, read unobserved. */
  usedIdx(): number;
  /**
   * Stores the used `idx`, unobserved.
   *
   * @param idx The value (its low 16 bits).
   */
  setUsedIdx(idx: number): void;
  /**
   * Writes a used element at a ring position, unobserved (`idx` does not move).
   *
   * @param position Free-running ring index of the element (its slot is `position % size`).
   * @param id The element's `id` (its low 32 bits).
   * @param len The element's `len` (its low 32 bits).
   */
  writeUsed(position: number, id: number, len: number): void;
  /**
   * Returns elements as a scripted (or hostile) device would: each written at
   * the used `idx` in memory and the ones after it, then `idx` stored moved
   * past them. Unobserved; the device half's record does not change.
   *
   * @param elements The elements, in order.
   */
  completeUsed(...elements: { readonly id: number; readonly len: number }[]): void;
}

/**
 * Builds one queue, both halves, at a start index (see the module
 * documentation). Building is unobserved: the memory's counters start at 0.
 *
 * @param options Size, start index, features, parts, memory, log, areas.
 * @returns The fixture.
 * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768.
 * @throws {RangeError} If `startIdx` is not a 16-bit index, or the areas do not fit.
 * @throws {TypeError} If a replacement part is not a function or names no part.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 *
 * const f = ringFixture({ size: 4, startIdx: 0xfffe });
 * const buf = f.buffer(64);
 * for (let i = 0; i < 3; i++) f.driverQueue.add([], [buf], `read ${i}`);
 * f.driverQueue.kickPrepare();
 * assert.equal(f.availIdx(), 0x0001); // 0xfffe + 3, across the wrap
 * for (let i = 0; i < 3; i++) f.deviceQueue.push(f.deviceQueue.pop()!.head, 64);
 * const tokens = [0, 1, 2].map(() => f.driverQueue.getBuf()?.token);
 * assert.deepEqual(tokens, ["read 0", "read 1", "read 2"]);
 * assert.equal(f.log.entries.length, 0);
 * ```
 */
export function ringFixture<T = string>(options: RingFixtureOptions = {}): RingFixture<T> {
  const size = options.size ?? 8;
  const startIdx = options.startIdx ?? 0;
  const eventIdx = options.eventIdx ?? false;
  const indirect = options.indirect ?? false;
  const memory = options.memory ??
    new SnoopingMemory(options.ramSize ?? RING_RAM_SIZE, { base: RING_RAM_BASE });
  const log = options.log ?? new ConformanceLog({ strict: options.strict ?? false });
  const broken: Violation[] = [];
  const built = memory.quietly(() => {
    const allocator = new GuestAllocator(memory);
    const addresses = options.areas ?? allocateQueueAreas(allocator, size);
    const common = { memory, index: 0, size, eventIdx, indirect, ...addresses };
    const driverQueue = new SplitQueueDriver<T>({
      ...common,
      allocator,
      reporter: log.scoped("driver"),
      parts: options.driver,
      startIdx,
    });
    const deviceQueue = new SplitQueueDevice(
      { ...common, reporter: log.scoped("device") },
      (v) => void broken.push(v),
      { parts: options.device, startIdx },
    );
    return { allocator, addresses, driverQueue, deviceQueue };
  });
  const { allocator, addresses, driverQueue, deviceQueue } = built;
  const { descAddr, availAddr, usedAddr } = addresses;
  const driver = driverQueue.ring;
  const device = deviceQueue.ring;
  const quiet = <R>(fn: () => R): R => memory.quietly(fn);
  const mask = size - 1;

  const fixture: RingFixture<T> = {
    memory,
    allocator,
    log,
    size,
    startIdx,
    eventIdx,
    indirect,
    addresses,
    ranges: {
      descTable: { start: descAddr, bytes: descTableSize(size), name: "descriptor table" },
      availRing: { start: availAddr, bytes: availRingSize(size, true), name: "available ring" },
      usedRing: { start: usedAddr, bytes: usedRingSize(size, true), name: "used ring" },
    },
    driverQueue,
    deviceQueue,
    driver,
    device,
    broken,
    buffer(len, fill = 0) {
      return quiet(() => {
        const addr = allocator.alloc(len, 8);
        memory.fill(addr, len, fill);
        return { addr, len };
      });
    },
    place(address) {
      const tables: { addr: number; entries: number }[] = [];
      for (let head = 0; head < size; head++) {
        const table = driver.tables[head];
        const bytes = table >= 0 ? allocator.sizeOf(table) : undefined;
        if (bytes !== undefined) tables.push({ addr: table, entries: Math.floor(bytes / 16) });
      }
      return ringPlace({ descAddr, availAddr, usedAddr, size, tables }, address);
    },
    writeDescriptor(index, d, table = descAddr) {
      quiet(() => {
        const at = table + descOffset(index);
        memory.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, d.addr);
        memory.writeU32(at + VIRTQ_DESC_LEN_OFFSET, d.len >>> 0);
        memory.writeU16(at + VIRTQ_DESC_FLAGS_OFFSET, d.flags);
        memory.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, d.next ?? 0);
      });
    },
    readDescriptor(index, table = descAddr) {
      return quiet(() => {
        const at = table + descOffset(index);
        return {
          addr: memory.readU64Number(at + VIRTQ_DESC_ADDR_OFFSET),
          len: memory.readU32(at + VIRTQ_DESC_LEN_OFFSET),
          flags: memory.readU16(at + VIRTQ_DESC_FLAGS_OFFSET),
          next: memory.readU16(at + VIRTQ_DESC_NEXT_OFFSET),
        };
      });
    },
    availIdx: () => quiet(() => memory.readU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET)),
    setAvailIdx(idx) {
      quiet(() => memory.writeU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET, idx & 0xffff));
    },
    makeAvailable(...heads) {
      quiet(() => {
        const idx = memory.readU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET);
        heads.forEach((head, k) =>
          memory.writeU16(availAddr + availRingEntryOffset((idx + k) & mask), head & 0xffff)
        );
        memory.writeU16(availAddr + VIRTQ_AVAIL_IDX_OFFSET, (idx + heads.length) & 0xffff);
      });
    },
    usedIdx: () => quiet(() => memory.readU16(usedAddr + VIRTQ_USED_IDX_OFFSET)),
    setUsedIdx(idx) {
      quiet(() => memory.writeU16(usedAddr + VIRTQ_USED_IDX_OFFSET, idx & 0xffff));
    },
    writeUsed(position, id, len) {
      quiet(() => {
        const at = usedAddr + usedElemOffset(position & mask);
        memory.writeU32(at + VIRTQ_USED_ELEM_ID_OFFSET, id >>> 0);
        memory.writeU32(at + VIRTQ_USED_ELEM_LEN_OFFSET, len >>> 0);
      });
    },
    completeUsed(...elements) {
      const idx = fixture.usedIdx();
      elements.forEach((e, k) => fixture.writeUsed(idx + k, e.id, e.len));
      fixture.setUsedIdx(idx + elements.length);
    },
  };
  memory.resetCounts();
  return fixture;
}
