// Mistake: the driver writes 0 to Status and releases at once, without reading Status back: the reset may not have finished.
// Source: rcore-os/virtio-drivers PR #69 ("Fix bugs with device and queue reset": block until 0 reads back)
// Must fail: "the queues are released only once the reset is seen complete" [2.6.1.1.2/1]

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
  steps.release();
  return { recovered: true, status, features: await steps.reinitialize(features) };
}
