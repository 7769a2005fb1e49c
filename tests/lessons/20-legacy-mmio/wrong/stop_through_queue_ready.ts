// Mistake: the modern stop, QueueReady 0 and its read-back, on a legacy
// window, which has no QueueReady: the device refuses both accesses and
// keeps the queue.
// Source: none; 4.2.2.2/1 on the Version 1 register table.
// Must fail: "stopLegacyQueue writes 0 to QueuePFN and reads it back" [4.2.4/D6]

import { QueueStopError } from "../../../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

export function stopLegacyQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(0x030, index);
  window.write32(0x044, 0);
  for (let i = 0; i < maxPolls; i++) {
    if ((window.read32(0x044) >>> 0) === 0) return;
  }
  throw new QueueStopError(index, maxPolls, 1, "QueuePFN");
}

export {
  negotiateLegacyFeatures,
  nextLegacyDeviceStatus,
  probeTransitionalWindow,
  setupLegacyQueue,
  writeLegacyQueueRegister,
} from "../correct/straight_line.ts";
