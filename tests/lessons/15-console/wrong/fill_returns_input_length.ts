// Mistake: The used len is the length of the input, even when the chain held less of it:
// the driver is told about bytes that were never written.
// Source: none
// Must fail: "fillReceiveChain returns the bytes it wrote: the used len" [2.7.8.2/2]

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
  reporter: ConformanceReporter,
  write: ChainStreamParts["writeChain"],
): number {
  if (chain.readable.length > 0) {
    reporter.report("5.3.6.1/1", "readable buffer in the receiveq", {}, "refused");
    return -1;
  }
  write(memory, chain.writable, input, 0);
  return input.length;
}
