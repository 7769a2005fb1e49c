// Mistake: The input is copied buffer by buffer with memory.write, around the queue's stream
// part, so a machine running the learner's writeChain never uses it for input.
// Source: none
// Must fail: "fillReceiveChain copies through the queue's stream part" [2.7.4.1/1]

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
  _write: ChainStreamParts["writeChain"],
): number {
  if (chain.readable.length > 0) {
    reporter.report("5.3.6.1/1", "readable buffer in the receiveq", {}, "refused");
    return -1;
  }
  let done = 0;
  for (const { addr, len } of chain.writable) {
    if (done === input.length) break;
    const n = Math.min(len, input.length - done);
    memory.write(addr, input.subarray(done, done + n));
    done += n;
  }
  return done;
}
