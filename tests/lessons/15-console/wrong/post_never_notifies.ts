// Mistake: postReceiveBuffers never asks for a notification, on the reasoning that the
// driver notifies the receiveq once at DRIVER_OK; refills then go unannounced and a
// device holding input with no buffer left waits forever.
// Source: Firecracker PR #293 (deferred receive data not resumed after the guest refilled), here from the driver's side
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
  _driverOk: boolean,
): boolean {
  for (const addr of buffers) queue.add([], [{ addr, len: size }], addr);
  queue.kickPrepare();
  return false;
}
