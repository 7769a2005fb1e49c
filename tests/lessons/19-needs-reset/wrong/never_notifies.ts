// Mistake: the device sets DEVICE_NEEDS_RESET and leaves the driver to poll Status for it.
// Source: none (Linux virtio drivers long ignored the bit; the device side must still notify)
// Must fail: "a live driver is told with a configuration change notification" [2.1.2/2]

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
export { recoverDevice, resetQueue } from "../correct/qemu_style.ts";

export function markNeedsReset(status: number): NeedsResetTransition {
  return { status: status | 0x40, notify: false };
}
