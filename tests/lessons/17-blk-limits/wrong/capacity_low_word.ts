// Mistake: capacity is laid out as a le32: a disk above 2^32 sectors shrinks.
// Source: none
// Must fail: "capacity is a le64 at offset 0" [5.2.6.1/1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfig } from "../../../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";

export function blockConfigSpace(config: BlockConfig): Uint8Array {
  const bytes = new Uint8Array(72);
  const view = new DataView(bytes.buffer);
  if (config.capacity < 0n || config.capacity > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`capacity ${config.capacity} does not fit a le64`);
  }
  view.setUint32(0, Number(config.capacity & 0xffff_ffffn), true);
  const put = (offset: number, v: number | null) => {
    if (v === null) return;
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${v} is no le32`);
    view.setUint32(offset, v, true);
  };
  put(8, config.sizeMax);
  put(12, config.segMax);
  put(20, config.blkSize);
  return bytes;
}

export async function executeBlockRequest(
  backend: BlockBackend,
  memory: GuestMemory,
  chain: DescriptorChain,
  request: BlockRequest,
  options: BlockIoOptions,
  write: ChainStreamParts["writeChain"] = writeChain,
): Promise<void> {
  if (request.op === "flush") return await backend.flush();
  if (request.op === "get-id") {
    write(memory, chain.writable, options.id, 0);
    return;
  }
  const isRead = request.op === "read";
  const buffers = isRead ? chain.writable : chain.readable;
  let skip = isRead ? 0 : 16;
  let done = 0;
  const calls: Promise<void>[] = [];
  for (const b of buffers) {
    if (done === request.length) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const n = Math.min(b.len - skip, request.length - done);
    const view = memory.bytes(b.addr + skip, n);
    const at = request.offset + done;
    calls.push(
      isRead ? backend.read(at, view, options.signal) : backend.write(at, view, options.signal),
    );
    skip = 0;
    done += n;
  }
  const results = await Promise.allSettled(calls);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (!isRead && options.writeThrough) await backend.flush();
}

// The parts this mistake leaves alone: the correct solution's.
export { blockTransferLimits, readBlockConfig, splitTransfer } from "../correct/straight_line.ts";
