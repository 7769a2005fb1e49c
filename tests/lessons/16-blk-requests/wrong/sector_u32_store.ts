// Mistake: the sector is stored as a le32: the high word of a sector above 2^32 is
// lost, and whatever was in the header buffer's last four bytes stays.
// Source: Linux fafb51a67fb8 (the same class: a 64-bit quantity squeezed into 32 bits)
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
  memory.writeU32(at + 4, 0);
  memory.writeU32(at + 8, Number(BigInt.asUintN(32, BigInt(request.sector))));
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
