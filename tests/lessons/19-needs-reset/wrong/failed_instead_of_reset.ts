// Mistake: the driver answers DEVICE_NEEDS_RESET by setting FAILED and initializing again: FAILED is no reset.
// Source: none
// Must fail: "the device is reset before it is initialized again" [2.1.1/3]

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
  window.write32(0x070, status | 0x80);
  steps.release();
  return { recovered: true, status, features: await steps.reinitialize(features) };
}
