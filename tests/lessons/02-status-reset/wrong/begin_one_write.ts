// Mistake: ACKNOWLEDGE and DRIVER set in one write of 0x03, so the device
// never sees the "I have noticed you" step on its own.
// Source: none; the two bits look like one step.
// Must fail: "beginInitialization: reset, then ACKNOWLEDGE, then DRIVER" [3.1.1/1]

import type { RegisterWindow } from "../../../../transport/types.ts";
import { addStatus, resetDevice } from "../correct/bit_arithmetic.ts";

export { addStatus, failDevice, nextDeviceStatus, resetDevice } from "../correct/bit_arithmetic.ts";

export function beginInitialization(window: RegisterWindow): void {
  resetDevice(window);
  addStatus(window, 0x01 | 0x02);
}
