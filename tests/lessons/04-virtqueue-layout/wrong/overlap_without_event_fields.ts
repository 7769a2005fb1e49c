// Mistake: the overlap test uses the ring sizes without their event fields
// even when VIRTIO_F_EVENT_IDX was negotiated, so a used ring that starts on
// the available ring's used_event is taken.
// Source: none.
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
  const N = BigInt(n);
  const ev = c.eventIdx ? 2n : 0n;
  const parts = [
    { at: join64(r.descLow, r.descHigh), ring: 16n * N, event: 0n, align: 16n },
    { at: join64(r.driverLow, r.driverHigh), ring: 4n + 2n * N, event: ev, align: 2n },
    { at: join64(r.deviceLow, r.deviceHigh), ring: 4n + 8n * N, event: ev, align: 4n },
  ];
  const start = BigInt(c.ram.base);
  const end = start + BigInt(c.ram.size);
  for (const p of parts) {
    if (p.at % p.align !== 0n) return no("2.7.1/1", "Misaligned area");
    if (p.at < start || p.at + p.ring + p.event > end) return no("2.7.5/D2", "Area outside RAM");
  }
  // Overlap between the rings proper: the event fields are an extra.
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const [a, b] = [parts[i], parts[j]];
      if (a.at < b.at + b.ring && b.at < a.at + a.ring) return no("2.7/D2", "Areas overlap");
    }
  }
  return null;
}
