// Mistake: The cursor moves only when a whole buffer has been taken, so a chunk that ends
// inside a buffer is taken again from the buffer's start.
// Source: none
// Must fail: "the cursor moves past exactly the bytes taken" [2.7.4.1/1]

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
  let start = 0;
  for (let i = 0; i < cursor.segment; i++) start += chain.readable[i].len;
  const n = Math.min(dest.length, chain.readableLength - start);
  if (n <= 0) return 0;
  const got = read(memory, chain.readable, dest.subarray(0, n), start);
  let left = got;
  while (cursor.segment < chain.readable.length && left >= chain.readable[cursor.segment].len) {
    left -= chain.readable[cursor.segment].len;
    cursor.segment++;
  }
  return got;
}
