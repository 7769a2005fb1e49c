// Mistake: A transmit chain is taken from its first descriptor only, so output split
// across descriptors loses everything after the first buffer.
// Source: Cloud Hypervisor PR #7802 (its virtio-console handled only the first descriptor of a chain; #7803).
// Must fail: "successive takes carry the whole transmit chain, every descriptor, in order" [2.7.4.1/1]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import type { TransmitCursor } from "../../../../devices/console/transmit.ts";

export {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  transmitChunks,
} from "../correct/loops.ts";

export function takeTransmitChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  cursor: TransmitCursor,
  dest: Uint8Array,
  reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"],
): number {
  if (chain.writable.length > 0) {
    if (cursor.segment === 0 && cursor.offset === 0) {
      reporter.report("5.3.6.1/2", "writable buffer in the transmitq", {}, "refused");
    }
    return -1;
  }
  const first = chain.readable[0];
  const n = Math.min(first.len - cursor.offset, dest.length);
  if (n <= 0) return 0;
  const got = read(memory, [first], dest.subarray(0, n), cursor.offset);
  cursor.offset += got;
  return got;
}
