// Mistake: RAM's end taken as its last byte where it is one past it
// (`address + length - 1 > end`): an area may run one byte beyond RAM.
// Source: none; the inclusive/exclusive confusion behind Firecracker issue #1296, the other way round.
// Must fail: "every area inside RAM, all 64 bits of its address counted" [2.7.5/D2]

import type { QueueAreaContext, QueueRegisters } from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

function isQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 32768 && (n & (n - 1)) === 0;
}

const address = (low: number, high: number) => (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);

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
    if (a.at < start || a.at + BigInt(a.len) - 1n > end) {
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

// The parts this mistake leaves alone: the correct solution's.
export { allocateQueueAreas, splitQueueLayout } from "../correct/formulas.ts";
