// Correct: a different cut everywhere. The configuration written byte by
// byte, capacity read as two 32-bit halves, one backend call per sector with
// a settle counter, limits in BigInt, segments reused in place.

import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type {
  BufferSegment,
  ChainStreamParts,
  DescriptorChain,
} from "../../../../virtqueue/types.ts";
import { writeChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfig, BlockConfigReader } from "../../../../devices/blk/config.ts";
import type { BlockIoOptions } from "../../../../devices/blk/io.ts";
import type { BlockRequest } from "../../../../devices/blk/request.ts";
import type {
  BlockTransferLimits,
  MutableBufferSegment,
} from "../../../../devices/blk/transfer.ts";
import {
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
} from "../../../../devices/blk/constants.ts";

function le(bytes: Uint8Array, at: number, value: bigint, width: number): void {
  for (let i = 0; i < width; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

export function blockConfigSpace(config: BlockConfig): Uint8Array {
  const out = new Uint8Array(72);
  if (BigInt.asUintN(64, config.capacity) !== config.capacity) throw new RangeError("capacity");
  le(out, 0, config.capacity, 8);
  for (const [at, v] of [[8, config.sizeMax], [12, config.segMax], [20, config.blkSize]] as const) {
    if (v === null) continue;
    if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 32) throw new RangeError(`field ${v}`);
    le(out, at, BigInt(v), 4);
  }
  return out;
}

/** The byte ranges [offset in the stream, length] of each sector-sized piece of the data. */
function pieces(segs: readonly BufferSegment[], skip: number, length: number) {
  const out: { addr: number; len: number; at: number }[] = [];
  let pos = 0;
  for (const s of segs) {
    for (let i = 0; i < s.len; i++) {
      const at = pos + i - skip;
      if (at < 0 || at >= length) continue;
      const last = out[out.length - 1];
      if (last && last.addr + last.len === s.addr + i && last.len < 512 && at % 512 !== 0) {
        last.len++;
      } else out.push({ addr: s.addr + i, len: 1, at });
    }
    pos += s.len;
  }
  return out;
}

export function executeBlockRequest(
  backend: BlockBackend,
  memory: GuestMemory,
  chain: DescriptorChain,
  request: BlockRequest,
  options: BlockIoOptions,
  write: ChainStreamParts["writeChain"] = writeChain,
): Promise<void> {
  switch (request.op) {
    case "flush":
      return backend.flush();
    case "get-id":
      write(memory, chain.writable, options.id, 0);
      return Promise.resolve();
  }
  const isRead = request.op === "read";
  const list = pieces(isRead ? chain.writable : chain.readable, isRead ? 0 : 16, request.length);
  return new Promise<void>((resolve, reject) => {
    let left = list.length;
    let error: unknown = null;
    const one = () => {
      if (--left > 0) return;
      if (error !== null) reject(error);
      else if (!isRead && options.writeThrough) backend.flush().then(resolve, reject);
      else resolve();
    };
    if (left === 0) return resolve();
    for (const p of list) {
      const view = memory.bytes(p.addr, p.len);
      const at = request.offset + p.at;
      const op = isRead
        ? backend.read(at, view, options.signal)
        : backend.write(at, view, options.signal);
      op.then(one, (e) => {
        error ??= e;
        one();
      });
    }
  });
}

export function readBlockConfig(device: BlockConfigReader): BlockConfig {
  const has = (bit: number) => (device.features & (1n << BigInt(bit))) !== 0n;
  const got = device.readConfigConsistent(() => {
    const low = device.readConfig(0, 4);
    const high = device.readConfig(4, 4);
    return {
      capacity: (BigInt(high) << 32n) + BigInt(low),
      sizeMax: has(VIRTIO_BLK_F_SIZE_MAX) ? device.readConfig(8, 4) : null,
      segMax: has(VIRTIO_BLK_F_SEG_MAX) ? device.readConfig(12, 4) : null,
      blkSize: has(VIRTIO_BLK_F_BLK_SIZE) ? device.readConfig(20, 4) : null,
      pad: device.readConfig(33, 1),
    };
  });
  if (got.pad) device.reporter.report("5.2.5.2/3", "padding byte set");
  if (got.blkSize !== null && ![...Array(8)].some((_, i) => got.blkSize === 512 << i)) {
    throw new RangeError(`bad blk_size ${got.blkSize}`);
  }
  return { capacity: got.capacity, sizeMax: got.sizeMax, segMax: got.segMax, blkSize: got.blkSize };
}

export function blockTransferLimits(
  config: BlockConfig,
  queueSize: number,
  maxTransferBytes: number,
): BlockTransferLimits {
  if (queueSize < 3) throw new RangeError("queue too small");
  let segMax = config.segMax === null || config.segMax === 0 ? 1 : config.segMax;
  if (segMax > queueSize - 2) segMax = queueSize - 2;
  const sizeMax = config.sizeMax === null || config.sizeMax === 0 ? 2 ** 32 - 1 : config.sizeMax;
  let bytes = BigInt(segMax) * BigInt(sizeMax);
  if (bytes > BigInt(maxTransferBytes)) bytes = BigInt(maxTransferBytes);
  bytes -= bytes % 512n;
  if (bytes < 512n) throw new RangeError("no sector fits");
  return { segMax, sizeMax, maxRequestBytes: Number(bytes) };
}

export function splitTransfer(
  limits: BlockTransferLimits,
  data: number,
  length: number,
  segments: MutableBufferSegment[],
): number {
  if (!Number.isInteger(length) || length <= 0 || length % 512) throw new RangeError("length");
  const cap = Math.min(limits.maxRequestBytes, limits.segMax * limits.sizeMax);
  const total = Math.min(length, cap - (cap % 512));
  let n = 0;
  for (let at = 0; at < total; n++) {
    const len = Math.min(limits.sizeMax, total - at);
    if (segments[n]) {
      segments[n].addr = data + at;
      segments[n].len = len;
    } else segments[n] = { addr: data + at, len };
    at += len;
  }
  segments.length = n;
  return total;
}
