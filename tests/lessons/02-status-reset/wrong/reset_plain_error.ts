// Mistake: a reset that never completes ends in a plain Error, not the
// DeviceResetError the contract names (with the last status and the number
// of reads), so callers cannot tell it from any other failure.
// Source: none.
// Must fail: "resetDevice gives up on a device that never finishes" [2.4.2/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  nextDeviceStatus,
} from "../correct/bit_arithmetic.ts";

export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(0x070, 0);
  for (let i = 0; i < maxPolls; i++) {
    if (window.read32(0x070) === 0) return;
  }
  throw new Error(`device reset timed out after ${maxPolls} polls`);
}
