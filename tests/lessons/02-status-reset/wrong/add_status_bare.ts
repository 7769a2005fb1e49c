// Mistake: addStatus writes the new bits alone instead of adding them to
// what Status holds, so every bit already set is cleared.
// Source: the reason Linux's virtio core has virtio_add_status(), a
// read-modify-write, and drivers never write the status register directly.
// Must fail: "addStatus reads Status, ORs the bits in and writes it back" [2.1.1/2]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  beginInitialization,
  failDevice,
  nextDeviceStatus,
  resetDevice,
} from "../correct/bit_arithmetic.ts";

export function addStatus(window: RegisterWindow, bits: number): number {
  window.write32(0x070, bits & 0xff);
  return bits & 0xff;
}
