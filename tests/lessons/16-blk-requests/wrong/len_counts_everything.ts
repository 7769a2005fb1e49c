// Mistake: the used len is always the chain's writable length, counting the bytes of
// a buffer outside RAM that were never written.
// Source: none
// Must fail: "the used len counts the bytes written" [2.7.8.2/2]

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
  const last = chain.writable[chain.writable.length - 1];
  memory.writeU8(last.addr + last.len - 1, status);
  void len;
  return chain.writableLength;
}

// The parts this mistake leaves alone: the correct solution's.
export {
  buildBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "../correct/straight_line.ts";
