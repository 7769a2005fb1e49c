// Mistake: the device sets FAILED (0x80) instead of DEVICE_NEEDS_RESET: FAILED is the driver's bit.
// Source: oxidecomputer/propolis PR #586 (the first draft set FAILED on an error; review: the device sets DEVICE_NEEDS_RESET)
// Must fail: "DEVICE_NEEDS_RESET is set and no other bit changes" [2.1.2/3]

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
export { recoverDevice, resetQueue } from "../correct/qemu_style.ts";

export function markNeedsReset(status: number): NeedsResetTransition {
  if (status & 0x80) return { status, notify: false };
  return { status: status | 0x80, notify: (status & 0x04) !== 0 };
}
