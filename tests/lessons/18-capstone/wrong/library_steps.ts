// Mistake: The transport steps imported from the library instead of called through `steps`.
// Source: none
// Must fail: "initializeDevice runs §3.1.1 in order, over the steps it is given" [3.1.1/1]
import {
  DeviceInitializationError,
  type DeviceSetup,
  type InitializationSteps,
} from "../../../../transport/driver_core.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
import { VIRTIO_MMIO_STATUS } from "../../../../transport/mmio_registers.ts";
import { addStatus } from "../../02-status-reset/correct/bit_arithmetic.ts";

export * from "../correct/switch_and_try.ts";
import {
  beginInitialization,
  failDevice,
  negotiateFeatures,
} from "../../../../transport/driver_init.ts";

export async function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  _steps: InitializationSteps,
): Promise<bigint> {
  try {
    beginInitialization(window);
    const features = negotiateFeatures(window, device.supportedFeatures);
    await device.setup(features);
    addStatus(window, 0x04);
    const status = window.read32(VIRTIO_MMIO_STATUS);
    if (status & 0x40) throw new DeviceInitializationError("needs reset", status);
    return features;
  } catch (error) {
    try {
      if (!(window.read32(VIRTIO_MMIO_STATUS) & 0x80)) failDevice(window);
    } catch {
      // keep the first error
    }
    throw error;
  }
}
