/**
 * Where everything of a split virtqueue lives in guest memory (virtio v1.2
 * §2.7): the sizes and alignments of its three parts, the byte offsets of
 * their fields, and the contiguous legacy layout of §2.7.2 (Linux's
 * `vring_init`/`vring_size`).
 *
 * ```text
 * descriptor table  16 * size bytes, 16-aligned:  { le64 addr; le32 len; le16 flags; le16 next; } [size]
 * available ring    4 + 2 * size (+ 2) bytes, 2-aligned:  le16 flags; le16 idx; le16 ring[size]; le16 used_event;
 * used ring         4 + 8 * size (+ 2) bytes, 4-aligned:  le16 flags; le16 idx; { le32 id; le32 len; } ring[size]; le16 avail_event;
 * ```
 *
 * The trailing `used_event` and `avail_event` fields exist only when
 * `VIRTIO_F_EVENT_IDX` is negotiated; the spec's table of part sizes counts
 * them always, which is what the `eventIdx = true` default below reproduces.
 *
 * Offsets returned by the `*Offset` helpers are relative to the start of
 * their part, in bytes; add the part's guest-physical address.
 *
 * @module
 */

import {
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ELEM_SIZE,
  VRING_AVAIL_ALIGN_SIZE,
  VRING_DESC_ALIGN_SIZE,
  VRING_USED_ALIGN_SIZE,
} from "./constants.ts";
import type { SplitQueueAddresses } from "./types.ts";

/** Offset of `addr` (le64) inside a descriptor, in bytes. */
export const VIRTQ_DESC_ADDR_OFFSET = 0;
/** Offset of `len` (le32) inside a descriptor, in bytes. */
export const VIRTQ_DESC_LEN_OFFSET = 8;
/** Offset of `flags` (le16) inside a descriptor, in bytes. */
export const VIRTQ_DESC_FLAGS_OFFSET = 12;
/** Offset of `next` (le16) inside a descriptor, in bytes. */
export const VIRTQ_DESC_NEXT_OFFSET = 14;

/** Offset of `flags` (le16) in the available ring, in bytes. */
export const VIRTQ_AVAIL_FLAGS_OFFSET = 0;
/** Offset of `idx` (le16) in the available ring, in bytes. */
export const VIRTQ_AVAIL_IDX_OFFSET = 2;
/** Offset of `ring[0]` (le16 each) in the available ring, in bytes. */
export const VIRTQ_AVAIL_RING_OFFSET = 4;

/** Offset of `flags` (le16) in the used ring, in bytes. */
export const VIRTQ_USED_FLAGS_OFFSET = 0;
/** Offset of `idx` (le16) in the used ring, in bytes. */
export const VIRTQ_USED_IDX_OFFSET = 2;
/** Offset of `ring[0]` (8-byte elements) in the used ring, in bytes. */
export const VIRTQ_USED_RING_OFFSET = 4;
/** Offset of `id` (le32) inside a used element, in bytes. */
export const VIRTQ_USED_ELEM_ID_OFFSET = 0;
/** Offset of `len` (le32) inside a used element, in bytes. */
export const VIRTQ_USED_ELEM_LEN_OFFSET = 4;

/** A Queue Size that is not a power of two from 1 to 32768 (§2.7). */
export class QueueSizeError extends RangeError {
  /** The rejected size. */
  readonly size: number;

  /**
   * Records the rejected size.
   *
   * @param size The rejected size.
   */
  constructor(size: number) {
    super(`Queue size ${size} is not a power of two from 1 to ${VIRTQ_MAX_SIZE}`);
    this.name = "QueueSizeError";
    this.size = size;
  }
}

/**
 * Whether `n` is a legal Queue Size: a power of two from 1 to 32768 (§2.7).
 *
 * @example
 * ```ts
 * import { isValidQueueSize } from "./layout.ts";
 * isValidQueueSize(256); // true
 * isValidQueueSize(0); // false
 * isValidQueueSize(65536); // false
 * ```
 */
export function isValidQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= VIRTQ_MAX_SIZE && (n & (n - 1)) === 0;
}

