// Mistake: the stop writes QueueReady without selecting the queue first: it stops
// whichever queue was selected last.
// Source: none.
// Must fail: "stopQueue writes 0 to QueueReady and reads it back" [4.2.2.2/11]

import { isValidQueueSize } from "../../../../virtqueue/layout.ts";
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

const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_READY = 0x044;
const DESC_LOW = 0x080;
const DESC_HIGH = 0x084;
const DRIVER_LOW = 0x090;
const DRIVER_HIGH = 0x094;
const DEVICE_LOW = 0x0a0;
const DEVICE_HIGH = 0x0a4;

export function writeQueueRegister(
  registers: QueueRegisters,
  write: QueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): QueueRegisterOutcome {
  const problems: RuleProblem[] = [];
  const q = write.queue;
  const outcome = (r: QueueRegisters, enabled = false, stopped = false): QueueRegisterOutcome => ({
    registers: r,
    enabled,
    stopped,
    reset: false,
    problems,
  });

  if (write.offset === QUEUE_READY && write.value === 0) {
    return outcome({ ...registers, ready: false, stopUnconfirmed: true }, false, registers.ready);
  }
  if (write.offset === QUEUE_READY && registers.ready) return outcome(registers);

  let r = registers;
  if (r.stopUnconfirmed) {
    problems.push({
      id: "4.2.2.2/11",
      message: `Queue ${q} reused before QueueReady was read back after a stop`,
      values: { queue: q },
    });
    r = { ...r, stopUnconfirmed: false };
  }

  switch (write.offset) {
    case QUEUE_READY: {
      const problem = checkAreas(r);
      if (problem) {
        problems.push(problem);
        return outcome(r);
      }
      return outcome({ ...r, ready: true }, true);
    }
    case QUEUE_NUM:
      if (r.ready) break;
      if (write.value > write.max) {
        problems.push({
          id: "4.2.2.2/9",
          message: `QueueNum ${write.value} is above QueueNumMax ${write.max}`,
          values: { queue: q, num: write.value, max: write.max },
        });
        return outcome(r);
      }
      if (!isValidQueueSize(write.value)) {
        problems.push({
          id: "2.7/D1",
          message: `QueueNum ${write.value} is not a power of two from 1 to 32768`,
          values: { queue: q, num: write.value },
        });
        return outcome(r);
      }
      return outcome({ ...r, num: write.value });
    case DESC_LOW:
    case DESC_HIGH:
    case DRIVER_LOW:
    case DRIVER_HIGH:
    case DEVICE_LOW:
    case DEVICE_HIGH: {
      if (r.ready) break;
      const field = ({
        [DESC_LOW]: "descLow",
        [DESC_HIGH]: "descHigh",
        [DRIVER_LOW]: "driverLow",
        [DRIVER_HIGH]: "driverHigh",
        [DEVICE_LOW]: "deviceLow",
        [DEVICE_HIGH]: "deviceHigh",
      } as const)[write.offset];
      return outcome({ ...r, [field]: write.value >>> 0 });
    }
    default:
      return outcome(r);
  }
  problems.push({
    id: "4.2.2.2/10",
    message: `Queue ${q} changed while QueueReady is 1`,
    values: { queue: q, offset: write.offset },
  });
  return outcome(r);
}

export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  window.write32(QUEUE_SEL, index);
  const ready = window.read32(QUEUE_READY) >>> 0;
  if (ready !== 0) {
    throw new QueueSetupError(`Queue ${index} is in use`, index, "QueueReady", ready);
  }
  const max = window.read32(QUEUE_NUM_MAX) >>> 0;
  if (max === 0) {
    throw new QueueSetupError(`Queue ${index} does not exist`, index, "QueueNumMax", 0);
  }
  const capped = Math.min(request.size ?? max, max, request.maxSize ?? 32768, 32768);
  if (!(capped >= 1)) {
    throw new QueueSetupError(`No size fits queue ${index}`, index, "size", capped);
  }
  let size = 1;
  while (size * 2 <= capped) size *= 2;
  let areas;
  try {
    areas = allocateAreas(allocator, size);
  } catch (error) {
    throw new QueueSetupError(`No memory for queue ${index}`, index, "allocation", size, {
      cause: error,
    });
  }
  const lo = (a: number) => a % 2 ** 32;
  const hi = (a: number) => Math.floor(a / 2 ** 32);
  window.write32(QUEUE_NUM, size);
  window.write32(DESC_LOW, lo(areas.descAddr));
  window.write32(DESC_HIGH, hi(areas.descAddr));
  window.write32(DRIVER_LOW, lo(areas.availAddr));
  window.write32(DRIVER_HIGH, hi(areas.availAddr));
  window.write32(DEVICE_LOW, lo(areas.usedAddr));
  window.write32(DEVICE_HIGH, hi(areas.usedAddr));
  window.write32(QUEUE_READY, 1);
  const back = window.read32(QUEUE_READY) >>> 0;
  if (back !== 1) {
    allocator.free(areas.descAddr);
    allocator.free(areas.availAddr);
    allocator.free(areas.usedAddr);
    throw new QueueSetupError(`Queue ${index} refused`, index, "QueueReady read-back", back);
  }
  return { size, ...areas };
}

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_READY, 0);
  let last = 0;
  for (let i = 0; i < maxPolls; i++) {
    last = window.read32(QUEUE_READY) >>> 0;
    if (last === 0) return;
  }
  throw new QueueStopError(index, maxPolls, last);
}
