// Mistake: Each buffer is published on its own and only the last kickPrepare's answer
// kept; with event idx the one that asked for a notification is lost.
// Source: none
// Must fail: "after DRIVER_OK, every refill notifies when the queue asks" [2.7.10.1/2]

import type { DriverQueue } from "../../../../virtqueue/types.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function postReceiveBuffers(
  queue: DriverQueue<number>,
  buffers: readonly number[],
  size: number,
  driverOk: boolean,
): boolean {
  let kick = false;
  for (const addr of buffers) {
    queue.add([], [{ addr, len: size }], addr);
    kick = queue.kickPrepare();
  }
  return kick && driverOk;
}
