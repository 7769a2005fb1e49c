// Mistake: postTransmitBuffer publishes its chain itself with kickPrepare and drops the
// answer; the driver's own kickPrepare then finds nothing new and does not notify.
// Source: none
// Must fail: "each transmit piece is one device-readable chain, placed for the caller to publish" [5.3.6.1/2]

import type { DriverQueue } from "../../../../virtqueue/types.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function postTransmitBuffer<T>(
  queue: DriverQueue<T>,
  addr: number,
  len: number,
  token: T,
): void {
  queue.add([{ addr, len }], [], token);
  queue.kickPrepare();
}
