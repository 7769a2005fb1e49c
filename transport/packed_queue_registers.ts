/**
 * The queue area check of the MMIO register file when `VIRTIO_F_RING_PACKED`
 * was negotiated (virtio v1.2 §2.8.10.1, §4.2.3.2): the same three address
 * registers describe a Descriptor Ring of 16 bytes per descriptor and two
 * 4-byte Event Suppression structures instead of the split ring's table and
 * rings.
 *
 * @module
 */

import { isValidPackedQueueSize } from "../virtqueue/packed/layout.ts";
import {
  PVIRTQ_DESC_ALIGN,
  PVIRTQ_DESC_SIZE,
  PVIRTQ_EVENT_ALIGN,
  PVIRTQ_EVENT_SUPPRESS_SIZE,
} from "../virtqueue/packed/constants.ts";
import {
  join64,
  type QueueArea,
  type QueueAreaContext,
  type QueueRegisters,
} from "./queue_registers.ts";
import type { RuleProblem } from "./types.ts";

/**
 * The three areas of a packed queue as its registers place them: the
 * Descriptor Ring (16 × Queue Size bytes on 16), the Driver Event
 * Suppression structure in the Driver Area and the Device Event
 * Suppression structure in the Device Area (4 bytes on 4 each).
 *
 * @param registers The queue's registers.
 * @returns Descriptor, Driver and Device Area, in that order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS } from "./queue_registers.ts";
 * import { packedQueueAreas } from "./packed_queue_registers.ts";
 * const areas = packedQueueAreas({ ...INITIAL_QUEUE_REGISTERS, num: 100 });
 * assert.deepEqual(areas.map((a) => a.length), [1600, 4, 4]);
 * ```
 */
export function packedQueueAreas(registers: QueueRegisters): readonly QueueArea[] {
  return [
    {
      name: "Descriptor Area",
      address: join64(registers.descLow, registers.descHigh),
      align: PVIRTQ_DESC_ALIGN,
      length: registers.num * PVIRTQ_DESC_SIZE,
    },
    {
      name: "Driver Area",
      address: join64(registers.driverLow, registers.driverHigh),
      align: PVIRTQ_EVENT_ALIGN,
      length: PVIRTQ_EVENT_SUPPRESS_SIZE,
    },
    {
      name: "Device Area",
      address: join64(registers.deviceLow, registers.deviceHigh),
      align: PVIRTQ_EVENT_ALIGN,
      length: PVIRTQ_EVENT_SUPPRESS_SIZE,
    },
  ];
}

/**
 * Decides whether a packed queue may go live when the driver writes 1 to
 * `QueueReady`, in the order of the split ring's check: `QueueNum` written
 * (4.2.3.2/D1, or 2.6.1.2.2/1 after a queue reset), a packed Queue Size
 * (1 to 32768, 2.8/D1) within `QueueNumMax` (4.2.2.2/9), each area aligned
 * (2.8.11/1) and inside RAM (2.8.4/D1), no two overlapping (2.8/D2).
 *
 * @param registers The queue's registers at the time of the write.
 * @param context Queue index, `QueueNumMax` and RAM (`eventIdx` does not
 *   change a packed queue's sizes).
 * @returns The first problem found, or `null` if the queue is usable.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INITIAL_QUEUE_REGISTERS } from "./queue_registers.ts";
 * import { packedQueueAreaProblem } from "./packed_queue_registers.ts";
 * const ram = { base: 0x4000_0000, size: 0x10_0000 };
 * const registers = {
 *   ...INITIAL_QUEUE_REGISTERS, num: 8,
 *   descLow: 0x4000_0000, driverLow: 0x4000_1002, deviceLow: 0x4000_1008,
 * };
 * const problem = packedQueueAreaProblem(registers, { queue: 0, max: 256, ram, eventIdx: false });
 * assert.equal(problem?.id, "2.8.11/1"); // the Driver Area is 2-byte aligned only
 * ```
 */
export function packedQueueAreaProblem(
  registers: QueueRegisters,
  context: QueueAreaContext,
): RuleProblem | null {
  const { queue, max, ram } = context;
  const num = registers.num;
  if (num === 0) {
    return registers.wasReset
      ? {
        id: "2.6.1.2.2/1",
        message:
          `QueueReady set for queue ${queue} after a queue reset without setting it up again (no QueueNum)`,
        values: { queue },
      }
      : {
        id: "4.2.3.2/D1",
        message: `QueueReady set for queue ${queue} before a valid QueueNum was written`,
        values: { queue },
      };
  }
  if (!isValidPackedQueueSize(num)) {
    return {
      id: "2.8/D1",
      message: `QueueReady set for packed queue ${queue} with QueueNum ${num}, not from 1 to 32768`,
      values: { queue, num },
    };
  }
  if (num > max) {
    return {
      id: "4.2.2.2/9",
      message: `QueueReady set for queue ${queue} with QueueNum ${num} above QueueNumMax ${max}`,
      values: { queue, num, max },
    };
  }
  const ramStart = BigInt(ram.base);
  const ramEnd = ramStart + BigInt(ram.size);
  const areas = packedQueueAreas(registers);
  for (const area of areas) {
    const at = `0x${area.address.toString(16)}`;
    if (area.address % BigInt(area.align) !== 0n) {
      return {
        id: "2.8.11/1",
        message: `${area.name} of packed queue ${queue} at ${at} is not ${area.align}-byte aligned`,
        values: { queue, address: at, align: area.align },
      };
    }
    if (area.address < ramStart || area.address + BigInt(area.length) > ramEnd) {
      return {
        id: "2.8.4/D1",
        message:
          `${area.name} of packed queue ${queue} (${area.length} bytes at ${at}) is not inside guest RAM`,
        values: { queue, address: at, length: area.length },
      };
    }
  }
  for (let i = 0; i < areas.length; i++) {
    for (let j = i + 1; j < areas.length; j++) {
      const [a, b] = [areas[i], areas[j]];
      if (a.address < b.address + BigInt(b.length) && b.address < a.address + BigInt(a.length)) {
        return {
          id: "2.8/D2",
          message: `${a.name} of packed queue ${queue} (${a.length} bytes at 0x${
            a.address.toString(16)
          }) overlaps its ${b.name} (${b.length} bytes at 0x${b.address.toString(16)})`,
          values: {
            queue,
            first: `0x${a.address.toString(16)}`,
            second: `0x${b.address.toString(16)}`,
          },
        };
      }
    }
  }
  return null;
}
