// Correct: named states and tables. The device side decides from named
// predicates; the driver side keeps the recovery as a list of phases, waits
// for the reset with a for loop that counts down, and builds the outcome
// from a spread. The reset queue is built field by field rather than from
// INITIAL_QUEUE_REGISTERS.

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
import type {
  QueueRegisterOutcome,
  QueueRegisters,
  QueueResetWrite,
} from "../../../../transport/queue_registers.ts";
import type { RecoveryOutcome, RecoverySteps } from "../../../../transport/driver_core.ts";
import { DeviceResetError } from "../../../../transport/driver_init.ts";
import { VIRTIO_MMIO_STATUS } from "../../../../transport/mmio_registers.ts";
import {
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../../../../virtio/status.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const isSet = (status: number, bit: number) => (status & bit) === bit;

export function markNeedsReset(status: number): NeedsResetTransition {
  const alreadyAsked = isSet(status, VIRTIO_CONFIG_S_NEEDS_RESET);
  const driverLive = isSet(status, VIRTIO_CONFIG_S_DRIVER_OK);
  return {
    status: status | VIRTIO_CONFIG_S_NEEDS_RESET,
    notify: driverLive && !alreadyAsked,
  };
}

const DEFAULT_QUEUE: QueueRegisters = {
  num: 0,
  ready: false,
  descLow: 0,
  descHigh: 0,
  driverLow: 0,
  driverHigh: 0,
  deviceLow: 0,
  deviceHigh: 0,
  stopUnconfirmed: false,
  resetUnconfirmed: false,
  wasReset: false,
};

export function resetQueue(
  registers: QueueRegisters,
  write: QueueResetWrite,
): QueueRegisterOutcome {
  const resets = write.ringReset && write.value === 1;
  return {
    registers: resets ? { ...DEFAULT_QUEUE, resetUnconfirmed: true, wasReset: true } : registers,
    enabled: false,
    stopped: resets && registers.ready,
    reset: resets,
    problems: [],
  };
}

export async function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const seen = window.read32(VIRTIO_MMIO_STATUS);
  const needsRecovery = isSet(seen, VIRTIO_CONFIG_S_NEEDS_RESET) ||
    isSet(seen, VIRTIO_CONFIG_S_FAILED);
  if (!needsRecovery) return { recovered: false, status: seen };

  window.write32(VIRTIO_MMIO_STATUS, 0);
  let last = -1;
  let reads = 0;
  for (let left = maxPolls; left > 0 && last !== 0; left--) {
    last = window.read32(VIRTIO_MMIO_STATUS);
    reads++;
  }
  if (last !== 0) throw new DeviceResetError(last, reads);

  steps.release();
  const renegotiated = await steps.reinitialize(features);
  const outcome = { recovered: true as const, status: seen };
  return { ...outcome, features: renegotiated };
}
