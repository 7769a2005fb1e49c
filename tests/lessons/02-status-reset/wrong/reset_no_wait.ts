// Mistake: the reset is a write of 0 and nothing more: the driver goes on
// without reading Status back, while the device may still be resetting.
// Source: none in virtio-mmio drivers we know of; for PCI the spec makes the
// wait a MUST (§4.1.4.3.2), and Linux's virtio-pci waits in a loop.
// Must fail: "resetDevice writes 0, then waits until Status reads 0" [2.4.2/1]

import type { RegisterWindow } from "../../../../transport/types.ts";

export {
  addStatus,
  beginInitialization,
  failDevice,
  nextDeviceStatus,
} from "../correct/bit_arithmetic.ts";

export function resetDevice(window: RegisterWindow, _maxPolls = 1000): void {
  window.write32(0x070, 0);
}
