// Mistake: max_discard_sectors bounds each segment (QEMU's reading) rather than the request, so a
// request carries up to maxSegments × maxSectors sectors.
// Source: none
// Must fail: "a request has at most maxSegments segments and maxSectors sectors" [5.2.6.1/8]

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
  while (cursor.range < ranges.length && segments.length < limits.maxSegments) {
    const range = ranges[cursor.range];
    const left = range.count - cursor.done;
    if (left <= 0) {
      cursor.range++;
      cursor.done = 0;
      continue;
    }
    const start = range.sector + cursor.done;
    let take = Math.min(left, limits.maxSectors);
    if (take < left && limits.alignment > 1) {
      const aligned = Math.floor((start + take) / limits.alignment) * limits.alignment;
      if (aligned > start) take = aligned - start;
    }
    segments.push({ sector: start, sectors: take, unmap });

    if (take < left) {
      cursor.done += take;
      break;
    }
    cursor.range++;
    cursor.done = 0;
  }
  return segments.length;
}
