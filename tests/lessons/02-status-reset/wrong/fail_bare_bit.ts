// Mistake: failDevice writes FAILED alone, which clears every bit the driver
// had set: the device logs the clearing write (2.1.1/2) and the record of how
// far initialization got is lost.
// Source: none; the same slip as writing any status bit directly.
// Must fail: "failDevice sets FAILED and keeps the other bits" [2.1.1/2]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  addStatus,
  beginInitialization,
  nextDeviceStatus,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

export function failDevice(window: RegisterWindow): void {
  window.write32(0x070, 0x80);
}
