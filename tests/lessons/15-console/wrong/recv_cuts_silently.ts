// Mistake: A used len past the buffer is cut to it but not reported, so the device's broken
// promise leaves no trace in the log.
// Source: none
// Must fail: "a used len past the receive buffer is reported and cut to it" [2.7.8.2/2]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function receivedBytes(
  memory: GuestMemory,
  buffer: number,
  size: number,
  len: number,
  _reporter: ConformanceReporter,
): Uint8Array {
  return memory.bytes(buffer, Math.min(len, size)).slice();
}
