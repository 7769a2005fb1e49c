// Mistake: the request size is computed in 32 bits (>>> 0), the way a u32 would
// hold it: size_max near 2^32 wraps.
// Source: Linux fafb51a67fb8 "virtio-blk: fix implicit overflow on virtio_max_dma_size"
// Must fail: "a request's size is seg_max × size_max, in whole sectors, with no wrap" [5.2.3/D1]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfig } from "../../../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";
import type { BlockTransferLimits } from "../../../../devices/blk/transfer.ts";

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

export function blockTransferLimits(
  config: BlockConfig,
  queueSize: number,
  maxTransferBytes: number,
): BlockTransferLimits {
  if (queueSize < 3) throw new RangeError(`a queue of ${queueSize} holds no request`);
  const segMax = Math.min(Math.max(config.segMax ?? 1, 1), queueSize - 2);
  const sizeMax = config.sizeMax ? config.sizeMax : 0xffff_ffff;
  const bytes = Math.min((segMax * sizeMax) >>> 0, maxTransferBytes);
  const maxRequestBytes = bytes - (bytes % 512);
  if (maxRequestBytes < 0) throw new RangeError("less than a sector per request");
  return { segMax, sizeMax, maxRequestBytes };
}

// The parts this mistake leaves alone: the correct solution's.
export { blockConfigSpace, readBlockConfig, splitTransfer } from "../correct/straight_line.ts";
