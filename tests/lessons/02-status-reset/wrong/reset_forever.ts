// Mistake: the wait for the reset has no bound, so a device that never
// finishes its reset hangs the boot.
// Source: none; `while (status !== 0)` is the obvious loop.
// Must fail: "resetDevice gives up on a device that never finishes" [2.4.2/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  nextDeviceStatus,
} from "../correct/bit_arithmetic.ts";

export function resetDevice(window: RegisterWindow, _maxPolls = 1000): void {
  window.write32(0x070, 0);
  while (window.read32(0x070) !== 0) {
    // the device is still resetting
  }
}
