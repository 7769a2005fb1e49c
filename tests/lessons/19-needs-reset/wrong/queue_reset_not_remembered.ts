// Mistake: the reset queue is the plain initial record: nothing remembers that the driver still has to read QueueReset back.
// Source: none
// Must fail: "the reset is remembered until QueueReset is read back, and the next setup is a re-enable" [4.2.2.2/14]

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
    registers: INITIAL_QUEUE_REGISTERS,
    enabled: false,
    stopped: registers.ready,
    reset: true,
    problems: [],
  };
}
