// Mistake: A receive chain's device-readable buffers are skipped silently and the writable
// ones filled, so a driver that posts readable buffers is never told.
// Source: none
// Must fail: "a receive chain with a device-readable buffer is refused" [5.3.6.1/1]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  takeTransmitChain,
  transmitChunks,
} from "../correct/loops.ts";

export function fillReceiveChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  input: Uint8Array,
  _reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"],
): number {
  return write(memory, chain.writable, input.subarray(0, chain.writableLength), 0);
}
