// Mistake: the 64-bit address joined as `(high << 32) | low` on numbers:
// JavaScript shifts by the count modulo 32, so that is `high | low`, and any
// area above 4 GiB lands at a mangled address below it.
// Source: none; the C expression, in JavaScript.
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

import { QueueSizeError, type SplitQueueLayout } from "../../../../virtqueue/layout.ts";
import type { SplitQueueAddresses } from "../../../../virtqueue/types.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

function isQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0;
}

export function splitQueueLayout(size: number, eventIdx = true): SplitQueueLayout {
  if (!isQueueSize(size)) throw new QueueSizeError(size);
  const trailer = eventIdx ? 2 : 0;
  return {
    size,
    eventIdx,
    descTableSize: 16 * size,
    descTableAlign: 16,
    availRingSize: 4 + 2 * size + trailer, // flags, idx, ring[size], used_event
    availRingAlign: 2,
    usedRingSize: 4 + 8 * size + trailer, // flags, idx, ring[size] of { id, len }, avail_event
    usedRingAlign: 4,
    usedEventOffset: eventIdx ? 4 + 2 * size : null,
    availEventOffset: eventIdx ? 4 + 8 * size : null,
  };
}

export function allocateQueueAreas(
  allocator: GuestAllocator,
  size: number,
  layout: (size: number, eventIdx?: boolean) => SplitQueueLayout,
): SplitQueueAddresses {
  const l = layout(size, true);
  const descAddr = allocator.alloc(l.descTableSize, l.descTableAlign, { zero: true });
  let availAddr: number;
  try {
    availAddr = allocator.alloc(l.availRingSize, l.availRingAlign, { zero: true });
  } catch (error) {
    allocator.free(descAddr);
    throw error;
  }
  let usedAddr: number;
  try {
    usedAddr = allocator.alloc(l.usedRingSize, l.usedRingAlign, { zero: true });
  } catch (error) {
    allocator.free(availAddr);
    allocator.free(descAddr);
    throw error;
  }
  return { descAddr, availAddr, usedAddr };
}

const address = (low: number, high: number) => BigInt(((high << 32) | low) >>> 0);

export function queueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  const { queue, max, ram, eventIdx } = context;
  const num = registers.num;
  if (num === 0) {
    return registers.wasReset
      ? {
        id: "2.6.1.2.2/1",
        message: `Queue ${queue} enabled after a reset, no QueueNum`,
        values: {},
      }
      : { id: "4.2.3.2/D1", message: `Queue ${queue} enabled before QueueNum`, values: {} };
  }
  if (!isQueueSize(num)) {
    return { id: "2.7/D1", message: `QueueNum ${num} is not a Queue Size`, values: { num } };
  }
  if (num > max) {
    return {
      id: "4.2.2.2/9",
      message: `QueueNum ${num} > QueueNumMax ${max}`,
      values: { num, max },
    };
  }
  const trailer = eventIdx ? 2 : 0;
  const areas = [
    {
      name: "descriptor table",
      at: address(registers.descLow, registers.descHigh),
      align: 16,
      len: 16 * num,
    },
    {
      name: "available ring",
      at: address(registers.driverLow, registers.driverHigh),
      align: 2,
      len: 4 + 2 * num + trailer,
    },
    {
      name: "used ring",
      at: address(registers.deviceLow, registers.deviceHigh),
      align: 4,
      len: 4 + 8 * num + trailer,
    },
  ];
  const start = BigInt(ram.base);
  const end = start + BigInt(ram.size);
  for (const a of areas) {
    if (a.at % BigInt(a.align) !== 0n) {
      return {
        id: "2.7.1/1",
        message: `The ${a.name} is not ${a.align}-byte aligned`,
        values: { queue },
      };
    }
    if (a.at < start || a.at + BigInt(a.len) > end) {
      return { id: "2.7.5/D2", message: `The ${a.name} is not inside RAM`, values: { queue } };
    }
  }
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const [a, b] = [areas[i], areas[j]];
      if (a.at < b.at + BigInt(b.len) && b.at < a.at + BigInt(a.len)) {
        return { id: "2.7/D2", message: `The ${a.name} overlaps the ${b.name}`, values: { queue } };
      }
    }
  }
  return null;
}
