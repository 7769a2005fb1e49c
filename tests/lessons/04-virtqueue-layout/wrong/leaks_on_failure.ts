// Mistake: when the used ring does not fit, the table and the available ring
// stay allocated: every failed setup leaks them.
// Source: none; the error path nobody runs.
// Must fail: "when an area does not fit, nothing stays allocated" [2.7/D2]

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
  return {
    descAddr: allocator.alloc(l.descTableSize, l.descTableAlign, { zero: true }),
    availAddr: allocator.alloc(l.availRingSize, l.availRingAlign, { zero: true }),
    usedAddr: allocator.alloc(l.usedRingSize, l.usedRingAlign, { zero: true }),
  };
}
