// Mistake: a reset reports reset but not stopped, so the register file would keep a live queue's device half running.
// Source: none
// Must fail: "a queue in use is stopped by its reset" [2.6.1.1.1/1]

import {
  INITIAL_QUEUE_REGISTERS,
  type QueueRegisterOutcome,
  type QueueRegisters,
  type QueueResetWrite,
} from "../../../../transport/queue_registers.ts";
export { markNeedsReset, recoverDevice } from "../correct/qemu_style.ts";

export function resetQueue(
  registers: QueueRegisters,
  write: QueueResetWrite,
): QueueRegisterOutcome {
  if (!write.ringReset || write.value !== 1) {
    return { registers, enabled: false, stopped: false, reset: false, problems: [] };
  }
  return {
    registers: { ...INITIAL_QUEUE_REGISTERS, resetUnconfirmed: true, wasReset: true },
    enabled: false,
    stopped: false,
    reset: true,
    problems: [],
  };
}
