// Mistake: every segment is started at once and awaited with Promise.all: after a failure the
// later segments are done anyway, and the promise rejects while calls still run.
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
  const work = segments.slice(0, count).filter((s) => s.sectors > 0).map((s) =>
    (type === 11
      ? backend.discard!(s.sector * 512, s.sectors * 512, options.signal)
      : backend.writeZeroes!(s.sector * 512, s.sectors * 512, s.unmap, options.signal))
      .then((freed) => (freed ? s.sectors : 0))
  );
  return (await Promise.all(work)).reduce((a, b) => a + b, 0);
}
