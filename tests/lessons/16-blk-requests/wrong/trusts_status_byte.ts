// Mistake: the status byte is read whatever the used len says, so a device that
// returned the chain with len 0 is believed.
// Source: none
// Must fail: "a status the used len does not reach is not trusted" [2.7.8.3/1]

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
  const count = isData ? data / 512 : 0;
  const sector = BigInt(request.sector);
  const needed = request.type === OUT ? 1 : data + 1;
  if (usedLen < 0 && needed > 0) {
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
