/**
 * Allocating the three parts of a split virtqueue (virtio v1.2 §2.7): the
 * driver's first step in setting up a queue, before it writes their
 * addresses to `QueueDesc*`, `QueueDriver*` and `QueueDevice*` (§4.2.3.2).
 *
 * @module
 */

import type { GuestAllocator } from "../../memory/allocator.ts";
import { splitQueueLayout } from "../layout.ts";
import type { SplitQueueAddresses } from "../types.ts";

/**
 * Allocates the descriptor table, the available ring and the used ring of a
 * queue of `size` descriptors from `allocator`: each aligned as §2.7
 * requires (16, 2 and 4 bytes, 2.7.1/1), each its own allocation of the
 * size the layout gives (so they never overlap, 2.7/D2), and zeroed, so
 * that the used ring's `flags` start at 0 (2.7.10.1/1) whatever the memory
 * held before. The rings are sized with the event fields (`used_event`,
 * `avail_event`), so they suit either setting of `VIRTIO_F_EVENT_IDX`.
 *
 * If a later part does not fit, the parts already allocated are freed
 * before the error propagates: nothing stays allocated.
 *
 * @param allocator The driver side's allocator.
 * @param size Queue Size, in descriptors.
 * @param layout Computes the sizes and alignments (the reference
 *   `splitQueueLayout` by default); called once, with `eventIdx = true`.
 * @returns The guest-physical addresses of the three parts.
 * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768.
 * @throws {GuestOutOfMemoryError} If a part does not fit (nothing stays allocated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { allocateQueueAreas } from "./areas.ts";
 *
 * const allocator = new GuestAllocator(new GuestMemory(1 << 16));
 * const areas = allocateQueueAreas(allocator, 256);
 * assert.equal(areas.descAddr % 16, 0);
 * assert.equal(allocator.sizeOf(areas.usedAddr), 4 + 8 * 256 + 2);
 * ```
 */
export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: typeof splitQueueLayout = splitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const got: number[] = [];
  try {
    got.push(allocator.alloc(l.descTableSize, l.descTableAlign, { zero: true }));
    got.push(allocator.alloc(l.availRingSize, l.availRingAlign, { zero: true }));
    got.push(allocator.alloc(l.usedRingSize, l.usedRingAlign, { zero: true }));
  } catch (e) {
    for (const addr of got) allocator.free(addr);
    throw e;
  }
  return { descAddr: got[0], availAddr: got[1], usedAddr: got[2] };
}
