// Correct: straight-line, as QEMU and Linux write it: virtio_error's "set
// NEEDS_RESET, notify if DRIVER_OK", virtio_queue_reset's early return, and
// a recovery that is Linux's vp_reset followed by a fresh probe.

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
import {
  INITIAL_QUEUE_REGISTERS,
  type QueueRegisterOutcome,
  type QueueRegisters,
  type QueueResetWrite,
} from "../../../../transport/queue_registers.ts";
import type { RecoveryOutcome, RecoverySteps } from "../../../../transport/driver_core.ts";
import { DeviceResetError } from "../../../../transport/driver_init.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const STATUS = 0x070;

export function markNeedsReset(status: number): NeedsResetTransition {
  if (status & 0x40) return { status, notify: false };
  return { status: status | 0x40, notify: (status & 0x04) !== 0 };
}

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
    stopped: registers.ready,
    reset: true,
    problems: [],
  };
}

export async function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const status = window.read32(STATUS);
  if (!(status & 0x40) && !(status & 0x80)) return { recovered: false, status };
  window.write32(STATUS, 0);
  let now = status;
  let polls = 0;
  while (polls < maxPolls) {
    now = window.read32(STATUS);
    polls++;
    if (now === 0) break;
  }
  if (now !== 0) throw new DeviceResetError(now, polls);
  steps.release();
  const negotiated = await steps.reinitialize(features);
  return { recovered: true, status, features: negotiated };
}
