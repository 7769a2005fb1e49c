// Mistake: Each receive buffer's token is its index in the list, so the driver cannot tell
// which buffer the device filled.
// Source: none
// Must fail: "each receive buffer is one device-writable chain, its address the token" [5.3.6.1/1]

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
  if (buffers.length === 0) return false;
  buffers.forEach((addr, i) => queue.add([], [{ addr, len: size }], i));
  return queue.kickPrepare() && driverOk;
}
