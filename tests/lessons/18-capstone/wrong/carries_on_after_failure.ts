// Mistake: Each step in its own try: a failing step sets FAILED and the next one runs anyway.
// Source: seed: NetBSD virtio_mmio.c rev 1.14 (9 March 2024): cleanup after a failed attach ran setup_queue on queues that did not exist
// Must fail: "after a failure nothing more is done, and the step's error is what it rejects with" [3.1.1/5]
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
  let first: unknown = null;
  let features = 0n;
  const step = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (error) {
      first ??= error;
      if (!(window.read32(VIRTIO_MMIO_STATUS) & 0x80)) steps.failDevice(window);
    }
  };
  await step(() => steps.beginInitialization(window));
  await step(() => (features = steps.negotiateFeatures(window, device.supportedFeatures)));
  await step(() => device.setup(features));
  if (first === null) {
    addStatus(window, 0x04);
    const status = window.read32(VIRTIO_MMIO_STATUS);
    if (status & 0x40) throw new DeviceInitializationError("needs reset", status);
    return features;
  }
  throw first;
}
