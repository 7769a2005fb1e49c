// Mistake: the old queues are released first, then the device is reset: until Status reads 0 the device may still write into the freed rings.
// Source: virtio-win/kvm-guest-drivers-windows PR #1493 (viostor completed pending requests without resetting the device first)
// Must fail: "the queues are released only once the reset is seen complete" [2.6.1.1.2/1]

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
  if ((status & 0xc0) === 0) return { recovered: false, status };
  steps.release();
  window.write32(0x070, 0);
  let now = -1;
  let polls = 0;
  while (polls < maxPolls && now !== 0) {
    now = window.read32(0x070);
    polls++;
  }
  if (now !== 0) throw new DeviceResetError(now, polls);
  return { recovered: true, status, features: await steps.reinitialize(features) };
}
