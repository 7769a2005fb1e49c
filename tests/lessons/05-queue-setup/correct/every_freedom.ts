// Correct: takes every freedom the contract leaves. The device returns a
// fresh record every time, reports 2.7/D1 before 4.2.2.2/9 when a QueueNum
// breaks both, puts the read-back lapse last, and gives actions and values of
// its own. The driver reads Status and QueueNumMax before QueueReady, writes
// the addresses high word first, Device Area first, and QueueNum last before
// QueueReady; its errors have their own wording. stopQueue looks at
// QueueReady before it writes 0.

import type {
  QueueAreaCheck,
  QueueRegisterOutcome,
  QueueRegisters,
  QueueRegisterWrite,
} from "../../../../transport/queue_registers.ts";
import {
  type QueueAreaAllocator,
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  QueueStopError,
} from "../../../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../../../memory/allocator.ts";
import type { RegisterWindow, RuleProblem } from "../../../../transport/types.ts";

const FIELDS: Record<number, keyof QueueRegisters> = {
  0x080: "descLow",
  0x084: "descHigh",
  0x090: "driverLow",
  0x094: "driverHigh",
  0x0a0: "deviceLow",
  0x0a4: "deviceHigh",
};

export function writeQueueRegister(
  registers: QueueRegisters,
  write: QueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): QueueRegisterOutcome {
  const next: { -readonly [K in keyof QueueRegisters]: QueueRegisters[K] } = { ...registers };
  const problems: RuleProblem[] = [];
  let enabled = false;
  let stopped = false;
  const lapse = registers.stopUnconfirmed && !(write.offset === 0x044 && write.value === 0);
  if (lapse) next.stopUnconfirmed = false;

  if (write.offset === 0x044) {
    if (write.value === 0) {
      stopped = registers.ready;
      next.ready = false;
      next.stopUnconfirmed = true;
    } else if (!registers.ready) {
      const problem = checkAreas(next);
      if (problem) problems.push({ ...problem, action: "the queue stays off" });
      else {
        next.ready = true;
        enabled = true;
      }
    }
  } else if (registers.ready) {
    problems.push({
      id: "4.2.2.2/10",
      message: "A live queue's configuration cannot change",
      values: { register: write.offset },
      action: "ignored",
    });
  } else if (write.offset === 0x038) {
    const n = write.value;
    const power = n >= 1 && n <= 32768 && Number.isInteger(Math.log2(n));
    if (!power) {
      problems.push({ id: "2.7/D1", message: "Not a Queue Size", values: {}, action: "ignored" });
    } else if (n > write.max) {
      problems.push({
        id: "4.2.2.2/9",
        message: "Beyond QueueNumMax",
        values: {},
        action: "ignored",
      });
    } else next.num = n;
  } else if (FIELDS[write.offset]) {
    (next as Record<string, unknown>)[FIELDS[write.offset]] = write.value >>> 0;
  }
  if (lapse) {
    problems.push({ id: "4.2.2.2/11", message: "QueueReady was not read back", values: {} });
  }
  return { registers: next, enabled, stopped, reset: false, problems };
}

export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  window.read32(0x070); // Status: FEATURES_OK, as the contract says
  window.write32(0x030, index);
  const max = window.read32(0x034) >>> 0;
  const ready = window.read32(0x044) >>> 0;
  if (ready) throw new QueueSetupError("Busy", index, "QueueReady", ready);
  if (max === 0) throw new QueueSetupError("Absent", index, "QueueNumMax", 0);
  const wanted = Math.min(request.size ?? Infinity, max, request.maxSize ?? Infinity, 32768);
  if (wanted < 1 || Number.isNaN(wanted)) {
    throw new QueueSetupError("Too small", index, "size", wanted);
  }
  const size = 1 << (31 - Math.clz32(wanted));
  let areas;
  try {
    areas = allocateAreas(allocator, size);
  } catch (cause) {
    throw new QueueSetupError("Out of memory", index, "allocation", size, { cause });
  }
  const { descAddr, availAddr, usedAddr } = areas;
  for (const [high, address] of [[0x0a4, usedAddr], [0x094, availAddr], [0x084, descAddr]]) {
    window.write32(high, Math.floor(address / 0x1_0000_0000));
    window.write32(high - 4, address >>> 0);
  }
  window.write32(0x038, size);
  window.write32(0x044, 1);
  const back = window.read32(0x044) >>> 0;
  if (back === 1) return { size, descAddr, availAddr, usedAddr };
  [usedAddr, availAddr, descAddr].forEach((a) => allocator.free(a));
  throw new QueueSetupError("Refused", index, "QueueReady read-back", back);
}

export function stopQueue(window: RegisterWindow, index: number, maxPolls?: number): void {
  const limit = maxPolls ?? 1000;
  window.write32(0x030, index);
  window.read32(0x044); // was it running? (not counted: the polls come after the write)
  window.write32(0x044, 0);
  let ready = -1;
  for (let polls = 1; polls <= limit; polls++) {
    ready = window.read32(0x044) >>> 0;
    if (ready === 0) return;
  }
  throw new QueueStopError(index, limit, ready);
}
