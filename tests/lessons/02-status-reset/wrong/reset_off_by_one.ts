// Mistake: the loop counts from 0 up to and including maxPolls, one read of
// Status more than allowed before giving up.
// Source: none; the classic <= for <.
// Must fail: "resetDevice gives up on a device that never finishes" [2.4.2/1]

import { DeviceResetError } from "../../../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  nextDeviceStatus,
} from "../correct/bit_arithmetic.ts";

export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(0x070, 0);
  let status = 0;
  for (let polls = 0; polls <= maxPolls; polls++) {
    status = window.read32(0x070);
    if (status === 0) return;
  }
  throw new DeviceResetError(status, maxPolls);
}
