// Mistake: each area's address taken from its Low register alone, as a
// 32-bit device would: above 4 GiB every queue is refused, and an area whose
// High word is set is taken for the address its low word names.
// Source: none; a register pair read as one 32-bit value.
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const n = r.num;
  const refuse = (id: RuleProblem["id"], message: string) => ({ id, message, values: { n } });
  if (n === 0) return refuse(r.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1", "no QueueNum");
  if (!(Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0)) {
    return refuse("2.7/D1", "bad size");
  }
  if (n > c.max) return refuse("4.2.2.2/9", "too big");
  const ev = c.eventIdx ? 2 : 0;
  const areas = [[r.descLow, 16 * n, 16], [r.driverLow, 4 + 2 * n + ev, 2], [
    r.deviceLow,
    4 + 8 * n + ev,
    4,
  ]];
  for (const [at, len, align] of areas) {
    if (at % align !== 0) return refuse("2.7.1/1", "misaligned");
    if (at < c.ram.base || at + len > c.ram.base + c.ram.size) {
      return refuse("2.7.5/D2", "not in RAM");
    }
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const [a, la] = areas[i];
      const [b, lb] = areas[j];
      if (a < b + lb && b < a + la) return refuse("2.7/D2", "overlap");
    }
  }
  return null;
}
