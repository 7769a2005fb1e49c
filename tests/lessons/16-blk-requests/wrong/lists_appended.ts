// Mistake: the caller's lists are appended to, never emptied: a reused chain keeps
// the buffers of the request before.
// Source: none
// Must fail: "reused lists hold this request only" [2.7.4.2/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import {
  type BlockDriverRequest,
  type BlockRequestChain,
  VIRTIO_BLK_S_UNSET,
} from "../../../../devices/blk/request.ts";

const OUT = 1;

export function buildBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  chain: BlockRequestChain = { readable: [], writable: [] },
): BlockRequestChain {
  const at = request.header.addr;
  memory.writeU32(at, request.type);
  memory.writeU32(at + 4, 0);
  memory.writeU64(at + 8, BigInt(request.sector));
  memory.writeU8(request.status.addr, VIRTIO_BLK_S_UNSET);
  chain.readable.push(request.header);
  if (request.type === OUT) chain.readable.push(...request.data);
  else chain.writable.push(...request.data);
  chain.writable.push(request.status);
  return chain;
}

// The parts this mistake leaves alone: the correct solution's.
export {
  completeBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
} from "../correct/straight_line.ts";
