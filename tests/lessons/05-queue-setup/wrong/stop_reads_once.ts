// Mistake: the stop reads QueueReady once and gives up if it is not 0 yet, where a
// device may take a few reads to let go of the queue.
// Source: none.
// Must fail: "stopQueue waits until QueueReady reads 0, at most maxPolls reads" [4.2.2.2/11]

import { QueueStopError } from "../../../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../../../transport/types.ts";

const QUEUE_SEL = 0x030;
const QUEUE_READY = 0x044;

export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  window.write32(QUEUE_SEL, index);
  window.write32(QUEUE_READY, 0);
  void maxPolls;
  const last = window.read32(QUEUE_READY) >>> 0;
  if (last !== 0) throw new QueueStopError(index, 1, last);
}

// The parts this mistake leaves alone: the correct solution's.
export { setupQueue, writeQueueRegister } from "../correct/straight_line.ts";
