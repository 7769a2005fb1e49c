// Mistake: the reset is waited for in a loop without a bound: a device that never finishes its reset hangs the driver.
// Source: none
// Must fail: "a reset that never completes ends in DeviceResetError, nothing released" [2.4.2/1]

import type { RecoveryOutcome, RecoverySteps } from "../../../../transport/driver_core.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
export { markNeedsReset, resetQueue } from "../correct/qemu_style.ts";

export async function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  _maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const status = window.read32(0x070);
  if ((status & 0xc0) === 0) return { recovered: false, status };
  window.write32(0x070, 0);
  while (window.read32(0x070) !== 0) {
    // wait for the device
  }
  steps.release();
  return { recovered: true, status, features: await steps.reinitialize(features) };
}
