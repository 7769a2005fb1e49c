// Mistake: "auto" retries with direct descriptors whatever the indirect step
// threw: a refused chain or a full ring runs both steps.
// Source: none
// Must fail: "\"auto\" falls back to direct descriptors when no table can be allocated" [2.7.5.3/D3]

// deno-lint-ignore-file no-unused-vars
import type { GuestOutOfMemoryError } from "../../../../memory/allocator.ts";
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
      return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
    case "auto":
      if (ring.indirect && steps.allocTable && n >= 2) {
        try {
          return steps.addIndirectChain(ring, readable, writable, token, steps.allocTable);
        } catch (e) {
          void e;
        }
      }
      return steps.addChain(ring, readable, writable, token);
  }
}
