// Correct: takes every freedom the contract leaves. The layout is computed
// from offsets; the areas are allocated used ring first, each rounded up to
// whole 64-byte lines and aligned to 64 (more room and alignment than asked),
// zeroed by hand after a plain alloc, with a scratch allocation that is given
// back; the device checks RAM before alignment, overlap before the Queue Size
// limit, and its problems carry their own wording and no values.

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

export function splitQueueLayout(size: number, eventIdx?: boolean): SplitQueueLayout {
  const withEvents = eventIdx ?? true;
  const sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];
  if (!sizes.includes(size)) throw new QueueSizeError(size);
  const ringEnd = (elem: number) => 4 + elem * size; // where ring[size] ends
  return {
    size,
    eventIdx: withEvents,
    descTableSize: size * 16,
    descTableAlign: 16,
    availRingSize: ringEnd(2) + (withEvents ? 2 : 0),
    availRingAlign: 2,
    usedRingSize: ringEnd(8) + (withEvents ? 2 : 0),
    usedRingAlign: 4,
    usedEventOffset: withEvents ? ringEnd(2) : null,
    availEventOffset: withEvents ? ringEnd(8) : null,
  };
}

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const scratch = allocator.alloc(1, 1); // a marker, given back below
  const lines = (n: number) => Math.ceil(n / 64) * 64 + 64;
  const made: number[] = [];
  const take = (bytes: number, align: number) => {
    const at = allocator.alloc(lines(bytes), Math.max(64, align));
    made.push(at);
    allocator.memory.fill(at, lines(bytes), 0);
    return at;
  };
  try {
    const usedAddr = take(l.usedRingSize, l.usedRingAlign);
    const availAddr = take(l.availRingSize, l.availRingAlign);
    const descAddr = take(l.descTableSize, l.descTableAlign);
    return { descAddr, availAddr, usedAddr };
  } catch (error) {
    for (const at of made) allocator.free(at);
    throw error;
  } finally {
    allocator.free(scratch);
  }
}

export function queueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  const n = registers.num;
  const problem = (id: RuleProblem["id"], message: string): RuleProblem => ({
    id,
    message,
    values: {},
  });
  if (n === 0) return problem(registers.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1", "No size yet");
  if (n > 32768 || n < 1 || !Number.isInteger(n) || (n & (n - 1)) !== 0) {
    return problem("2.7/D1", "Not a size a split ring can have");
  }
  const ev = context.eventIdx ? 2n : 0n;
  const N = BigInt(n);
  const areas: [bigint, bigint, bigint][] = [ // start, length, alignment
    [BigInt(registers.descHigh) * 2n ** 32n + BigInt(registers.descLow), 16n * N, 16n],
    [BigInt(registers.driverHigh) * 2n ** 32n + BigInt(registers.driverLow), 4n + 2n * N + ev, 2n],
    [BigInt(registers.deviceHigh) * 2n ** 32n + BigInt(registers.deviceLow), 4n + 8n * N + ev, 4n],
  ];
  const lo = BigInt(context.ram.base);
  const hi = lo + BigInt(context.ram.size);
  if (areas.some(([s, len]) => s < lo || s + len > hi)) return problem("2.7.5/D2", "Out of RAM");
  if (areas.some(([s, , a]) => s % a !== 0n)) return problem("2.7.1/1", "Misaligned");
  const sorted = [...areas].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1][0] + sorted[i - 1][1] > sorted[i][0]) return problem("2.7/D2", "Overlap");
  }
  if (n > context.max) return problem("4.2.2.2/9", "Too big for this queue");
  return null;
}
