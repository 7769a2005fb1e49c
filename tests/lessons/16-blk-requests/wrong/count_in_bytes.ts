// Mistake: the error's count is the data length in bytes, not in sectors.
// Source: none
// Must fail: "the error names the request: type, sector, sectors" [5.2.6/D1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import { type BlockDriverRequest, BlockIoError } from "../../../../devices/blk/request.ts";

const IN = 0;
const OUT = 1;

export function finishBlockRequest(
  memory: GuestMemory,
  request: BlockDriverRequest,
  usedLen: number,
): BlockIoError | null {
  const data = request.data.reduce((n, s) => n + s.len, 0);
  const isData = request.type === IN || request.type === OUT;
  const count = isData ? data : 0;
  const sector = BigInt(request.sector);
  const needed = request.type === OUT ? 1 : data + 1;
  if (usedLen < needed) {
    return new BlockIoError(request.type, sector, count, -1, `used len ${usedLen} < ${needed}`);
  }
  const status = memory.readU8(request.status.addr);
  return status === 0 ? null : new BlockIoError(request.type, sector, count, status);
}

// The parts this mistake leaves alone: the correct solution's.
export {
  buildBlockRequest,
  completeBlockRequest,
  parseBlockRequest,
} from "../correct/straight_line.ts";
