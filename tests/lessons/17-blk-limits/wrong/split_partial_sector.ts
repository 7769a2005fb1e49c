// Mistake: the request is not rounded to whole sectors when size_max is not a
// multiple of 512.
// Source: none
// Must fail: "a request takes as much as the limits allow, in whole sectors" [5.2.6.1/5]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";
import type {
  BlockTransferLimits,
  MutableBufferSegment,
} from "../../../../devices/blk/transfer.ts";

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

export function splitTransfer(
  limits: BlockTransferLimits,
  data: number,
  length: number,
  segments: MutableBufferSegment[],
): number {
  if (!(length > 0) || length % 512 !== 0) throw new RangeError(`bad length ${length}`);
  const take = Math.min(length, limits.maxRequestBytes, limits.segMax * limits.sizeMax);
  segments.length = 0;
  for (let at = 0; at < take; at += limits.sizeMax) {
    segments.push({ addr: data + at, len: Math.min(limits.sizeMax, take - at) });
  }
  return take;
}

// The parts this mistake leaves alone: the correct solution's.
export {
  blockConfigSpace,
  blockTransferLimits,
  readBlockConfig,
} from "../correct/straight_line.ts";
