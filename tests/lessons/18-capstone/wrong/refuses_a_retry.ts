// Mistake: A window that failed once is remembered and refused for good, without a reset.
// Source: none
// Must fail: "a retry after a failure starts with the reset" [2.1.1/3]
import {
  DeviceInitializationError,
  type DeviceSetup,
  type InitializationSteps,
} from "../../../../transport/driver_core.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { VIRTIO_MMIO_STATUS } from "../../../../transport/mmio_registers.ts";
import { addStatus } from "../../02-status-reset/correct/bit_arithmetic.ts";

export * from "../correct/switch_and_try.ts";

const gaveUp = new Set<RegisterWindow>();
const refuseIfFailedBefore = (window: RegisterWindow) => {
  if (gaveUp.has(window)) throw new Error("this device failed before: not trying again");
};

export async function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  steps: InitializationSteps,
): Promise<bigint> {
  refuseIfFailedBefore(window);
  try {
    steps.beginInitialization(window);
    const features = steps.negotiateFeatures(window, device.supportedFeatures);
    await device.setup(features);
    addStatus(window, 0x04);
    const status = window.read32(VIRTIO_MMIO_STATUS);
    if (status & 0x40) throw new DeviceInitializationError("needs reset", status);
    return features;
  } catch (error) {
    gaveUp.add(window);
    try {
      if (!(window.read32(VIRTIO_MMIO_STATUS) & 0x80)) steps.failDevice(window);
    } catch {
      // keep the first error
    }
    throw error;
  }
}
