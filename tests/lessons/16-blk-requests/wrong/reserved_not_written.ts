// Mistake: the reserved field is left as it was: a header buffer reused from an old
// request keeps its bytes there.
// Source: none
// Must fail: "the header is laid out byte-exact" [5.2.6/D1]

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
  memory.writeU64(at + 8, BigInt(request.sector));
  memory.writeU8(request.status.addr, VIRTIO_BLK_S_UNSET);
  chain.readable.length = 0;
  chain.writable.length = 0;
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
