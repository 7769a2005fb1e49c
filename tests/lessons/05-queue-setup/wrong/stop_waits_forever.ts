// Mistake: the stop waits for QueueReady to read 0 with no bound: a device that
// never stops hangs the driver.
// Source: none; the loop drivers write for a device that always answers.
// Must fail: "stopQueue waits until QueueReady reads 0, at most maxPolls reads" [4.2.2.2/11]

import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_SEL = 0x030;
const QUEUE_READY = 0x044;

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_SEL, index);
  window.write32(QUEUE_READY, 0);
  void maxPolls;
  while (window.read32(QUEUE_READY) !== 0) {
    // wait for the device
  }
}

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, writeQueueRegister } from "../correct/straight_line.ts";
