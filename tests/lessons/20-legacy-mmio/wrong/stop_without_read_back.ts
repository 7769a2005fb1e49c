// Mistake: 0 written to QueuePFN and the stop taken as done: the region may
// be freed while the device still writes it.
// Source: none; Linux's vm_del_vq does the same on legacy devices, which stop at once.
// Must fail: "stopLegacyQueue waits until QueuePFN reads 0, at most maxPolls reads" [4.2.4/D6]

import type { RegisterWindow } from "../../../../transport/types.ts";

export function stopLegacyQueue(window: RegisterWindow, index: number, _maxPolls = 1000): void {
  window.write32(0x030, index);
  window.write32(0x040, 0);
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
