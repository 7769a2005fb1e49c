// Mistake: after an aligned cut the request goes on with the rest of the same range, as a second,
// adjacent segment.
// Source: none
// Must fail: "the requests cover the ranges exactly, in order" [5.2.6/D4]

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
    let take = Math.min(left, budget);
    if (take < left && limits.alignment > 1) {
      const aligned = Math.floor((start + take) / limits.alignment) * limits.alignment;
      if (aligned > start) take = aligned - start;
    }
    segments.push({ sector: start, sectors: take, unmap });
    budget -= take;
    if (take < left) {
      cursor.done += take;
      continue;
    }
    cursor.range++;
    cursor.done = 0;
  }
  return segments.length;
}
