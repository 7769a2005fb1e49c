// Mistake: every record of segments is done, not the first count: stale records from an earlier
// request are discarded too.
// Source: none
// Must fail: "each segment goes to the backend once, in order, with its unmap" [5.2.6.2/6]

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
  let freed = 0;
  for (const s of segments) {
    if (s.sectors === 0) continue;
    const ok = type === 11
      ? await backend.discard!(s.sector * 512, s.sectors * 512, options.signal)
      : await backend.writeZeroes!(s.sector * 512, s.sectors * 512, s.unmap, options.signal);
    if (ok) freed += s.sectors;
  }
  return count >= 0 ? freed : 0;
}
