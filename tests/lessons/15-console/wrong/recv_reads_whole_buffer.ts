// Mistake: The whole posted buffer is read and then cut to len, touching bytes the device
// never said it wrote.
// Source: none
// Must fail: "the received bytes are a copy of the first len, read no further" [2.7.8.3/1]

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
  reporter: ConformanceReporter,
): Uint8Array {
  const all = memory.bytes(buffer, size).slice();
  if (len > size) reporter.report("2.7.8.2/2", "used len past the buffer", { len, size }, "cut");
  return all.subarray(0, Math.min(len, size));
}
