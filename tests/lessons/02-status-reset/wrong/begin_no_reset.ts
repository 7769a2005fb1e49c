// Mistake: initialization starts with ACKNOWLEDGE, without the reset of
// step 1, on the grounds that a freshly probed device reads 0 anyway.
// Source: none; the reset is easy to skip when every device in sight is fresh.
// Must fail: "beginInitialization: reset, then ACKNOWLEDGE, then DRIVER" [3.1.1/1]

import type { RegisterWindow } from "../../../../transport/types.ts";
import { addStatus } from "../correct/bit_arithmetic.ts";

export { addStatus, failDevice, nextDeviceStatus, resetDevice } from "../correct/bit_arithmetic.ts";

export function beginInitialization(window: RegisterWindow): void {
  if (window.read32(0x070) !== 0) window.write32(0x070, 0);
  addStatus(window, 0x01);
  addStatus(window, 0x02);
}
