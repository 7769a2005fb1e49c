// Mistake: "always" also falls back to direct descriptors when the table cannot
// be allocated, instead of passing the error on.
// Source: none
// Must fail: "\"never\" and \"always\" do what they say" [2.7.5.3.1/1]

// deno-lint-ignore-file no-unused-vars
import { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
import type {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
} from "../../../../virtqueue/constants.ts";
import type { breakDeviceRing, SplitDeviceRing } from "../../../../virtqueue/device/ring.ts";
import type { HEAD_ADDED, SplitDriverRing } from "../../../../virtqueue/driver/ring.ts";
import type { AddBufferSteps, IndirectPolicy } from "../../../../virtqueue/driver/add.ts";
import type {
  BufferSegment,
  DescriptorChain,
  VirtqueueChainError,
  VirtqueueFullError,
} from "../../../../virtqueue/types.ts";

export { addIndirectChain, readIndirectTable } from "../correct/one_pass.ts";

export function addBuffers<T>(
  ring: SplitDriverRing<T>,
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  token: T,
  policy: IndirectPolicy,
  steps: AddBufferSteps,
): number {
  const n = readable.length + writable.length;
  switch (policy) {
    case "never":
      return steps.addChain(ring, readable, writable, token);
    case "always":
      if (!steps.allocTable) throw new TypeError("No allocator for an indirect table");
      try {
        return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
      } catch (e) {
        if (!(e instanceof GuestOutOfMemoryError)) throw e;
        return steps.addChain(ring, readable, writable, token);
      }
    case "auto":
      if (ring.indirect && steps.allocTable && n >= 2) {
        try {
          return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
        } catch (e) {
          if (!(e instanceof GuestOutOfMemoryError)) throw e;
        }
      }
      return steps.addChain(ring, readable, writable, token);
  }
}
