// Mistake: the work resolves with every sector of the request, deallocated or not.
// Source: none
// Must fail: "the work resolves with the sectors deallocated" [5.2.6.2/4]

import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { DiscardIoOptions, DiscardSegment } from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../correct/straight_line.ts";

export async function executeDiscardRequest(
  backend: BlockBackend,
  type: number,
  segments: readonly DiscardSegment[],
  count: number,
  options: DiscardIoOptions,
): Promise<number> {
  let total = 0;
  for (const s of segments.slice(0, count)) {
    if (s.sectors === 0) continue;
    if (type === 11) await backend.discard!(s.sector * 512, s.sectors * 512, options.signal);
    else await backend.writeZeroes!(s.sector * 512, s.sectors * 512, s.unmap, options.signal);
    total += s.sectors;
  }
  return total;
}
