// Mistake: the end of an area computed in wrapping 64-bit arithmetic, as C's
// u64 would: an area starting 16 bytes below 2^64 "ends" at 112, inside RAM
// at address 0, and is taken.
// Source: none; the u64 habit carried into bigint (BigInt.asUintN).
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

import { join64 } from "../../../../transport/queue_registers.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";

const u64 = (x: bigint) => BigInt.asUintN(64, x);

export function queueAreaProblem(r: QueueRegisters, c: QueueAreaContext): RuleProblem | null {
  const n = r.num;
  const no = (id: RuleProblem["id"]): RuleProblem => ({
    id,
    message: `Refused (${id})`,
    values: {},
  });
  if (n === 0) return no(r.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1");
  if (!(Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0)) return no("2.7/D1");
  if (n > c.max) return no("4.2.2.2/9");
  const ev = c.eventIdx ? 2n : 0n;
  const N = BigInt(n);
  const areas: [bigint, bigint, bigint][] = [
    [join64(r.descLow, r.descHigh), 16n * N, 16n],
    [join64(r.driverLow, r.driverHigh), 4n + 2n * N + ev, 2n],
    [join64(r.deviceLow, r.deviceHigh), 4n + 8n * N + ev, 4n],
  ];
  const ramStart = BigInt(c.ram.base);
  const ramEnd = BigInt(c.ram.base + c.ram.size);
  for (const [at, len, align] of areas) {
    if (at % align !== 0n) return no("2.7.1/1");
    if (at < ramStart || u64(at + len) > ramEnd) return no("2.7.5/D2");
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const [a, la] = areas[i];
      const [b, lb] = areas[j];
      if (a < b + lb && b < a + la) return no("2.7/D2");
    }
  }
  return null;
}