/**
 * Throws unless `idx` is a 16-bit ring index (an `idx` field or a position
 * in the free-running sequence of ring entries: 0 to 0xffff).
 *
 * @param idx The value to check.
 * @param what What the value is, for the message (e.g. `"Start index"`).
 * @throws {RangeError} If `idx` is not an integer from 0 to 0xffff.
 */
export function checkRingIndex(idx: number, what: string): void {
  if (!Number.isInteger(idx) || idx < 0 || idx > 0xffff) {
    throw new RangeError(`${what} ${idx} is not a 16-bit ring index (0 to 0xffff)`);
  }
}

function checkSize(size: number): void {
  if (!isValidQueueSize(size)) throw new QueueSizeError(size);
}

/**
 * Size of the descriptor table (Descriptor Area), in bytes: 16 per descriptor.
 *
 * @param size Queue Size, in descriptors.
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 */
export function descTableSize(size: number): number {
  checkSize(size);
  return VIRTQ_DESC_SIZE * size;
}

/**
 * Size of the available ring (Driver Area), in bytes: `flags`, `idx`,
 * `ring[size]` and, with `VIRTIO_F_EVENT_IDX`, `used_event`.
 *
 * @param size Queue Size, in descriptors.
 * @param eventIdx Whether `used_event` is present (default `true`, the spec's table value).
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 */
export function availRingSize(size: number, eventIdx = true): number {
  checkSize(size);
  return VIRTQ_AVAIL_RING_OFFSET + 2 * size + (eventIdx ? 2 : 0);
}

/**
 * Size of the used ring (Device Area), in bytes: `flags`, `idx`, `ring[size]`
 * of 8-byte elements and, with `VIRTIO_F_EVENT_IDX`, `avail_event`.
 *
 * @param size Queue Size, in descriptors.
 * @param eventIdx Whether `avail_event` is present (default `true`, the spec's table value).
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 */
export function usedRingSize(size: number, eventIdx = true): number {
  checkSize(size);
  return VIRTQ_USED_RING_OFFSET + VIRTQ_USED_ELEM_SIZE * size + (eventIdx ? 2 : 0);
}

// The offset helpers below are on the path of every ring operation, so they
// compute with module-local copies of the sizes: V8 folds a module's own
// constants into optimized code, but reads an exported or imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const DESC_SIZE = VIRTQ_DESC_SIZE;
const USED_ELEM_SIZE = VIRTQ_USED_ELEM_SIZE;
const AVAIL_RING_OFFSET = VIRTQ_AVAIL_RING_OFFSET;
const USED_RING_OFFSET = VIRTQ_USED_RING_OFFSET;

/**
 * Offset of descriptor `i` in the descriptor table (or in an indirect table),
 * in bytes. No range check: `i` is expected below the table's entry count.
 */
export function descOffset(i: number): number {
  return DESC_SIZE * i;
}

/** Offset of `ring[i]` in the available ring, in bytes (no range check). */
export function availRingEntryOffset(i: number): number {
  return AVAIL_RING_OFFSET + 2 * i;
}

/** Offset of `used_event` in the available ring of a queue of `size` entries, in bytes. */
export function usedEventOffset(size: number): number {
  return AVAIL_RING_OFFSET + 2 * size;
}

/** Offset of `ring[i]` (a `{ id, len }` element) in the used ring, in bytes (no range check). */
export function usedElemOffset(i: number): number {
  return USED_RING_OFFSET + USED_ELEM_SIZE * i;
}

/** Offset of `avail_event` in the used ring of a queue of `size` entries, in bytes. */
export function availEventOffset(size: number): number {
  return USED_RING_OFFSET + USED_ELEM_SIZE * size;
}

/** Sizes and alignments of the three parts of one split virtqueue, in bytes. */
export interface SplitQueueLayout {
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Whether the event-index fields are counted. */
  readonly eventIdx: boolean;
  /** Size of the descriptor table. */
  readonly descTableSize: number;
  /** Required alignment of the descriptor table (16). */
  readonly descTableAlign: number;
  /** Size of the available ring. */
  readonly availRingSize: number;
  /** Required alignment of the available ring (2). */
  readonly availRingAlign: number;
  /** Size of the used ring. */
  readonly usedRingSize: number;
  /** Required alignment of the used ring (4). */
  readonly usedRingAlign: number;
  /** Offset of `used_event` in the available ring, or `null` without event idx. */
  readonly usedEventOffset: number | null;
  /** Offset of `avail_event` in the used ring, or `null` without event idx. */
  readonly availEventOffset: number | null;
}

