// Mistake: one allocation for the whole queue, the parts back to back in it
// (table, then available ring, then used ring): the used ring lands 2 bytes
// off its alignment whenever the available ring ends on a 16-bit field, and
// the caller cannot free the rings on their own.
// Source: zephyrproject-rtos/zephyr PR #46741 (a virtqueue placed right after vring_size of another, 2 bytes off).
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
  const total = l.descTableSize + l.availRingSize + l.usedRingSize;
  const descAddr = allocator.alloc(total, l.descTableAlign, { zero: true });
  const availAddr = descAddr + l.descTableSize;
  const usedAddr = availAddr + l.availRingSize;
  return { descAddr, availAddr, usedAddr };
}
