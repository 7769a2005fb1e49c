// Mistake: used_event and avail_event given their offsets with event idx
// off as well, where the contract says null: there is no such field then.
// Source: none.
// Must fail: "used_event and avail_event follow the last ring entry, with event idx only" [2.7/D2]

import type { SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import { splitQueueLayout as full } from "../correct/formulas.ts";

export { allocateQueueAreas, queueAreaProblem } from "../correct/formulas.ts";

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  const l = full(size, eventIdx);
  return { ...l, usedEventOffset: 4 + 2 * size, availEventOffset: 4 + 8 * size };
}
