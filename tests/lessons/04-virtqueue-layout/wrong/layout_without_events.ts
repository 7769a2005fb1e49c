// Mistake: the layout asked without the event fields ("event idx is not
// negotiated yet"), so the rings are 2 bytes short for a device that does
// negotiate VIRTIO_F_EVENT_IDX later.
// Source: none.
// Must fail: "each area is its own allocation, as large as the layout says" [2.7/D2]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import { allocateQueueAreas as correct } from "../correct/formulas.ts";

export { queueAreaProblem, splitQueueLayout } from "../correct/formulas.ts";

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  return correct(allocator, size, (n) => layout(n, false));
}
