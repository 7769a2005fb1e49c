// Mistake: only DEVICE_NEEDS_RESET triggers recovery; a device the driver set FAILED is left as it is, never reset before a new attempt.
// Source: none
// Must fail: "the device is reset before it is initialized again" [2.1.1/3]

import type { RecoveryOutcome, RecoverySteps } from "../../../../transport/driver_core.ts";
import { DeviceResetError } from "../../../../transport/driver_init.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
export { markNeedsReset, resetQueue } from "../correct/qemu_style.ts";

export async function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const status = window.read32(0x070);
  if ((status & 0x40) === 0) return { recovered: false, status };
  window.write32(0x070, 0);
  let now = -1;
  let polls = 0;
  while (polls < maxPolls && now !== 0) {
    now = window.read32(0x070);
    polls++;
  }
  if (now !== 0) throw new DeviceResetError(now, polls);
  steps.release();
  return { recovered: true, status, features: await steps.reinitialize(features) };
}
