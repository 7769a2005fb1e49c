// Mistake: FAILED is set on every failure, also when the negotiation step already set it.
// Source: none
// Must fail: "a failing step sets FAILED, once" [3.1.1/4]
import {
  DeviceInitializationError,
  type DeviceSetup,
  type InitializationSteps,
} from "../../../../transport/driver_core.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { VIRTIO_MMIO_STATUS } from "../../../../transport/mmio_registers.ts";
import { addStatus } from "../../02-status-reset/correct/bit_arithmetic.ts";

export * from "../correct/switch_and_try.ts";

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
    if (status & 0x40) throw new DeviceInitializationError("needs reset", status);
    return features;
  } catch (error) {
    try {
      steps.failDevice(window);
    } catch {
      // keep the first error
    }
    throw error;
  }
}
