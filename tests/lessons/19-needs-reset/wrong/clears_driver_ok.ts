// Mistake: the device takes DRIVER_OK away when it breaks, as if it could go back to initialization.
// Source: none
// Must fail: "DEVICE_NEEDS_RESET is set and no other bit changes" [2.1.2/3]

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
export { recoverDevice, resetQueue } from "../correct/qemu_style.ts";

export function markNeedsReset(status: number): NeedsResetTransition {
  if (status & 0x40) return { status, notify: false };
  return { status: (status | 0x40) & ~0x04, notify: (status & 0x04) !== 0 };
}
