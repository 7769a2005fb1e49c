// Correct: a different cut everywhere. Fields written and read byte by byte,
// every sector sum in BigInt, one segment read through the stream at a time,
// the backend calls chained with reduce, the split in whole-range steps with the
// segments reused in place, the request laid out through memory.bytes views.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type {
  BufferSegment,
  ChainStreamParts,
  DescriptorChain,
} from "../../../../virtqueue/types.ts";
import { readChain } from "../../../../virtqueue/chain.ts";
import type { BlockBackend } from "../../../../devices/blk/backends.ts";
import type { BlockConfigReader } from "../../../../devices/blk/config.ts";
import type { BlockRejection } from "../../../../devices/blk/request.ts";
import type {
  BlockDiscardConfig,
  DiscardCursor,
  DiscardDisk,
  DiscardDriverRequest,
  DiscardIoOptions,
  DiscardRange,
  DiscardSegment,
  DiscardSplitLimits,
} from "../../../../devices/blk/discard.ts";
import {
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from "../../../../devices/blk/constants.ts";

function put(bytes: Uint8Array, at: number, value: bigint, width: number): void {
  for (let i = 0; i < width; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

function get(bytes: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

function field(value: number, allowZero: boolean): bigint {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1) || value >= 2 ** 32) {
    throw new RangeError(`Limit ${value} does not fit`);
  }
  return BigInt(value);
}

export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  if (bytes.length !== 72) throw new RangeError("not 72 bytes");
  // Check everything first, then write.
  const writes: [number, bigint, number][] = [];
  if (config.discard) {
    writes.push([36, field(config.discard.maxSectors, false), 4]);
    writes.push([40, field(config.discard.maxSegments, false), 4]);
    writes.push([44, field(config.discard.alignment, true), 4]);
  }
  if (config.writeZeroes) {
    writes.push([48, field(config.writeZeroes.maxSectors, false), 4]);
    writes.push([52, field(config.writeZeroes.maxSegments, false), 4]);
    writes.push([56, config.writeZeroes.mayUnmap ? 1n : 0n, 1]);
  }
  for (const [at, v, w] of writes) put(bytes, at, v, w);
}

export function parseDiscardRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  type: number,
  disk: DiscardDisk,
  reporter: ConformanceReporter,
  segments: DiscardSegment[],
  read: ChainStreamParts["readChain"] = readChain,
): number | BlockRejection {
  const out = (status: number, id: BlockRejection["id"], message?: string): BlockRejection => ({
    op: "reject",
    type,
    status,
    id,
    violation: message === undefined || id === null
      ? null
      : reporter.report(id, message, { type }, "completed"),
    complete: true,
  });
  const limits = type === VIRTIO_BLK_T_DISCARD
    ? disk.discard
    : type === VIRTIO_BLK_T_WRITE_ZEROES
    ? disk.writeZeroes
    : null;
  if (limits === null) return out(VIRTIO_BLK_S_UNSUPP, null);
  const extraWritable = chain.writable.reduce((n, b) => n + b.len, 0) - 1;
  if (extraWritable > 0) {
    return out(VIRTIO_BLK_S_IOERR, "5.2.6/D3", `${extraWritable} writable byte(s)`);
  }
  const dataBytes = chain.readable.reduce((n, b) => n + b.len, 0) - 16;
  if (dataBytes <= 0 || dataBytes % 16) {
    return out(VIRTIO_BLK_S_IOERR, "5.2.6.1/6", `${dataBytes} bytes of segments`);
  }
  const n = dataBytes / 16;
  if (n > limits.maxSegments) {
    const id = type === VIRTIO_BLK_T_DISCARD ? "5.2.6.1/8" : "5.2.6.1/10";
    return out(VIRTIO_BLK_S_IOERR, id, `${n} > ${limits.maxSegments} segments`);
  }
  const one = new Uint8Array(16);
  const found: DiscardSegment[] = [];
  for (let i = 0; i < n; i++) {
    read(memory, chain.readable, one, 16 + 16 * i);
    const sector = get(one, 0, 8);
    const sectors = get(one, 8, 4);
    const flags = get(one, 12, 4);
    if (type === VIRTIO_BLK_T_DISCARD && (flags & 1n) === 1n) {
      return out(VIRTIO_BLK_S_UNSUPP, "5.2.6.1/13", "unmap on a discard");
    }
    if ((flags & ~1n) !== 0n) return out(VIRTIO_BLK_S_UNSUPP, "5.2.6.2/2");
    if (sector + sectors > BigInt(disk.capacity)) {
      return out(VIRTIO_BLK_S_IOERR, "5.2.6/D4", `segment ${i} past the capacity`);
    }
    if (sectors > BigInt(limits.maxSectors)) {
      return out(VIRTIO_BLK_S_IOERR, "5.2.6/D5", `segment ${i} too long`);
    }
    found.push({ sector: Number(sector), sectors: Number(sectors), unmap: flags === 1n });
  }
  found.forEach((s, i) => {
    if (segments[i]) Object.assign(segments[i], s);
    else segments[i] = s;
  });
  return n;
}

