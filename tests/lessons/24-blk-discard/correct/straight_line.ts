// Correct: each function straight down its contract's table, one DataView per job,
// sector arithmetic in doubles with the 64-bit sector's high word checked first.

import type { ConformanceReporter } from "../../../../conformance/log.ts";
import type { GuestMemory } from "../../../../memory/guest_memory.ts";
import type {
  BufferSegment,
  ChainStreamParts,
  DescriptorChain,
} from "../../../../virtqueue/types.ts";
import { readChain } from "../../../../virtqueue/chain.ts";
import { hasFeature } from "../../../../virtio/features.ts";
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

const IOERR = 1;
const UNSUPP = 2;

function u32(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
    throw new RangeError(`${name} ${value} is not from ${min} to 2^32 - 1`);
  }
  return value;
}

export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  if (bytes.length !== 72) throw new RangeError(`${bytes.length} configuration bytes, not 72`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 72);
  const d = config.discard;
  if (d) {
    view.setUint32(36, u32("max_discard_sectors", d.maxSectors, 1), true);
    view.setUint32(40, u32("max_discard_seg", d.maxSegments, 1), true);
    view.setUint32(44, u32("discard_sector_alignment", d.alignment, 0), true);
  }
  const z = config.writeZeroes;
  if (z) {
    view.setUint32(48, u32("max_write_zeroes_sectors", z.maxSectors, 1), true);
    view.setUint32(52, u32("max_write_zeroes_seg", z.maxSegments, 1), true);
    bytes[56] = z.mayUnmap ? 1 : 0;
  }
}

function reject(
  type: number,
  status: number,
  id: BlockRejection["id"],
  violation: BlockRejection["violation"],
): BlockRejection {
  return { op: "reject", type, status, id, violation, complete: true };
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
  const discard = type === 11;
  const limits = discard ? disk.discard : type === 13 ? disk.writeZeroes : null;
  if (!limits) return reject(type, UNSUPP, null, null);
  const fail = (id: NonNullable<BlockRejection["id"]>, message: string) =>
    reject(type, IOERR, id, reporter.report(id, message, { head: chain.head }, "IOERR"));
  if (chain.writableLength !== 1) {
    return fail("5.2.6/D3", `${chain.writableLength - 1} writable data byte(s)`);
  }
  const data = chain.readableLength - 16;
  if (data < 16 || data % 16 !== 0) return fail("5.2.6.1/6", `${data} data byte(s)`);
  const count = data / 16;
  if (count > limits.maxSegments) {
    return fail(discard ? "5.2.6.1/8" : "5.2.6.1/10", `${count} segments`);
  }
  const bytes = new Uint8Array(data);
  read(memory, chain.readable, bytes, 16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    const low = view.getUint32(16 * i, true);
    const high = view.getUint32(16 * i + 4, true);
    const sectors = view.getUint32(16 * i + 8, true);
    const flags = view.getUint32(16 * i + 12, true);
    if (discard && (flags & 1)) {
      const v = reporter.report("5.2.6.1/13", `segment ${i} has unmap`, { i }, "UNSUPP");
      return reject(type, UNSUPP, "5.2.6.1/13", v);
    }
    if (flags & ~1) return reject(type, UNSUPP, "5.2.6.2/2", null);
    const sector = high * 2 ** 32 + low;
    if (high >= 2 ** 21 || sector > disk.capacity - sectors) {
      return fail("5.2.6/D4", `segment ${i} passes the capacity`);
    }
    if (sectors > limits.maxSectors) return fail("5.2.6/D5", `segment ${i}: ${sectors} sectors`);
    segments[i] = { sector, sectors, unmap: (flags & 1) === 1 };
  }
  return count;
}

export async function executeDiscardRequest(
  backend: BlockBackend,
  type: number,
  segments: readonly DiscardSegment[],
  count: number,
  options: DiscardIoOptions,
): Promise<number> {
  let freed = 0;
  for (const s of segments.slice(0, count)) {
    if (s.sectors === 0) continue;
    const ok = type === 11
      ? await backend.discard!(s.sector * 512, s.sectors * 512, options.signal)
      : await backend.writeZeroes!(s.sector * 512, s.sectors * 512, s.unmap, options.signal);
    if (ok) freed += s.sectors;
  }
  return freed;
}

export function readDiscardConfig(device: BlockConfigReader): BlockDiscardConfig {
  const f = device.features;
  const config = device.readConfigConsistent(() => ({
    discard: hasFeature(f, 13)
      ? {
        maxSectors: device.readConfig(36, 4),
        maxSegments: device.readConfig(40, 4),
        alignment: device.readConfig(44, 4),
      }
      : null,
    writeZeroes: hasFeature(f, 14)
      ? {
        maxSectors: device.readConfig(48, 4),
        maxSegments: device.readConfig(52, 4),
        mayUnmap: device.readConfig(56, 1) !== 0,
      }
      : null,
  }));
  let { discard, writeZeroes } = config;
  if (discard && (discard.maxSectors === 0 || discard.maxSegments === 0)) {
    device.reporter.report("5.2.4/D1", "discard limits read 0", { ...discard }, "not used");
    discard = null;
  }
  if (writeZeroes && (writeZeroes.maxSectors === 0 || writeZeroes.maxSegments === 0)) {
    device.reporter.report("5.2.4/D1", "write zeroes limits read 0", {
      maxSectors: writeZeroes.maxSectors,
      maxSegments: writeZeroes.maxSegments,
    }, "not used");
    writeZeroes = null;
  }
  return { discard, writeZeroes };
}

export function splitDiscard(
  limits: DiscardSplitLimits,
  ranges: readonly DiscardRange[],
  cursor: DiscardCursor,
  segments: DiscardSegment[],
  unmap: boolean,
): number {
  segments.length = 0;
  let budget = limits.maxSectors;
  while (cursor.range < ranges.length && segments.length < limits.maxSegments && budget > 0) {
    const range = ranges[cursor.range];
    const left = range.count - cursor.done;
    if (left <= 0) {
      cursor.range++;
      cursor.done = 0;
      continue;
    }
    const start = range.sector + cursor.done;
    let take = Math.min(left, budget);
    if (take < left && limits.alignment > 1) {
      const aligned = Math.floor((start + take) / limits.alignment) * limits.alignment;
      if (aligned > start) take = aligned - start;
    }
    segments.push({ sector: start, sectors: take, unmap });
    budget -= take;
    if (take < left) {
      cursor.done += take;
      break;
    }
    cursor.range++;
    cursor.done = 0;
  }
  return segments.length;
}

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
    memory.writeU32(at + 12, request.type === 13 && s.unmap ? 1 : 0);
  }
  memory.writeU8(request.status.addr, 0xff);
  chain.readable.splice(0, chain.readable.length, request.header, {
    addr: table.addr,
    len: 16 * count,
  });
  chain.writable.splice(0, chain.writable.length, request.status);
  return chain;
}
