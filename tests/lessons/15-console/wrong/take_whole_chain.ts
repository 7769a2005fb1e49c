// Mistake: The whole rest of the chain is copied at every call whatever dest holds, and
// its length returned: the device's memory per chain is what the driver claims.
// Source: none
// Must fail: "each take is at most dest's length, 0 once the chain is done" [2.7.4.1/1]

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
  if (dest.length === 0 || cursor.segment >= chain.readable.length) return 0;
  let start = cursor.offset;
  for (let i = 0; i < cursor.segment; i++) start += chain.readable[i].len;
  const all = new Uint8Array(chain.readableLength - start);
  const n = read(memory, chain.readable, all, start);
  dest.set(all.subarray(0, Math.min(n, dest.length)));
  cursor.segment = chain.readable.length;
  cursor.offset = 0;
  return n;
}