/**
 * The sizes and alignments of the three parts of a split virtqueue (§2.7).
 *
 * @param size Queue Size, in descriptors.
 * @param eventIdx Whether `VIRTIO_F_EVENT_IDX` is in use (default `true`).
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 *
 * @example
 * ```ts
 * import { splitQueueLayout } from "./layout.ts";
 * const l = splitQueueLayout(256);
 * [l.descTableSize, l.availRingSize, l.usedRingSize]; // [4096, 518, 2054]
 * ```
 */
export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  return {
    size,
    eventIdx,
    descTableSize: descTableSize(size),
    descTableAlign: VRING_DESC_ALIGN_SIZE,
    availRingSize: availRingSize(size, eventIdx),
    availRingAlign: VRING_AVAIL_ALIGN_SIZE,
    usedRingSize: usedRingSize(size, eventIdx),
    usedRingAlign: VRING_USED_ALIGN_SIZE,
    usedEventOffset: eventIdx ? usedEventOffset(size) : null,
    availEventOffset: eventIdx ? availEventOffset(size) : null,
  };
}

/**
 * The contiguous legacy layout (§2.7.2; Linux `vring_init`): descriptor
 * table, available ring with `used_event`, padding up to `align`, used ring
 * with `avail_event`. Offsets are from the start of the region, in bytes.
 */
export interface VringLayout {
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Queue Align, in bytes. */
  readonly align: number;
  /** Offset of the descriptor table (always 0). */
  readonly descOffset: number;
  /** Offset of the available ring (right after the descriptor table). */
  readonly availOffset: number;
  /** Offset of the used ring (the next multiple of `align` after the available ring). */
  readonly usedOffset: number;
  /** Total size of the region, in bytes: equal to Linux's `vring_size(size, align)`. */
  readonly total: number;
}

/**
 * The contiguous legacy layout of a split virtqueue (§2.7.2), as Linux's
 * `vring_init` places it; `total` equals `vring_size(size, align)` from
 * `linux/virtio_ring.h`.
 *
 * @param size Queue Size, in descriptors.
 * @param align Queue Align in bytes: a power of two, at least 4 so that the
 *   used ring keeps its own alignment (legacy virtio-mmio uses the page size).
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 * @throws {RangeError} If `align` is not a power of two of at least 4.
 *
 * @example
 * ```ts
 * import { vringLayout } from "./layout.ts";
 * vringLayout(256, 4096).total; // 10246: two 4096-byte pages of table and avail ring, then the used ring
 * ```
 */
export function vringLayout(size: number, align: number): VringLayout {
  checkSize(size);
  if (
    !Number.isSafeInteger(align) || align < VRING_USED_ALIGN_SIZE || (align & (align - 1)) !== 0
  ) {
    throw new RangeError(
      `Queue align ${align} is not a power of two of at least ${VRING_USED_ALIGN_SIZE}`,
    );
  }
  const availOffset = descTableSize(size);
  const availEnd = availOffset + availRingSize(size, true);
  const usedOffset = Math.ceil(availEnd / align) * align;
  return {
    size,
    align,
    descOffset: 0,
    availOffset,
    usedOffset,
    total: usedOffset + usedRingSize(size, true),
  };
}

/**
 * The part addresses of a queue laid out contiguously at `base` (§2.7.2).
 *
 * @param base Guest-physical address of the region, a multiple of `align`.
 * @param size Queue Size, in descriptors.
 * @param align Queue Align, in bytes.
 * @throws {QueueSizeError} If `size` is not a legal Queue Size.
 * @throws {RangeError} If `align` is invalid or `base` is not a multiple of it.
 */
export function vringAddresses(base: number, size: number, align: number): SplitQueueAddresses {
  const layout = vringLayout(size, align);
  if (!Number.isSafeInteger(base) || base < 0 || base % align !== 0) {
    throw new RangeError(`Queue base ${base} is not a multiple of the queue align ${align}`);
  }
  return {
    descAddr: base + layout.descOffset,
    availAddr: base + layout.availOffset,
    usedAddr: base + layout.usedOffset,
  };
}
