// Mistake: The transmit buffer is added as device-writable: the direction of the output
// backwards.
// Source: NetBSD viocon.c rev 1.4 (2022-08-13): transmit DMA synced POSTREAD instead of POSTWRITE
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
  queue.add([], [{ addr, len }], token);
}
