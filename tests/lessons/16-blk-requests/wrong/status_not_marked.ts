// Mistake: the status byte is not marked before the request goes out: an old OK in it
// makes a device that never writes the status look successful.
// Source: none
// Must fail: "the status byte reads 0xff until the device writes it" [5.2.6/D2]

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
  void VIRTIO_BLK_S_UNSET;
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
