// Mistake: Receive buffers are added as device-readable: the argument order of queue.add
// (readable first) mixed up.
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
  for (const addr of buffers) queue.add([{ addr, len: size }], [], addr);
  return queue.kickPrepare() && driverOk;
}
