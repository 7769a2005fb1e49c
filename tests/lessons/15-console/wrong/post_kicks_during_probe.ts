// Mistake: The receive buffers posted during probe are announced at once, before the
// driver has set DRIVER_OK.
// Source: NetBSD PR kern/58555, viocon.c rev 1.10 (2024-08-05): the receive queue filled and kicked before attach had finished
// Must fail: "no notification before DRIVER_OK" [3.1.1/6]

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
  _driverOk: boolean,
): boolean {
  if (buffers.length === 0) return false;
  for (const addr of buffers) queue.add([], [{ addr, len: size }], addr);
  return queue.kickPrepare();
}
