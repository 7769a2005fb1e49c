// Mistake: any Queue Size up to 32768 taken, whatever QueueNumMax says: the
// device then reads descriptors past the table it can handle.
// Source: au-ts/sddf PR #769 (a driver wrote its own size whatever QueueNumMax said; the device took it until QEMU 11.1.0 checked).
// Must fail: "no larger than QueueNumMax" [4.2.2.2/9]

import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { queueAreaProblem as correct } from "../correct/formulas.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  return correct(r, { ...c, max: 32768 });
}
