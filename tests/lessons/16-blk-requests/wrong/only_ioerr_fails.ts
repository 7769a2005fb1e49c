// Mistake: only VIRTIO_BLK_S_IOERR fails a request: UNSUPP and undefined statuses
// pass as success.
// Source: none
// Must fail: "OK is success, any other status an error with that status" [5.2.6/D2]

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
  if (usedLen < needed) {
    return new BlockIoError(request.type, sector, count, -1, `used len ${usedLen} < ${needed}`);
  }
  const status = memory.readU8(request.status.addr);
  return status !== 1 ? null : new BlockIoError(request.type, sector, count, status);
}

// The parts this mistake leaves alone: the correct solution's.
export {
  buildBlockRequest,
  completeBlockRequest,
  parseBlockRequest,
} from "../correct/straight_line.ts";
