// Mistake: QueueReset only clears QueueReady, keeping the size and the area addresses: the old rings survive the reset.
// Source: none
// Must fail: "a reset queue is back in its default state, QueueReady 0" [2.6.1.1.1/2]

import type {
  QueueRegisterOutcome,
  QueueRegisters,
  QueueResetWrite,
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
    registers: { ...registers, ready: false, resetUnconfirmed: true, wasReset: true },
    enabled: false,
    stopped: registers.ready,
    reset: true,
    problems: [],
  };
}
