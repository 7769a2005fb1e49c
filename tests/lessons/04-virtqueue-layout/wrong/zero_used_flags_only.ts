// Mistake: only the used ring's flags written 0 (the letter of 2.7.10.1/1),
// the rest of the areas left as the memory held them: the used idx and both
// available ring fields start as garbage.
// Source: none.
// Must fail: "the areas come zeroed, whatever the memory held" [2.7.10.1/1]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const descAddr = allocator.alloc(l.descTableSize, l.descTableAlign, { zero: true });
  let availAddr: number;
  try {
    availAddr = allocator.alloc(l.availRingSize, l.availRingAlign, { zero: true });
  } catch (error) {
    allocator.free(descAddr);
    throw error;
  }
  let usedAddr: number;
  try {
    usedAddr = allocator.alloc(l.usedRingSize, l.usedRingAlign);
  } catch (error) {
    allocator.free(availAddr);
    allocator.free(descAddr);
    throw error;
  }
  allocator.memory.writeU16(usedAddr, 0);
  return { descAddr, availAddr, usedAddr };
}

// The parts this mistake leaves alone: the correct solution's.
export { queueAreaProblem, splitQueueLayout } from "../correct/formulas.ts";
