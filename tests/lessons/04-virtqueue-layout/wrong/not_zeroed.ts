// Mistake: the areas allocated without zeroing them: on memory used before,
// the used ring's flags may say VIRTQ_USED_F_NO_NOTIFY and idx anything.
// Source: none; §4.2.3.2 step 4 says "allocate and zero", and xv6's memset of
// its queue pages is easy to drop.
// Must fail: "the areas come zeroed, whatever the memory held" [2.7.10.1/1]

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
  const got: number[] = [];
  try {
    got.push(allocator.alloc(l.descTableSize, l.descTableAlign));
    got.push(allocator.alloc(l.availRingSize, l.availRingAlign));
    got.push(allocator.alloc(l.usedRingSize, l.usedRingAlign));
  } catch (error) {
    got.forEach((a) => allocator.free(a));
    throw error;
  }
  return { descAddr: got[0], availAddr: got[1], usedAddr: got[2] };
}
