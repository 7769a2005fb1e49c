// Mistake: the segment's unmap is copied into the flags whatever the command, so a discard goes
// out with unmap set.
// Source: none
// Must fail: "unmap is never set on a discard" [5.2.6.1/13]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { BufferSegment } from "../../../../virtqueue/types.ts";
import type { DiscardDriverRequest } from "../../../../devices/blk/discard.ts";

export {
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
} from "../correct/straight_line.ts";

export function buildDiscardRequest(
  memory: GuestMemory,
  request: DiscardDriverRequest,
  chain: { readable: BufferSegment[]; writable: BufferSegment[] } = { readable: [], writable: [] },
): { readable: BufferSegment[]; writable: BufferSegment[] } {
  const { count, table } = request;
  if (!Number.isInteger(count) || count < 1 || count > request.segments.length) {
    throw new RangeError(`count ${count}`);
  }
  if (table.len < 16 * count) throw new RangeError(`table of ${table.len} bytes`);
  memory.writeU32(request.header.addr, request.type);
  memory.writeU32(request.header.addr + 4, 0);
  memory.writeU64(request.header.addr + 8, 0n);
  for (let i = 0; i < count; i++) {
    const s = request.segments[i];
    const at = table.addr + 16 * i;
    memory.writeU64(at, BigInt(s.sector));
    memory.writeU32(at + 8, s.sectors);
    memory.writeU32(at + 12, s.unmap ? 1 : 0);
  }
  memory.writeU8(request.status.addr, 0xff);
  const tableSegment = { addr: table.addr, len: 16 * count };
  chain.readable.length = 0;
  chain.writable.length = 0;
  chain.readable.push(request.header, tableSegment);
  chain.writable.push(request.status);
  return chain;
}
