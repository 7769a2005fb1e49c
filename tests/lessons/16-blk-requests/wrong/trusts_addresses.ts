// Mistake: buffer addresses are trusted: the queue validated the chain, so the parser
// never checks them against guest RAM.
// Source: Firecracker PR #1982 (virtio-blk unwrapped unvalidated data and status descriptor addresses)
// Must fail: "a buffer outside guest RAM is refused, never dereferenced" [2.7.5/D2]

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { readChain } from "../../../../virtqueue/chain.ts";
import type { RequirementId } from "../../../../conformance/requirements.ts";
import type { BlockDisk, BlockRejection, BlockRequest } from "../../../../devices/blk/request.ts";

const IN = 0;
const OUT = 1;
const FLUSH = 4;
const GET_ID = 8;
const IOERR = 1;
const UNSUPP = 2;

function reject(
  reporter: ConformanceReporter,
  type: number,
  id: RequirementId,
  message: string,
  complete = true,
): BlockRejection {
  const violation = reporter.report(id, message, { type }, "completed with IOERR");
  return { op: "reject", type, status: IOERR, id, violation, complete };
}

export function parseBlockRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  disk: BlockDisk,
  reporter: ConformanceReporter,
  _request?: BlockRequest,
  read: ChainStreamParts["readChain"] = readChain,
): BlockRequest | BlockRejection {
  if (chain.writableLength === 0) {
    return reject(reporter, -1, "5.2.6/D2", "no status byte", false);
  }
  const status = chain.writable[chain.writable.length - 1];
  void status;
  if (chain.readableLength < 16) {
    return reject(reporter, -1, "5.2.6/D1", "header too short");
  }
  const header = new Uint8Array(16);
  read(memory, chain.readable, header, 0);
  const view = new DataView(header.buffer);
  const type = view.getUint32(0, true);
  const sector = view.getBigUint64(8, true);
  const readData = chain.readableLength - 16;
  const writeData = chain.writableLength - 1;
  let warnings = 0;

  if (type === IN || type === OUT) {
    const wrongWay = type === IN ? readData : writeData;
    if (wrongWay > 0) return reject(reporter, type, "5.2.6/D3", "data in the wrong direction");
    const length = type === IN ? writeData : readData;
    if (length % 512 !== 0) return reject(reporter, type, "5.2.6.1/5", "partial sector");
    if (sector + BigInt(length / 512) > BigInt(disk.capacity)) {
      return reject(reporter, type, "5.2.6.1/1", "past the capacity");
    }
    if (type === OUT && disk.readOnly) {
      return {
        op: "reject",
        type,
        status: IOERR,
        id: "5.2.6.2/1",
        violation: null,
        complete: true,
      };
    }
    const segMax = disk.segMax ?? null;
    const sizeMax = disk.sizeMax ?? null;
    if (segMax !== null || sizeMax !== null) {
      // Data bytes per buffer: skip the header (OUT), stop before the status (IN).
      const buffers = type === IN ? chain.writable : chain.readable;
      let pos = 0;
      const start = type === IN ? 0 : 16;
      const end = start + length;
      let count = 0;
      let largest = 0;
      for (const seg of buffers) {
        const share = Math.min(pos + seg.len, end) - Math.max(pos, start);
        if (share > 0) {
          count++;
          largest = Math.max(largest, share);
        }
        pos += seg.len;
      }
      if ((segMax !== null && count > segMax) || (sizeMax !== null && largest > sizeMax)) {
        reporter.report("5.2.3/D1", "too many or too large data segments", { count, largest });
        warnings++;
      }
    }
    return {
      op: type === IN ? "read" : "write",
      type,
      sector: Number(sector),
      offset: Number(sector) * 512,
      length,
      warnings,
    };
  }
  if (type === FLUSH) {
    if (sector !== 0n) {
      reporter.report("5.2.6.1/3", "flush with a sector", { sector });
      warnings++;
    }
    if (readData + writeData > 0) {
      reporter.report("5.2.6.1/4", "flush with data", { readData, writeData });
      warnings++;
    }
    return { op: "flush", type, sector: Number(sector), offset: 0, length: 0, warnings };
  }
  if (type === GET_ID) {
    if (readData > 0) return reject(reporter, type, "5.2.6/D3", "readable GET_ID data");
    if (writeData < 20) return reject(reporter, type, "5.2.6.1/7", "GET_ID buffer too short");
    if (writeData > 20) {
      reporter.report("5.2.6.1/7", "GET_ID buffer longer than 20", { writeData });
      warnings++;
    }
    return { op: "get-id", type, sector: Number(sector), offset: 0, length: 20, warnings };
  }
  return { op: "reject", type, status: UNSUPP, id: null, violation: null, complete: true };
}

// The parts this mistake leaves alone: the correct solution's.
export {
  buildBlockRequest,
  completeBlockRequest,
  finishBlockRequest,
} from "../correct/straight_line.ts";
