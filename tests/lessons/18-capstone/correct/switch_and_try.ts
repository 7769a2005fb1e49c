// Correct: a switch over the probe result and one try/catch around the steps, over the first
// correct solution of every earlier lesson (as a learner's workspace holds them).
import type { ProbeResult } from "../../../../transport/driver_init.ts";
import type { DriverRegistration } from "../../../../virtio/driver.ts";
import {
  DeviceInitializationError,
  type DeviceSetup,
  type DriverBinding,
  type InitializationSteps,
} from "../../../../transport/driver_core.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { VIRTIO_MMIO_STATUS } from "../../../../transport/mmio_registers.ts";
import { addStatus } from "../../02-status-reset/correct/bit_arithmetic.ts";

export * from "../../01-mmio-window/correct/read_then_decide.ts";
export * from "../../02-status-reset/correct/bit_arithmetic.ts";
export * from "../../03-feature-negotiation/correct/bigint_masks.ts";
export * from "../../04-virtqueue-layout/correct/formulas.ts";
export * from "../../05-queue-setup/correct/straight_line.ts";
export * from "../../06-descriptor-chains/correct/free_list_walk.ts";
export * from "../../07-available-ring/correct/linux_style.ts";
export * from "../../08-notifications/correct/linux_names.ts";
export * from "../../09-device-pop/correct/one_pass.ts";
export * from "../../10-used-ring/correct/straight_line.ts";
export * from "../../11-interrupts/correct/linux_style.ts";
export * from "../../12-indirect-descriptors/correct/one_pass.ts";
export * from "../../13-event-idx/correct/spelled_out.ts";
export * from "../../14-config-space/correct/linux_style.ts";
export * from "../../15-console/correct/freedoms.ts";
export * from "../../16-blk-requests/correct/straight_line.ts";
export * from "../../17-blk-limits/correct/per_sector.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
} from "../../13-event-idx/correct/spelled_out.ts";

export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  switch (found.kind) {
    case "empty":
      return { driver: null, reason: "" };
    case "rejected":
      return { driver: null, reason: found.reason };
    case "device": {
      const match = registrations.find((r) => r.deviceId === found.deviceId);
      if (!match) return { driver: null, reason: `nothing drives device type ${found.deviceId}` };
      const driver = match.create();
      if (driver.deviceId !== found.deviceId) {
        return { driver: null, reason: `${match.name} drives type ${driver.deviceId}` };
      }
      return { driver, reason: "" };
    }
  }
}

export async function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  steps: InitializationSteps,
): Promise<bigint> {
  try {
    steps.beginInitialization(window);
    const features = steps.negotiateFeatures(window, device.supportedFeatures);
    await device.setup(features);
    addStatus(window, 0x04);
    const status = window.read32(VIRTIO_MMIO_STATUS);
    if (status & 0x40) {
      throw new DeviceInitializationError("device needs a reset at DRIVER_OK", status);
    }
    return features;
  } catch (error) {
    try {
      if (!(window.read32(VIRTIO_MMIO_STATUS) & 0x80)) steps.failDevice(window);
    } catch {
      // keep the first error
    }
    throw error;
  }
}
