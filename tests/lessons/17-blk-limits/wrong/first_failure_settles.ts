// Mistake: the work rejects on the first backend failure, while other calls may
// still be writing into guest memory.
// Source: none
// Must fail: "the work settles only when the backend has" [5.2.6.2/9]

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type { ChainStreamParts, DescriptorChain } from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfig, BlockConfigReader } from "../../../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";
import type {
  BlockTransferLimits,
  MutableBufferSegment,
} from "../../../../devices/blk/transfer.ts";
import { hasFeature } from "../../../../virtio/features.ts";

export function blockConfigSpace(config: BlockConfig): Uint8Array {
  const bytes = new Uint8Array(72);
  const view = new DataView(bytes.buffer);
  if (config.capacity < 0n || config.capacity > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`capacity ${config.capacity} does not fit a le64`);
  }
  view.setBigUint64(0, config.capacity, true);
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
  await Promise.all(calls);
  if (!isRead && options.writeThrough) await backend.flush();
}

export function readBlockConfig(device: BlockConfigReader): BlockConfig {
  const f = device.features;
  const raw = device.readConfigConsistent(() => ({
    capacity: device.readConfig64(0),
    sizeMax: hasFeature(f, 1) ? device.readConfig(8, 4) : null,
    segMax: hasFeature(f, 2) ? device.readConfig(12, 4) : null,
    blkSize: hasFeature(f, 6) ? device.readConfig(20, 4) : null,
    unused0: device.readConfig(33, 1),
  }));
  if (raw.unused0 !== 0) {
    device.reporter.report("5.2.5.2/3", `unused0 reads ${raw.unused0}`, { value: raw.unused0 });
  }
  const b = raw.blkSize;
  if (b !== null && (b < 512 || b > 65536 || (b & (b - 1)) !== 0)) {
    throw new RangeError(`blk_size ${b} is not a power of two from 512 to 65536`);
  }
  return { capacity: raw.capacity, sizeMax: raw.sizeMax, segMax: raw.segMax, blkSize: b };
}

export function blockTransferLimits(
  config: BlockConfig,
  queueSize: number,
  maxTransferBytes: number,
): BlockTransferLimits {
  if (queueSize < 3) throw new RangeError(`a queue of ${queueSize} holds no request`);
  const segMax = Math.min(Math.max(config.segMax ?? 1, 1), queueSize - 2);
  const sizeMax = config.sizeMax ? config.sizeMax : 0xffff_ffff;
  const bytes = Math.min(segMax * sizeMax, maxTransferBytes);
  const maxRequestBytes = bytes - (bytes % 512);
  if (maxRequestBytes < 512) throw new RangeError("less than a sector per request");
  return { segMax, sizeMax, maxRequestBytes };
}

export function splitTransfer(
  limits: BlockTransferLimits,
  data: number,
  length: number,
  segments: MutableBufferSegment[],
): number {
  if (!(length > 0) || length % 512 !== 0) throw new RangeError(`bad length ${length}`);
  let take = Math.min(length, limits.maxRequestBytes, limits.segMax * limits.sizeMax);
  take -= take % 512;
  segments.length = 0;
  for (let at = 0; at < take; at += limits.sizeMax) {
    segments.push({ addr: data + at, len: Math.min(limits.sizeMax, take - at) });
  }
  return take;
}