export function executeDiscardRequest(
  backend: BlockBackend,
  type: number,
  segments: readonly DiscardSegment[],
  count: number,
  options: DiscardIoOptions,
): Promise<number> {
  return segments.slice(0, count).filter((s) => s.sectors > 0).reduce(
    (total, s) =>
      total.then(async (sum) => {
        const freed = type === VIRTIO_BLK_T_DISCARD
          ? await backend.discard!(s.sector * 512, s.sectors * 512, options.signal)
          : await backend.writeZeroes!(s.sector * 512, s.sectors * 512, s.unmap, options.signal);
        return freed ? sum + s.sectors : sum;
      }),
    Promise.resolve(0),
  );
}

export function readDiscardConfig(device: BlockConfigReader): BlockDiscardConfig {
  const has = (bit: number) => ((device.features >> BigInt(bit)) & 1n) === 1n;
  const raw = device.readConfigConsistent(() => {
    const values = new Map<number, number>();
    if (has(VIRTIO_BLK_F_DISCARD)) {
      for (const o of [36, 40, 44]) values.set(o, device.readConfig(o, 4));
    }
    if (has(VIRTIO_BLK_F_WRITE_ZEROES)) {
      for (const o of [48, 52]) values.set(o, device.readConfig(o, 4));
      values.set(56, device.readConfig(56, 1));
    }
    return values;
  });
  const usable = (sectors: number, segs: number, what: string) => {
    if (sectors > 0 && segs > 0) return true;
    device.reporter.report("5.2.4/D1", `${what}: limits ${sectors}/${segs}`, {
      sectors,
      segs,
    }, "ignored");
    return false;
  };
  return {
    discard: raw.has(36) && usable(raw.get(36)!, raw.get(40)!, "discard")
      ? { maxSectors: raw.get(36)!, maxSegments: raw.get(40)!, alignment: raw.get(44)! }
      : null,
    writeZeroes: raw.has(48) && usable(raw.get(48)!, raw.get(52)!, "write zeroes")
      ? { maxSectors: raw.get(48)!, maxSegments: raw.get(52)!, mayUnmap: raw.get(56)! !== 0 }
      : null,
  };
}

export function splitDiscard(
  limits: DiscardSplitLimits,
  ranges: readonly DiscardRange[],
  cursor: DiscardCursor,
  segments: DiscardSegment[],
  unmap: boolean,
): number {
  let used = 0;
  let sectors = 0;
  const align = Math.max(1, limits.alignment);
  for (; cursor.range < ranges.length; cursor.range++, cursor.done = 0) {
    const r = ranges[cursor.range];
    if (r.count - cursor.done <= 0) continue;
    if (used === limits.maxSegments || sectors === limits.maxSectors) break;
    const start = r.sector + cursor.done;
    const room = limits.maxSectors - sectors;
    let piece = r.count - cursor.done;
    const cut = piece > room;
    if (cut) {
      piece = room;
      const over = (start + piece) % align;
      if (piece - over > 0) piece -= over;
    }
    if (used < segments.length) {
      segments[used].sector = start;
      segments[used].sectors = piece;
      segments[used].unmap = unmap;
    } else {
      segments.push({ sector: start, sectors: piece, unmap });
    }
    used++;
    sectors += piece;
    if (cut) {
      cursor.done += piece;
      break;
    }
  }
  segments.length = used;
  return used;
}

export function buildDiscardRequest(
  memory: GuestMemory,
  request: DiscardDriverRequest,
  chain: { readable: BufferSegment[]; writable: BufferSegment[] } = { readable: [], writable: [] },
): { readable: BufferSegment[]; writable: BufferSegment[] } {
  const n = request.count;
  if (!(Number.isInteger(n) && n >= 1 && n <= request.segments.length)) {
    throw new RangeError(`${n} segments`);
  }
  if (request.table.len < 16 * n) throw new RangeError("table too short");
  const header = memory.bytes(request.header.addr, 16);
  header.fill(0);
  put(header, 0, BigInt(request.type), 4);
  const table = memory.bytes(request.table.addr, 16 * n);
  request.segments.slice(0, n).forEach((s, i) => {
    put(table, 16 * i, BigInt(s.sector), 8);
    put(table, 16 * i + 8, BigInt(s.sectors), 4);
    put(table, 16 * i + 12, request.type === VIRTIO_BLK_T_WRITE_ZEROES && s.unmap ? 1n : 0n, 4);
  });
  memory.bytes(request.status.addr, 1)[0] = 0xff;
  chain.readable.length = 0;
  chain.writable.length = 0;
  chain.readable.push(request.header, { addr: request.table.addr, len: 16 * n });
  chain.writable.push(request.status);
  return chain;
}
