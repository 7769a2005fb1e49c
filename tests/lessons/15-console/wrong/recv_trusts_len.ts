// Mistake: The used len is taken as the number of bytes in the buffer, so a device claiming
// more makes the driver copy memory past it.
// Source: Linux d00d8da5869a "virtio_console: Assure used length from device is limited" (CVE-2021-38160)
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
  _size: number,
  len: number,
  _reporter: ConformanceReporter,
): Uint8Array {
  return memory.bytes(buffer, len).slice();
}
