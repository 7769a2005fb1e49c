// Mistake: the device always sends the configuration change notification, even before DRIVER_OK.
// Source: none
// Must fail: "no notification before DRIVER_OK" [2.1.2/1]

import type { NeedsResetTransition } from "../../../../transport/device_status.ts";
export { recoverDevice, resetQueue } from "../correct/qemu_style.ts";

export function markNeedsReset(status: number): NeedsResetTransition {
  if (status & 0x40) return { status, notify: false };
  return { status: status | 0x40, notify: true };
}
