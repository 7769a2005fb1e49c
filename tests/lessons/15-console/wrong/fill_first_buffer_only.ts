// Mistake: The receive chain is filled into its first descriptor only; the rest of the
// chain is never written and the input past the first buffer waits.
// Source: Cloud Hypervisor PR #7802 (its virtio-console handled only the first descriptor of a chain; #7803).
// Must fail: "input fills the receive chain across every descriptor, in order" [2.7.4.1/1]

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
  const first = chain.writable[0];
  return write(memory, [first], input.subarray(0, Math.min(first.len, input.length)), 0);
}
