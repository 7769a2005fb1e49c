// Mistake: the status is written right after the data, as if every writable byte
// were in one buffer: at the first writable buffer's address plus the data
// length.
// Source: none
// Must fail: "the status goes in the last writable byte" [5.2.6/D2]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { DescriptorChain } from "../../../../virtqueue/types.ts";

export function completeBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  status: number,
  filled: number,
): number {
  const dataEnd = chain.writableLength - 1;
  let pos = 0;
  let len = 0;
  let counting = true;
  for (const seg of chain.writable) {
    if (memory.contains(seg.addr, seg.len)) {
      for (let i = 0; i < seg.len; i++) {
        const at = pos + i;
        if (at >= filled && at < dataEnd) memory.writeU8(seg.addr + i, 0);
      }
      if (counting) len = pos + seg.len;
    } else {
      counting = false;
    }
    pos += seg.len;
  }
  const first = chain.writable[0];
  memory.writeU8(first.addr + dataEnd, status);
  return len;
}

// The parts this mistake leaves alone: the correct solution's.
export {
  buildBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "../correct/straight_line.ts";
