// Correct: a loop over registrations by index, the bring-up as a list of stages with a flag for
// how far it got, over other correct styles of the earlier lessons.
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
import {
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../../../../virtio/status.ts";

export * from "../../01-mmio-window/correct/table_driven.ts";
export * from "../../02-status-reset/correct/named_states.ts";
export * from "../../03-feature-negotiation/correct/word_loops.ts";
export * from "../../04-virtqueue-layout/correct/table_of_parts.ts";
export * from "../../05-queue-setup/correct/register_table.ts";
export * from "../../06-descriptor-chains/correct/index_list.ts";
export * from "../../07-available-ring/correct/table_of_distances.ts";
export * from "../../08-notifications/correct/window_test.ts";
export * from "../../09-device-pop/correct/copy_then_check.ts";
export * from "../../10-used-ring/correct/checks_table.ts";
export * from "../../11-interrupts/correct/tables_and_spec_loop.ts";
export * from "../../12-indirect-descriptors/correct/table_first.ts";
export * from "../../13-event-idx/correct/linux_style.ts";
export * from "../../14-config-space/correct/tables.ts";
export * from "../../15-console/correct/loops.ts";
export * from "../../16-blk-requests/correct/table.ts";
export * from "../../17-blk-limits/correct/straight_line.ts";
export {
  disableCallbacks,
  enableCallbacks,
  needsInterrupt,
} from "../../13-event-idx/correct/linux_style.ts";

export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  if (found.kind !== "device") {
    return { driver: null, reason: found.kind === "empty" ? "" : found.reason };
  }
  for (let i = 0; i < registrations.length; i++) {
    if (registrations[i].deviceId !== found.deviceId) continue;
    const driver = registrations[i].create();
    return driver.deviceId === found.deviceId
      ? { driver, reason: "" }
      : { driver: null, reason: "the registered driver is for another device type" };
  }
  return { driver: null, reason: `no driver registered for DeviceID ${found.deviceId}` };
}

export async function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  steps: InitializationSteps,
): Promise<bigint> {
  let features = 0n;
  const stages: (() => void | Promise<void>)[] = [
    () => steps.beginInitialization(window),
    () => void (features = steps.negotiateFeatures(window, device.supportedFeatures)),
    () => device.setup(features),
    () => {
      const before = window.read32(VIRTIO_MMIO_STATUS);
      window.write32(VIRTIO_MMIO_STATUS, before | VIRTIO_CONFIG_S_DRIVER_OK);
      const after = window.read32(VIRTIO_MMIO_STATUS);
      if ((after & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0) {
        throw new DeviceInitializationError("DEVICE_NEEDS_RESET after DRIVER_OK", after);
      }
    },
  ];
  for (const stage of stages) {
    try {
      await stage();
    } catch (error) {
      let failed = true;
      try {
        failed = (window.read32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FAILED) !== 0;
        if (!failed) steps.failDevice(window);
      } catch { /* the stage's error is the one to report */ }
      throw error;
    }
  }
  return features;
}
