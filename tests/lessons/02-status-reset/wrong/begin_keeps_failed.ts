// Mistake: the reset is skipped when the device already holds bits, and
// initialization picks up where the last attempt stopped, FAILED and all.
// Source: none; "continue where we left off" is the shortcut 2.1.1/3 forbids.
// Must fail: "beginInitialization starts over after FAILED" [2.1.1/3]

import type { RegisterWindow } from "../../../../transport/types.ts";
import { addStatus, resetDevice } from "../correct/bit_arithmetic.ts";

export { addStatus, failDevice, nextDeviceStatus, resetDevice } from "../correct/bit_arithmetic.ts";

export function beginInitialization(window: RegisterWindow): void {
  const status = window.read32(0x070);
  if ((status & 0x03) === 0x03) return; // already acknowledged and driven
  if ((status & 0x80) === 0) resetDevice(window);
  addStatus(window, 0x01);
  addStatus(window, 0x02);
}
