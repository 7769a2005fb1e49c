// Mistake: an area must end before RAM's end (`end < ramEnd`), so one that
// ends on RAM's last byte is refused: the off-by-one of a length passed where
// an offset was expected.
// Source: Firecracker issue #1296 (and its block device until PR #2403).
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

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
  const last = BigInt(c.ram.base + c.ram.size) - 1n; // the last valid address
  const ends = [
    join64(r.descLow, r.descHigh) + 16n * n,
    join64(r.driverLow, r.driverHigh) + 4n + 2n * n + ev,
    join64(r.deviceLow, r.deviceHigh) + 4n + 8n * n + ev,
  ];
  for (const end of ends) {
    if (end > last) return { id: "2.7.5/D2", message: "Area runs past RAM", values: {} };
  }
  return null;
}
