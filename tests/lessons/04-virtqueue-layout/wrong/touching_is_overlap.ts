// Mistake: the overlap test compares with <= , so two areas that merely touch
// (one starting on the byte after another ends) are refused.
// Source: none; the classic interval off-by-one.
// Must fail: "no two areas overlap" [2.7/D2]

import { join64 } from "../../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { queueAreaProblem as correct } from "../correct/formulas.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const found = correct(r, c);
  if (found) return found;
  const ev = c.eventIdx ? 2n : 0n;
  const n = BigInt(r.num);
  const spans: [bigint, bigint][] = [
    [join64(r.descLow, r.descHigh), 16n * n],
    [join64(r.driverLow, r.driverHigh), 4n + 2n * n + ev],
    [join64(r.deviceLow, r.deviceHigh), 4n + 8n * n + ev],
  ];
  for (const [i, [a, la]] of spans.entries()) {
    for (const [b, lb] of spans.slice(i + 1)) {
      if (a <= b + lb && b <= a + la) return { id: "2.7/D2", message: "Overlap", values: {} };
    }
  }
  return null;
}
