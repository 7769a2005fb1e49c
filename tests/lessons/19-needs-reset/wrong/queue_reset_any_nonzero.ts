// Mistake: any nonzero write to QueueReset resets the queue, as a QueueReady write of any nonzero value enables one.
// Source: none
// Must fail: "only 1 with VIRTIO_F_RING_RESET does anything" [4.2.2.1/10]

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
  if (!write.ringReset || write.value === 0) {
    return { registers, enabled: false, stopped: false, reset: false, problems: [] };
  }
  return {
    registers: { ...INITIAL_QUEUE_REGISTERS, resetUnconfirmed: true, wasReset: true },
    enabled: false,
    stopped: registers.ready,
    reset: true,
    problems: [],
  };
}
