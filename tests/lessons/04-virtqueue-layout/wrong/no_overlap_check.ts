// Mistake: the device checks alignment and RAM but not whether the areas
// overlap, so rings sized short (or all three at one address) are taken, and
// the device later writes used elements over the driver's available ring.
// Source: none; the device-side half of NetBSD PR kern/57304, which no check caught.
// Must fail: "no two areas overlap" [2.7/D2]

import { join64 } from "../../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const n = r.num;
  const no = (id: RuleProblem["id"], message: string): RuleProblem => ({ id, message, values: {} });
  if (n === 0) return no(r.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1", "QueueNum missing");
  if (!(Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0)) {
    return no("2.7/D1", "Bad QueueNum");
  }
  if (n > c.max) return no("4.2.2.2/9", "QueueNum above QueueNumMax");
  const ev = c.eventIdx ? 2n : 0n;
  const N = BigInt(n);
  const start = BigInt(c.ram.base);
  const end = start + BigInt(c.ram.size);
  for (
    const [at, len, align] of [
      [join64(r.descLow, r.descHigh), 16n * N, 16n],
      [join64(r.driverLow, r.driverHigh), 4n + 2n * N + ev, 2n],
      [join64(r.deviceLow, r.deviceHigh), 4n + 8n * N + ev, 4n],
    ]
  ) {
    if (at % align !== 0n) return no("2.7.1/1", "Misaligned area");
    if (at < start || at + len > end) return no("2.7.5/D2", "Area outside RAM");
  }
  return null;
}
