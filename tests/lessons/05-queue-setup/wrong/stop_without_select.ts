// Mistake: the stop writes QueueReady without selecting the queue first: it stops
// whichever queue was selected last.
// Source: none.
// Must fail: "stopQueue writes 0 to QueueReady and reads it back" [4.2.2.2/11]

import { QueueStopError } from "../../../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_READY = 0x044;

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_READY, 0);
  let last = 0;
  for (let i = 0; i < maxPolls; i++) {
    last = window.read32(QUEUE_READY) >>> 0;
    if (last === 0) return;
  }
  throw new QueueStopError(index, maxPolls, last);
}

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, writeQueueRegister } from "../correct/straight_line.ts";
