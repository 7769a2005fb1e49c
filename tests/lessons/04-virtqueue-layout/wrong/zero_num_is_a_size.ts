// Mistake: QueueNum 0 treated as one more size that is not a power of two
// (2.7/D1), where the device must say the driver set QueueReady before
// writing any QueueNum (4.2.3.2/D1).
// Source: none; isPowerOfTwo(0) is false, so it "works".
// Must fail: "QueueReady needs a QueueNum first" [4.2.3.2/D1]

import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { queueAreaProblem as correct } from "../correct/formulas.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  if (r.num === 0) return { id: "2.7/D1", message: "QueueNum 0 is not a power of two", values: {} };
  return correct(r, c);
}
