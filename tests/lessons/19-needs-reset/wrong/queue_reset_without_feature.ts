// Mistake: QueueReset honoured without VIRTIO_F_RING_RESET negotiated.
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
  if (write.value !== 1) {
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
