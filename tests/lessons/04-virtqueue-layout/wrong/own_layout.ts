// Mistake: the areas sized by the function's own layout instead of the one it
// is given, so the machine's splitQueueLayout part is never used (and a
// roomier layout is not honoured).
// Source: none; importing splitQueueLayout is shorter than reading the parameter.
// Must fail: "each area is its own allocation, as large as the layout says" [2.7/D2]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import { allocateQueueAreas as correct, splitQueueLayout } from "../correct/formulas.ts";

export { queueAreaProblem, splitQueueLayout } from "../correct/formulas.ts";

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  _layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  return correct(allocator, size, splitQueueLayout);
}
