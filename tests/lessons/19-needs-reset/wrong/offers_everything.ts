// Mistake: the new bring-up offers every feature bit the driver could want, not the set negotiated before.
// Source: none
// Must fail: "the device is offered the same features again" [2.2.2/3]

import type { RecoveryOutcome, RecoverySteps } from "../../../../transport/driver_core.ts";
import { DeviceResetError } from "../../../../transport/driver_init.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";
export { markNeedsReset, resetQueue } from "../correct/qemu_style.ts";

export async function recoverDevice(
  window: RegisterWindow,
  _features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const status = window.read32(0x070);
  if ((status & 0xc0) === 0) return { recovered: false, status };
  window.write32(0x070, 0);
  let now = -1;
  let polls = 0;
  while (polls < maxPolls && now !== 0) {
    now = window.read32(0x070);
    polls++;
  }
  if (now !== 0) throw new DeviceResetError(now, polls);
  steps.release();
  const all = (1n << 64n) - 1n;
  return { recovered: true, status, features: await steps.reinitialize(all) };
}
