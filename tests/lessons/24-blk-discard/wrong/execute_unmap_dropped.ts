// Mistake: write zeroes never passes the segment's unmap on: the backend always writes, and no
// hole is ever punched.
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
  for (const s of segments.slice(0, count)) {
    if (s.sectors === 0) continue;
    const ok = type === 11
      ? await backend.discard!(s.sector * 512, s.sectors * 512, options.signal)
      : await backend.writeZeroes!(s.sector * 512, s.sectors * 512, false, options.signal);
    if (ok) freed += s.sectors;
  }
  return freed;
}
