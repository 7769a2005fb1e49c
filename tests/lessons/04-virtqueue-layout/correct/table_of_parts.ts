// Correct: one table describes the three parts (header, entry size,
// trailer, alignment) and every function loops over it; Queue Size tested
// with Math.log2; allocation in a loop that undoes itself on failure; the
// device's checks one area at a time, in number arithmetic only after the
// high word has been ruled out.

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";

interface Part {
  readonly area: string;
  readonly header: number; // flags and idx
  readonly entry: number; // bytes per descriptor
  readonly trailer: number; // used_event / avail_event
  readonly align: number;
  readonly low: "descLow" | "driverLow" | "deviceLow";
  readonly high: "descHigh" | "driverHigh" | "deviceHigh";
}

const PARTS: readonly Part[] = [
  {
    area: "Descriptor Area",
    header: 0,
    entry: 16,
    trailer: 0,
    align: 16,
    low: "descLow",
    high: "descHigh",
  },
  {
    area: "Driver Area",
    header: 4,
    entry: 2,
    trailer: 2,
    align: 2,
    low: "driverLow",
    high: "driverHigh",
  },
  {
    area: "Device Area",
    header: 4,
    entry: 8,
    trailer: 2,
    align: 4,
    low: "deviceLow",
    high: "deviceHigh",
  },
];

const bytes = (p: Part, size: number, eventIdx: boolean) =>
  p.header + p.entry * size + (eventIdx ? p.trailer : 0);

function validSize(n: number): boolean {
  return n >= 1 && n <= 2 ** 15 && Number.isInteger(Math.log2(n));
}

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!validSize(size)) throw new QueueSizeError(size);
  const [desc, avail, used] = PARTS.map((p) => bytes(p, size, eventIdx));
  return {
    size,
    eventIdx,
    descTableSize: desc,
    descTableAlign: PARTS[0].align,
    availRingSize: avail,
    availRingAlign: PARTS[1].align,
    usedRingSize: used,
    usedRingAlign: PARTS[2].align,
    usedEventOffset: eventIdx ? avail - 2 : null,
    availEventOffset: eventIdx ? used - 2 : null,
  };
}

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const wanted: [number, number][] = [
    [l.descTableSize, l.descTableAlign],
    [l.availRingSize, l.availRingAlign],
    [l.usedRingSize, l.usedRingAlign],
  ];
  const got: number[] = [];
  try {
    for (const [bytes, align] of wanted) got.push(allocator.alloc(bytes, align, { zero: true }));
  } catch (error) {
    while (got.length > 0) allocator.free(got.pop()!);
    throw error;
  }
  const [descAddr, availAddr, usedAddr] = got;
  return { descAddr, availAddr, usedAddr };
}

function refuse(id: RequirementId, message: string, queue: number): RuleProblem {
  return { id, message: `queue ${queue}: ${message}`, values: { queue } };
}

export function queueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  const { num } = registers;
  const q = context.queue;
  if (num === 0) {
    return refuse(registers.wasReset ? "2.6.1.2.2/1" : "4.2.3.2/D1", "QueueNum was not written", q);
  }
  if (!validSize(num)) return refuse("2.7/D1", `${num} is not a power of two up to 32768`, q);
  if (num > context.max) return refuse("4.2.2.2/9", `${num} is above QueueNumMax`, q);

  const ramStart = context.ram.base;
  const ramEnd = context.ram.base + context.ram.size;
  const spans: [number, number][] = [];
  for (const p of PARTS) {
    const low = registers[p.low] >>> 0;
    const high = registers[p.high] >>> 0;
    if (low % p.align !== 0) return refuse("2.7.1/1", `${p.area} misaligned`, q);
    // Guest RAM ends below 2^53; an address with a high word that large is outside it.
    if (high >= 0x20_0000) return refuse("2.7.5/D2", `${p.area} above all RAM`, q);
    const start = high * 2 ** 32 + low;
    const end = start + bytes(p, num, context.eventIdx);
    if (start < ramStart || end > ramEnd) return refuse("2.7.5/D2", `${p.area} outside RAM`, q);
    spans.push([start, end]);
  }
  for (const [i, [s1, e1]] of spans.entries()) {
    for (const [s2, e2] of spans.slice(i + 1)) {
      if (s1 < e2 && s2 < e1) return refuse("2.7/D2", "two areas overlap", q);
    }
  }
  return null;
}
