// Mistake: allocator.alloc called as (alignment, size) instead of (size,
// alignment): 16-byte tables with a 4096-byte alignment, and a RangeError as
// soon as a ring's size is not a power of two.
// Source: none; two number parameters in a row.
// Must fail: "each area starts on the alignment the layout gives" [2.7.1/1]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";

export { queueAreaProblem, splitQueueLayout } from "../correct/formulas.ts";

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const parts: [number, number][] = [
    [l.descTableAlign, l.descTableSize],
    [l.availRingAlign, l.availRingSize],
    [l.usedRingAlign, l.usedRingSize],
  ];
  const got: number[] = [];
  try {
    for (const [align, bytes] of parts) got.push(allocator.alloc(align, bytes, { zero: true }));
  } catch (error) {
    got.forEach((a) => allocator.free(a));
    throw error;
  }
  return { descAddr: got[0], availAddr: got[1], usedAddr: got[2] };
}
