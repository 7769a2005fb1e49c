// Mistake: The used len is the size of the writable buffers, not what was written into them.
// Source: Linux 49d8c5ffad07 "vhost/vsock: fix incorrect used length reported to the guest" (the same slip in another device)
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
  write(memory, chain.writable, input.subarray(0, chain.writableLength), 0);
  return chain.writableLength;
}
