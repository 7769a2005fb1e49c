// Mistake: the device insists on page-aligned areas, as the legacy layout
// had them, and refuses a driver that aligns its rings to 2 and 4 bytes as
// §2.7 allows.
// Source: none; the legacy layout of §2.7.2 carried over to virtio 1.0.
// Must fail: "each area on its own alignment: 16, 2 and 4 bytes" [2.7.1/1]

import { join64 } from "../../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import { queueAreaProblem as correct } from "../correct/formulas.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const found = correct(r, c);
  if (found) return found;
  const pages = [
    join64(r.descLow, r.descHigh),
    join64(r.driverLow, r.driverHigh),
    join64(r.deviceLow, r.deviceHigh),
  ];
  if (pages.some((a) => a % 4096n !== 0n)) {
    return { id: "2.7.1/1", message: "Queue areas must be page aligned", values: {} };
  }
  return null;
}
