/**
 * Where a packed virtqueue lives (virtio v1.2 §2.8, §2.8.10.1): a
 * Descriptor Ring of 16 bytes per descriptor in the Descriptor Area, and two
 * 4-byte Event Suppression structures, the driver's in the Driver Area and
 * the device's in the Device Area. Queue Size need not be a power of two.
 *
 * @module
 */

import type { GuestAllocator } from "../../memory/allocator.ts";
import type { SplitQueueAddresses } from "../types.ts";
import {
  PVIRTQ_DESC_ALIGN,
  PVIRTQ_DESC_SIZE,
  PVIRTQ_EVENT_ALIGN,
  PVIRTQ_EVENT_SUPPRESS_SIZE,
  PVIRTQ_MAX_SIZE,
} from "./constants.ts";

/** Sizes and alignments, in bytes, of the three parts of a packed queue (§2.8.10.1). */
export interface PackedQueueLayout {
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Descriptor Ring: `16 × size` bytes. */
  readonly descRingSize: number;
  /** Descriptor Ring alignment: 16. */
  readonly descRingAlign: number;
  /** Each Event Suppression structure: 4 bytes. */
  readonly eventSize: number;
  /** Each Event Suppression structure's alignment: 4. */
  readonly eventAlign: number;
}

/** A Queue Size the packed ring cannot have (outside 1..32768, or not an integer). */
export class PackedQueueSizeError extends RangeError {
  /** The rejected size. */
  readonly size: number;

  /**
   * Records the rejected size.
   *
   * @param size The rejected size.
   */
  constructor(size: number) {
    super(`Packed queue size ${size} is not an integer from 1 to ${PVIRTQ_MAX_SIZE} (§2.8)`);
    this.name = "PackedQueueSizeError";
    this.size = size;
  }
}

/**
 * Whether `n` is a Queue Size a packed ring can have: an integer from 1 to
 * 32768, power of two or not (§2.8, §2.8.10.1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidPackedQueueSize } from "./layout.ts";
 * assert.equal(isValidPackedQueueSize(100), true); // unlike a split ring
 * assert.equal(isValidPackedQueueSize(0), false);
 * assert.equal(isValidPackedQueueSize(32769), false);
 * ```
 */
export function isValidPackedQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= PVIRTQ_MAX_SIZE;
}

/**
 * The sizes and alignments of a packed queue of `size` descriptors
 * (§2.8.10.1): 16 × size bytes on 16, then 4 and 4 bytes on 4.
 *
 * @param size Queue Size, in descriptors.
 * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packedQueueLayout } from "./layout.ts";
 * assert.equal(packedQueueLayout(256).descRingSize, 4096);
 * assert.equal(packedQueueLayout(256).eventSize, 4);
 * ```
 */
export function packedQueueLayout(size: number): PackedQueueLayout {
  if (!isValidPackedQueueSize(size)) throw new PackedQueueSizeError(size);
  return {
    size,
    descRingSize: size * PVIRTQ_DESC_SIZE,
    descRingAlign: PVIRTQ_DESC_ALIGN,
    eventSize: PVIRTQ_EVENT_SUPPRESS_SIZE,
    eventAlign: PVIRTQ_EVENT_ALIGN,
  };
}

/**
 * Allocates the Descriptor Ring and both Event Suppression structures of a
 * packed queue, each aligned (2.8.11/1), each its own allocation (so they
 * never overlap, 2.8/D2), and zeroed: the ring starts with no descriptor
 * available (§2.8.13: "the descriptor ring is zero-initialized") and both
 * structures at `RING_EVENT_FLAGS_ENABLE`. Nothing stays allocated if one
 * does not fit.
 *
 * The addresses use the split ring's field names, as the transport's
 * registers do: `descAddr` (Descriptor Area), `availAddr` (Driver Area:
 * the Driver Event Suppression structure), `usedAddr` (Device Area: the
 * Device Event Suppression structure).
 *
 * @param allocator The driver side's allocator.
 * @param size Queue Size, in descriptors.
 * @returns The three areas' guest-physical addresses.
 * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
 * @throws {GuestOutOfMemoryError} If a part does not fit (nothing stays allocated).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { allocatePackedQueueAreas } from "./layout.ts";
 * const allocator = new GuestAllocator(new GuestMemory(1 << 16));
 * const areas = allocatePackedQueueAreas(allocator, 256);
 * assert.equal(areas.descAddr % 16, 0);
 * assert.equal(allocator.sizeOf(areas.availAddr), 4);
 * ```
 */
export function allocatePackedQueueAreas(
  allocator: GuestAllocator,
  size: number,
): SplitQueueAddresses {
  const l = packedQueueLayout(size);
  const got: number[] = [];
  try {
    got.push(allocator.alloc(l.descRingSize, l.descRingAlign, { zero: true }));
    got.push(allocator.alloc(l.eventSize, l.eventAlign, { zero: true }));
    got.push(allocator.alloc(l.eventSize, l.eventAlign, { zero: true }));
  } catch (e) {
    for (const addr of got) allocator.free(addr);
    throw e;
  }
  return { descAddr: got[0], availAddr: got[1], usedAddr: got[2] };
}
