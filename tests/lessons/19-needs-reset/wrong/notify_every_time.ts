// Mistake: the device notifies every time it breaks, not only when DEVICE_NEEDS_RESET is newly set.
// Source: none
// Must fail: "asking again changes nothing and notifies nothing" [2.1.2/2]

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
export { recoverDevice, resetQueue } from "../correct/qemu_style.ts";

export function markNeedsReset(status: number): NeedsResetTransition {
  return { status: status | 0x40, notify: (status & 0x04) !== 0 };
}
