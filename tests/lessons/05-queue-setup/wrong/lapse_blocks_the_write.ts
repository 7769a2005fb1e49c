// Mistake: a write after a stop that was not read back is reported and then
// ignored, where the contract reports it once and lets the write do what it
// does.
// Source: none; stricter than the rule.
// Must fail: "a stopped queue is reused only after the read-back" [4.2.2.2/11]

import { isValidQueueSize } from "../../../../virtqueue/layout.ts";
import type {
  QueueAreaCheck,
  QueueRegisterOutcome,
  QueueRegisters,
  QueueRegisterWrite,
} from "../../../../transport/queue_registers.ts";
import type { RuleProblem } from "../../../../transport/types.ts";

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

  const r = registers;
  if (r.stopUnconfirmed) {
    problems.push({
      id: "4.2.2.2/11",
      message: `Queue ${q} reused before QueueReady was read back after a stop`,
      values: { queue: q },
    });
    return outcome({ ...r, stopUnconfirmed: false });
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

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, stopQueue } from "../correct/straight_line.ts";
