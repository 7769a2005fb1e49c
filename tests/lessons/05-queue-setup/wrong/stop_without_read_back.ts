// Mistake: the stop writes 0 to QueueReady and returns at once: the device may
// still be using the queue when its areas are freed, and the register file
// reports the next reuse (4.2.2.2/11).
// Source: none; the read-back looks redundant on a device that stops at once.
// Must fail: "stopQueue writes 0 to QueueReady and reads it back" [4.2.2.2/11]

import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_SEL = 0x030;
const QUEUE_READY = 0x044;

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_SEL, index);
  window.write32(QUEUE_READY, 0);
  void maxPolls; // the device stops at once
}

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, writeQueueRegister } from "../correct/straight_line.ts";
