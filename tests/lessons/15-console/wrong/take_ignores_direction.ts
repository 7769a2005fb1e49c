// Mistake: Device-writable buffers in a transmit chain are skipped and the readable ones
// sent, so the driver's wrong direction is never reported.
// Source: NetBSD viocon.c rev 1.4 (2022-08-13): transmit buffers synced in the wrong DMA direction, which a device that checks shows at once
// Must fail: "a transmit chain with a device-writable buffer is refused" [5.3.6.1/2]

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
  _reporter: ConformanceReporter,
  read: ChainStreamParts["readChain"],
): number {
  let start = cursor.offset;
  for (let i = 0; i < cursor.segment; i++) start += chain.readable[i].len;
  const n = Math.min(dest.length, chain.readableLength - start);
  if (n <= 0) return 0;
  const got = read(memory, chain.readable, dest.subarray(0, n), start);
  let left = got;
  while (left > 0) {
    const room = chain.readable[cursor.segment].len - cursor.offset;
    if (left < room) {
      cursor.offset += left;
      break;
    }
    left -= room;
    cursor.segment++;
    cursor.offset = 0;
  }
  return got;
}
