// Mistake: the poll loop runs from 0 to maxPolls inclusive: one read more than
// allowed before it gives up.
// Source: none; <= for <.
// Must fail: "stopQueue waits until QueueReady reads 0, at most maxPolls reads" [4.2.2.2/11]

import { QueueStopError } from "../../../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_SEL = 0x030;
const QUEUE_READY = 0x044;

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_SEL, index);
  window.write32(QUEUE_READY, 0);
  let last = 0;
  for (let i = 0; i <= maxPolls; i++) {
    last = window.read32(QUEUE_READY) >>> 0;
    if (last === 0) return;
  }
  throw new QueueStopError(index, maxPolls, last);
}

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, writeQueueRegister } from "../correct/straight_line.ts";
