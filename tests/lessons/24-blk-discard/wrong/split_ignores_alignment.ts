// Mistake: a cut inside a range lands wherever the budget ends, and every later request starts
// unaligned.
// Source: none
// Must fail: "a cut inside a range lands on the alignment" [5.2.5/D1]

import type {
  DiscardCursor,
  DiscardRange,
  DiscardSegment,
  DiscardSplitLimits,
} from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
} from "../correct/straight_line.ts";

export function splitDiscard(
  limits: DiscardSplitLimits,
  ranges: readonly DiscardRange[],
  cursor: DiscardCursor,
  segments: DiscardSegment[],
  unmap: boolean,
): number {
  segments.length = 0;
  let budget = limits.maxSectors;
  while (cursor.range < ranges.length && segments.length < limits.maxSegments && budget > 0) {
    const range = ranges[cursor.range];
    const left = range.count - cursor.done;
    if (left <= 0) {
      cursor.range++;
      cursor.done = 0;
      continue;
    }
    const start = range.sector + cursor.done;
    const take = Math.min(left, budget);
    segments.push({ sector: start, sectors: take, unmap });
    budget -= take;
    if (take < left) {
      cursor.done += take;
      break;
    }
    cursor.range++;
    cursor.done = 0;
  }
  return segments.length;
}
