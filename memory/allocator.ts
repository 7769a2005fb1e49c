/**
 * An allocator for the driver side: hands out aligned regions of guest RAM
 * for virtqueue parts (descriptor table 16-byte aligned, available ring
 * 2-byte, used ring 4-byte: virtio v1.2 §2.7), request headers and data
 * buffers.
 *
 * It manages any address range of a {@linkcode GuestMemory}, including
 * memory it did not allocate itself (wrapped RAM), and never touches the
 * bytes it manages unless asked to zero them.
 *
 * @module
 */

import { type GuestMemory, hexAddress } from "./guest_memory.ts";

/** No free region is large enough for the requested size and alignment. */
export class GuestOutOfMemoryError extends RangeError {
  /** Requested size, in bytes. */
  readonly size: number;
  /** Requested alignment, in bytes. */
  readonly align: number;
  /** Total free bytes at the time of the request. */
  readonly free: number;

  /**
   * Records the request that could not be met.
   *
   * @param size Requested size, in bytes.
   * @param align Requested alignment, in bytes.
   * @param free Total free bytes.
   */
  constructor(size: number, align: number, free: number) {
    super(
      `Cannot allocate ${size} byte(s) aligned to ${align}: ${free} byte(s) free, fragmented or too few`,
    );
    this.name = "GuestOutOfMemoryError";
    this.size = size;
    this.align = align;
    this.free = free;
  }
}

/** Options for {@linkcode GuestAllocator}. */
export interface GuestAllocatorOptions {
  /** First guest-physical address to manage (default: the start of RAM). */
  readonly start?: number;
  /** One past the last address to manage (default: the end of RAM). */
  readonly end?: number;
}

interface Extent {
  start: number;
  end: number;
}

/**
 * First-fit allocator with coalescing free list over a range of guest RAM.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "./guest_memory.ts";
 * import { GuestAllocator } from "./allocator.ts";
 * const ram = new GuestMemory(1 << 20, { base: 0x4000_0000 });
 * const heap = new GuestAllocator(ram);
 * const desc = heap.alloc(16 * 256, 16); // a descriptor table for 256 entries
 * heap.free(desc);
 * ```
 */
export class GuestAllocator {
  /** The memory this allocator hands out. */
  readonly memory: GuestMemory;
  /** First managed address. */
  readonly start: number;
  /** One past the last managed address. */
  readonly end: number;
  #free: Extent[];
  readonly #allocated = new Map<number, Extent>();
  #freeBytes: number;

  /**
   * Manages `[start, end)` of `memory`, all of it free.
   *
   * @param memory The RAM to allocate from.
   * @param options The managed range (default: all of RAM).
   * @throws {RangeError} If the range is not inside RAM or is empty-negative.
   */
  constructor(memory: GuestMemory, options: GuestAllocatorOptions = {}) {
    const start = options.start ?? memory.base;
    const end = options.end ?? memory.end;
    if (!(end >= start) || !memory.contains(start, end - start)) {
      throw new RangeError(
        `Allocator range [${hexAddress(start)}, ${hexAddress(end)}) is not inside RAM`,
      );
    }
    this.memory = memory;
    this.start = start;
    this.end = end;
    this.#free = end > start ? [{ start, end }] : [];
    this.#freeBytes = end - start;
  }

  /** Free bytes (possibly fragmented). */
  get available(): number {
    return this.#freeBytes;
  }

  /** Bytes handed out and not yet freed (alignment padding is not counted). */
  get used(): number {
    return this.end - this.start - this.#freeBytes;
  }

  /** Number of live allocations. */
  get count(): number {
    return this.#allocated.size;
  }

  /**
   * Allocates `size` bytes aligned to `align`.
   *
   * @param size Size in bytes, at least 1.
   * @param align Alignment in bytes, a power of two (default 16).
   * @param options `zero: true` fills the region with zeroes first.
   * @returns The guest-physical address of the region.
   * @throws {RangeError} If size or alignment are invalid.
   * @throws {GuestOutOfMemoryError} If no free region fits.
   */
  alloc(size: number, align = 16, options: { readonly zero?: boolean } = {}): number {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`Allocation size ${size} is not a positive integer`);
    }
    if (!isPowerOfTwo(align)) {
      throw new RangeError(`Alignment ${align} is not a power of two`);
    }
    const free = this.#free;
    for (let i = 0; i < free.length; i++) {
      const extent = free[i];
      const address = alignUp(extent.start, align);
      const end = address + size;
      if (end > extent.end) continue;
      // What is left of the extent: [start, address) before, [end, extent end) after.
      const before = address > extent.start;
      const after = end < extent.end;
      if (before && after) {
        free.splice(i + 1, 0, { start: end, end: extent.end });
        extent.end = address;
      } else if (before) {
        extent.end = address;
      } else if (after) {
        extent.start = end;
      } else {
        free.splice(i, 1);
      }
      this.#allocated.set(address, { start: address, end });
      this.#freeBytes -= size;
      if (options.zero) this.memory.fill(address, size, 0);
      return address;
    }
    throw new GuestOutOfMemoryError(size, align, this.#freeBytes);
  }

  /**
   * Size of a live allocation.
   *
   * @param address An address returned by {@linkcode alloc}.
   * @returns Its size in bytes, or `undefined` if it is not a live allocation.
   */
  sizeOf(address: number): number | undefined {
    const extent = this.#allocated.get(address);
    return extent ? extent.end - extent.start : undefined;
  }

  /**
   * Returns a region to the free list, merging it with free neighbours.
   *
   * @param address An address returned by {@linkcode alloc}.
   * @throws {RangeError} If `address` is not a live allocation (double free or a wrong address).
   */
  free(address: number): void {
    const extent = this.#allocated.get(address);
    if (!extent) {
      throw new RangeError(`Free of ${hexAddress(address)}, which is not a live allocation`);
    }
    this.#allocated.delete(address);
    this.#freeBytes += extent.end - extent.start;
    // Find its place in address order, then merge it with the free
    // neighbours it touches (or insert it between them).
    const free = this.#free;
    let i = 0;
    while (i < free.length && free[i].start < extent.start) i++;
    const prev = i > 0 ? free[i - 1] : null;
    const next = i < free.length ? free[i] : null;
    const joinsPrev = prev !== null && prev.end === extent.start;
    const joinsNext = next !== null && next.start === extent.end;
    if (joinsPrev && joinsNext) {
      prev.end = next.end;
      free.splice(i, 1);
    } else if (joinsPrev) {
      prev.end = extent.end;
    } else if (joinsNext) {
      next.start = extent.start;
    } else {
      free.splice(i, 0, { start: extent.start, end: extent.end });
    }
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    return `GuestAllocator { [${hexAddress(this.start)}, ${
      hexAddress(this.end)
    }), ${this.used} used, ` +
      `${this.available} free, ${this.count} allocation(s) }`;
  }
}

/**
 * Rounds `value` up to a multiple of `align`.
 *
 * @param value A non-negative integer.
 * @param align A power of two.
 */
export function alignUp(value: number, align: number): number {
  // Exact for a power of two: dividing by it and multiplying back lose
  // nothing below 2^53 (and `%` on a double would be a runtime call).
  return Math.ceil(value / align) * align;
}

/** Whether `n` is a power of two from 1 to 2^52. */
function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  return n <= 0x4000_0000 ? (n & (n - 1)) === 0 : Number.isInteger(Math.log2(n));
}
