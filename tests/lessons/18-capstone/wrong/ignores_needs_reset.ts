// Mistake: Status is not read back after DRIVER_OK: a device answering DEVICE_NEEDS_RESET counts as live.
// Source: none
// Must fail: "after a failure nothing more is done, and the step's error is what it rejects with" [3.1.1/5]
import type { DeviceSetup, InitializationSteps } from "../../../../transport/driver_core.ts";
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
