// Mistake: an area at address 0 taken for one the driver never wrote, and
// refused as 4.2.3.2/D1, though 0 is a guest-physical address like any other
// (RAM may start there).
// Source: none; 0 as "not set" is a common shortcut.
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

import { join64 } from "../../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { queueAreaProblem as correct } from "../correct/formulas.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const unset = [
    join64(r.descLow, r.descHigh),
    join64(r.driverLow, r.driverHigh),
    join64(r.deviceLow, r.deviceHigh),
  ].some((a) => a === 0n);
  if (unset) return { id: "4.2.3.2/D1", message: "An area address was never written", values: {} };
  return correct(r, c);
}
