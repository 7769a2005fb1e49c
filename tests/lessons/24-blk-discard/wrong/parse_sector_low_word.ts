// Mistake: the segment's sector is read as its low 32 bits: a segment at 2^32 + 8 passes as sector
// 8.
// Source: none
// Must fail: "every segment lies inside the capacity, with no wrap" [5.2.6/D4]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { readChain } from "../../../../virtqueue/chain.ts";
import type { BlockRejection } from "../../../../devices/blk/request.ts";
import type { DiscardDisk, DiscardSegment } from "../../../../devices/blk/discard.ts";

export {
  buildDiscardRequest,
  executeDiscardRequest,
  layoutDiscardConfig,
  readDiscardConfig,
  splitDiscard,
} from "../correct/straight_line.ts";

export function parseDiscardRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  type: number,
  disk: DiscardDisk,
  reporter: ConformanceReporter,
  segments: DiscardSegment[],
  read: ChainStreamParts["readChain"] = readChain,
): number | BlockRejection {
  const discard = type === 11;
  const limits = discard ? disk.discard : type === 13 ? disk.writeZeroes : null;
  if (!limits) return { op: "reject", type, status: 2, id: null, violation: null, complete: true };
  const fail = (id: NonNullable<BlockRejection["id"]>, message: string): BlockRejection => ({
    op: "reject",
    type,
    status: 1,
    id,
    violation: reporter.report(id, message, { head: chain.head }, "IOERR"),
    complete: true,
  });
  if (chain.writableLength > 1) return fail("5.2.6/D3", "writable data");
  const data = chain.readableLength - 16;
  if (data <= 0 || data % 16 !== 0) return fail("5.2.6.1/6", `${data} bytes`);
  const count = data / 16;
  if (count > limits.maxSegments) {
    return fail(discard ? "5.2.6.1/8" : "5.2.6.1/10", `${count} segments`);
  }
  const one = new Uint8Array(16);
  const view = new DataView(one.buffer);
  for (let i = 0; i < count; i++) {
    read(memory, chain.readable, one, 16 + 16 * i);
    const low = view.getUint32(0, true);
    const sectors = view.getUint32(8, true);
    const flags = view.getUint32(12, true);
    if (discard && (flags & 1)) {
      const v = reporter.report("5.2.6.1/13", "unmap on a discard", { i }, "UNSUPP");
      return { op: "reject", type, status: 2, id: "5.2.6.1/13", violation: v, complete: true };
    }
    if (flags & ~1) {
      return { op: "reject", type, status: 2, id: "5.2.6.2/2", violation: null, complete: true };
    }
    const sector = low; // the sector as a 32-bit number
    if (sector + sectors > disk.capacity) return fail("5.2.6/D4", "past the capacity");
    if (sectors > limits.maxSectors) return fail("5.2.6/D5", `${sectors} sectors`);
    segments[i] = { sector, sectors, unmap: (flags & 1) === 1 };
  }
  return count;
}
