/**
 * Discard and write zeroes (virtio v1.2 §5.2.4, §5.2.6), both halves. The
 * two commands share one wire format: after the usual 16-byte header the
 * device-readable data is an array of 16-byte segments,
 *
 * ```text
 * struct virtio_blk_discard_write_zeroes {
 *     le64 sector;        // first sector of the range, 512-byte units
 *     le32 num_sectors;   // sectors in the range
 *     le32 flags;         // bit 0: unmap (write zeroes only); bits 1-31 reserved
 * };
 * ```
 *
 * and the device's limits live in configuration space: `max_discard_sectors`,
 * `max_discard_seg` and `discard_sector_alignment` with VIRTIO_BLK_F_DISCARD,
 * `max_write_zeroes_sectors`, `max_write_zeroes_seg` and
 * `write_zeroes_may_unmap` with VIRTIO_BLK_F_WRITE_ZEROES.
 *
 * Device side: lay the limits out ({@linkcode layoutDiscardConfig}), check a
 * request's segments ({@linkcode parseDiscardRequest}) and do them on the
 * backend ({@linkcode executeDiscardRequest}). Driver side: read the limits
 * ({@linkcode readDiscardConfig}), cut a list of ranges into requests
 * ({@linkcode splitDiscard}) and lay a request out ({@linkcode buildDiscardRequest});
 * its status byte is read as any request's (`finishBlockRequest`).
 *
 * What "maximum discard sectors" bounds is not said by the spec: QEMU's
 * device checks each segment's `num_sectors` against it, Linux's driver
 * keeps the sum of a request's segments under it. The reference follows
 * both: its device checks per segment (it accepts whatever either reading
 * allows) and its driver keeps each request's total under the limit (what
 * it sends passes either reading).
 *
 * @module
 */

import type { ConformanceReporter } from "../../conformance/log.ts";
import type { GuestMemory } from "../../memory/guest_memory.ts";
import { hasFeature } from "../../virtio/features.ts";
import type { BufferSegment, ChainStreamParts, DescriptorChain } from "../../virtqueue/types.ts";
import { readChain } from "../../virtqueue/chain.ts";
import type { BlockBackend } from "./backends.ts";
import type { BlockConfigReader } from "./config.ts";
import * as blk from "./constants.ts";
import { type BlockRejection, VIRTIO_BLK_S_UNSET } from "./request.ts";

const {
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,
  VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE,
  VIRTIO_BLK_DWZ_FLAGS_OFFSET,
  VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET,
  VIRTIO_BLK_DWZ_SECTOR_OFFSET,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_RESERVED_OFFSET,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} = blk;

/** The limits of VIRTIO_BLK_T_DISCARD, as configuration space holds them. */
export interface DiscardLimits {
  /** `max_discard_sectors`, in 512-byte sectors, at least 1. */
  readonly maxSectors: number;
  /** `max_discard_seg`: segments per request, at least 1. */
  readonly maxSegments: number;
  /** `discard_sector_alignment`, in 512-byte sectors (0 or 1: no alignment). */
  readonly alignment: number;
}

/** The limits of VIRTIO_BLK_T_WRITE_ZEROES, as configuration space holds them. */
export interface WriteZeroesLimits {
  /** `max_write_zeroes_sectors`, in 512-byte sectors, at least 1. */
  readonly maxSectors: number;
  /** `max_write_zeroes_seg`: segments per request, at least 1. */
  readonly maxSegments: number;
  /** `write_zeroes_may_unmap`: whether a write zeroes with `unmap` can deallocate sectors. */
  readonly mayUnmap: boolean;
}

/** The discard and write zeroes fields of `struct virtio_blk_config`. */
export interface BlockDiscardConfig {
  /** VIRTIO_BLK_T_DISCARD's limits, or `null` without VIRTIO_BLK_F_DISCARD. */
  readonly discard: DiscardLimits | null;
  /** VIRTIO_BLK_T_WRITE_ZEROES's limits, or `null` without VIRTIO_BLK_F_WRITE_ZEROES. */
  readonly writeZeroes: WriteZeroesLimits | null;
}

/** One `struct virtio_blk_discard_write_zeroes`, as both sides hold it (reused in place). */
export interface DiscardSegment {
  /** First sector of the range. */
  sector: number;
  /** Sectors in the range. */
  sectors: number;
  /** The `unmap` flag. */
  unmap: boolean;
}

/** Makes an empty {@linkcode DiscardSegment} record. */
export function emptyDiscardSegment(): DiscardSegment {
  return { sector: 0, sectors: 0, unmap: false };
}

// ===================================================================== device

/**
 * Writes the discard and write zeroes fields into `struct virtio_blk_config`
 * (§5.2.4): `max_discard_sectors` (le32 at 36), `max_discard_seg` (40),
 * `discard_sector_alignment` (44), `max_write_zeroes_sectors` (48),
 * `max_write_zeroes_seg` (52) and `write_zeroes_may_unmap` (u8 at 56). A
 * command that is `null` (not offered) leaves its fields as they are (0);
 * nothing else in `bytes` is touched, `unused1` included.
 *
 * @param config The limits of the commands the device offers.
 * @param bytes The 72 configuration bytes, with the rest of the layout in place.
 * @throws {RangeError} If `bytes` is not 72 bytes long, a value does not fit
 *   its field, or an offered command's maximum sectors or segments is 0: a
 *   driver could send no request at all (5.2.4/D1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutDiscardConfig } from "./discard.ts";
 * const bytes = new Uint8Array(72);
 * layoutDiscardConfig({ discard: { maxSectors: 8192, maxSegments: 16, alignment: 8 }, writeZeroes: null }, bytes);
 * assert.equal(new DataView(bytes.buffer).getUint32(40, true), 16); // max_discard_seg
 * ```
 */
export function layoutDiscardConfig(config: BlockDiscardConfig, bytes: Uint8Array): void {
  if (bytes.length !== VIRTIO_BLK_CONFIG_SIZE) {
    throw new RangeError(
      `Configuration space is ${bytes.length} bytes, not the ${VIRTIO_BLK_CONFIG_SIZE} of struct virtio_blk_config`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number, name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
      throw new RangeError(
        `Block configuration field ${name} ${value} is not an integer from ${min} to 2^32 - 1` +
          (min > 0 ? " (5.2.4/D1)" : ""),
      );
    }
    view.setUint32(offset, value, true);
  };
  const { discard, writeZeroes } = config;
  if (discard !== null) {
    u32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS, "max_discard_sectors", discard.maxSectors, 1);
    u32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG, "max_discard_seg", discard.maxSegments, 1);
    u32(
      VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
      "discard_sector_alignment",
      discard.alignment,
      0,
    );
  }
  if (writeZeroes !== null) {
    u32(
      VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
      "max_write_zeroes_sectors",
      writeZeroes.maxSectors,
      1,
    );
    u32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG, "max_write_zeroes_seg", writeZeroes.maxSegments, 1);
    bytes[VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP] = writeZeroes.mayUnmap ? 1 : 0;
  }
}

/** What {@linkcode parseDiscardRequest} checks segments against: fixed at DRIVER_OK. */
export interface DiscardDisk {
  /** `capacity`, in 512-byte sectors. */
  readonly capacity: number;
  /** VIRTIO_BLK_T_DISCARD's limits when VIRTIO_BLK_F_DISCARD was negotiated, else `null`. */
  readonly discard: DiscardLimits | null;
  /** VIRTIO_BLK_T_WRITE_ZEROES's limits when VIRTIO_BLK_F_WRITE_ZEROES was negotiated, else `null`. */
  readonly writeZeroes: WriteZeroesLimits | null;
}

/** Where one segment is gathered (parsing is synchronous: one is enough). */
const SEGMENT = new Uint8Array(VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE);
const SEGMENT_VIEW = new DataView(SEGMENT.buffer);

/**
 * Checks the data of a VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES
 * request and reads its segments into `segments` (§5.2.6). The framing is
 * already checked (`parseBlockRequest` accepted the header, the status byte
 * and every buffer's place in RAM, and answered the type VIRTIO_BLK_S_UNSUPP
 * because it serves data requests only); this part decides the command.
 * Every segment is checked before any is done, so a rejected request
 * changes nothing on the disk. In order:
 *
 * - the command negotiated, else VIRTIO_BLK_S_UNSUPP (no violation);
 * - no device-writable data before the status byte: the segments are
 *   device-readable (5.2.6/D3), IOERR;
 * - the data after the header one or more whole 16-byte segments
 *   (5.2.6.1/6), IOERR;
 * - at most `max_discard_seg` (5.2.6.1/8) or `max_write_zeroes_seg`
 *   (5.2.6.1/10) segments, IOERR (cloud-hypervisor served the first and
 *   dropped the rest until PR #7874);
 * - for each segment: a discard with `unmap` set is VIRTIO_BLK_S_UNSUPP
 *   (the driver broke 5.2.6.1/13; the device answers as 5.2.6.2/3 says);
 *   any reserved flag bit set is VIRTIO_BLK_S_UNSUPP (5.2.6.2/2, the
 *   device's own duty: no violation); `sector + num_sectors` past the
 *   capacity, computed without u64 wrap-around (5.2.6/D4), IOERR;
 *   `num_sectors` above the command's maximum (5.2.6/D5), IOERR, as QEMU
 *   answers.
 *
 * @param memory Guest RAM.
 * @param chain The request's chain, as popped.
 * @param type The header's `type`: VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES.
 * @param disk The capacity and the negotiated limits.
 * @param reporter Where the driver's violations go (scoped to the queue).
 * @param segments Records to fill, one per segment, reusing those already
 *   there (the array grows when it must; entries past the count are left).
 * @param read The stream copy out of the chain's readable buffers (the
 *   requestq's `readChain` part), for segments cut across descriptors.
 * @returns The number of segments read into `segments` (at least 1), or a
 *   rejection to complete at once.
 * @throws {ConformanceError} When the conformance log is strict and a rule is broken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { parseDiscardRequest } from "./discard.ts";
 *
 * const memory = new GuestMemory(4096);
 * memory.writeU64(0x110, 64n); // segment: sector 64
 * memory.writeU32(0x118, 8); // 8 sectors, flags 0
 * const chain = {
 *   head: 0, descriptorCount: 2, indirect: false,
 *   readable: [{ addr: 0x100, len: 32 }], readableLength: 32,
 *   writable: [{ addr: 0x200, len: 1 }], writableLength: 1,
 * };
 * const disk = { capacity: 1024, discard: { maxSectors: 1024, maxSegments: 4, alignment: 8 }, writeZeroes: null };
 * const segments: { sector: number; sectors: number; unmap: boolean }[] = [];
 * assert.equal(parseDiscardRequest(memory, chain, 11, disk, new ConformanceLog().scoped("blk"), segments), 1);
 * assert.deepEqual(segments[0], { sector: 64, sectors: 8, unmap: false });
 * ```
 */
export function parseDiscardRequest(
  memory: GuestMemory,
  chain: DescriptorChain,
  type: number,
  disk: DiscardDisk,
  reporter: ConformanceReporter,
  segments: DiscardSegment[],
  read: ChainStreamParts["readChain"] = readChain,
): number | BlockRejection {
  const isDiscard = type === VIRTIO_BLK_T_DISCARD;
  const limits = isDiscard
    ? disk.discard
    : type === VIRTIO_BLK_T_WRITE_ZEROES
    ? disk.writeZeroes
    : null;
  if (limits === null) return rejection(type, VIRTIO_BLK_S_UNSUPP, null, null);
  const head = chain.head;
  const name = isDiscard ? "VIRTIO_BLK_T_DISCARD" : "VIRTIO_BLK_T_WRITE_ZEROES";
  const data = chain.readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
  const writeData = chain.writableLength - 1;
  const values = { head, type, readData: data, writeData };
  if (writeData !== 0) {
    return refuse(
      reporter,
      type,
      "5.2.6/D3",
      `${name} request at head ${head} carries ${writeData} device-writable data byte(s); its ` +
        "segments must be device-readable",
      values,
    );
  }
  if (data <= 0 || data % VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE !== 0) {
    return refuse(
      reporter,
      type,
      "5.2.6.1/6",
      `${name} request at head ${head} carries ${data} data byte(s), not one or more whole ` +
        `${VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE}-byte segments`,
      values,
    );
  }
  const count = data / VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE;
  if (count > limits.maxSegments) {
    return refuse(
      reporter,
      type,
      isDiscard ? "5.2.6.1/8" : "5.2.6.1/10",
      `${name} request at head ${head} holds ${count} segments, more than ${
        isDiscard ? "max_discard_seg" : "max_write_zeroes_seg"
      } ${limits.maxSegments}`,
      { ...values, segments: count, maxSegments: limits.maxSegments },
    );
  }
  for (let i = 0; i < count; i++) {
    const at = VIRTIO_BLK_REQ_HEADER_SIZE + i * VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE;
    const got = read(memory, chain.readable, SEGMENT, at);
    if (got !== VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE) {
      return refuse(
        reporter,
        type,
        "5.2.6.1/6",
        `${name} request at head ${head}: ${got} of the 16 bytes of segment ${i} could be read`,
        { ...values, segment: i, got },
      );
    }
    const low = SEGMENT_VIEW.getUint32(VIRTIO_BLK_DWZ_SECTOR_OFFSET, true);
    const high = SEGMENT_VIEW.getUint32(VIRTIO_BLK_DWZ_SECTOR_OFFSET + 4, true);
    const sectors = SEGMENT_VIEW.getUint32(VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, true);
    const flags = SEGMENT_VIEW.getUint32(VIRTIO_BLK_DWZ_FLAGS_OFFSET, true);
    const sector = high * 0x1_0000_0000 + low;
    const where = { ...values, segment: i, sector: (BigInt(high) << 32n) | BigInt(low), sectors };
    if (isDiscard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0) {
      const violation = reporter.report(
        "5.2.6.1/13",
        `VIRTIO_BLK_T_DISCARD request at head ${head}: segment ${i} has the unmap flag set`,
        { ...where, flags },
        "completed with VIRTIO_BLK_S_UNSUPP (5.2.6.2/3)",
      );
      return rejection(type, VIRTIO_BLK_S_UNSUPP, "5.2.6.1/13", violation);
    }
    if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0) {
      // The device's own duty: reserved bits it does not know (5.2.6.2/2).
      return rejection(type, VIRTIO_BLK_S_UNSUPP, "5.2.6.2/2", null);
    }
    // Exact in doubles: `sector > capacity - sectors` with both below 2^53,
    // where `sector + sectors` in u64 would wrap for a sector near 2^64.
    if (high >= 0x20_0000 || sector > disk.capacity - sectors) {
      return refuse(
        reporter,
        type,
        "5.2.6/D4",
        `${name} request at head ${head}: segment ${i} of ${sectors} sector(s) at sector ${where.sector} ` +
          `reaches past the capacity of ${disk.capacity} sectors`,
        where,
      );
    }
    if (sectors > limits.maxSectors) {
      return refuse(
        reporter,
        type,
        "5.2.6/D5",
        `${name} request at head ${head}: segment ${i} covers ${sectors} sectors, more than ${
          isDiscard ? "max_discard_sectors" : "max_write_zeroes_sectors"
        } ${limits.maxSectors}`,
        { ...where, maxSectors: limits.maxSectors },
      );
    }
    const segment = segments[i];
    const unmap = (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) !== 0;
    if (segment === undefined) segments[i] = { sector, sectors, unmap };
    else {
      segment.sector = sector;
      segment.sectors = sectors;
      segment.unmap = unmap;
    }
  }
  return count;
}

function rejection(
  type: number,
  status: number,
  id: BlockRejection["id"],
  violation: BlockRejection["violation"],
): BlockRejection {
  return { op: "reject", type, status, id, violation, complete: true };
}

function refuse(
  reporter: ConformanceReporter,
  type: number,
  id: NonNullable<BlockRejection["id"]>,
  message: string,
  values: Record<string, number | bigint>,
): BlockRejection {
  const violation = reporter.report(id, message, values, "completed with VIRTIO_BLK_S_IOERR");
  return rejection(type, VIRTIO_BLK_S_IOERR, id, violation);
}

/** How {@linkcode executeDiscardRequest} runs. */
export interface DiscardIoOptions {
  /** Aborted by a device or queue reset: the backend then stops between segments. */
  readonly signal?: AbortSignal;
}

/**
 * Does an accepted discard or write zeroes request on the backend, one
 * segment after the other, in order:
 *
 * - VIRTIO_BLK_T_DISCARD: `backend.discard` on each range (the device may
 *   deallocate it, 5.2.6.2/4; this lab's backends leave it reading zeroes);
 * - VIRTIO_BLK_T_WRITE_ZEROES: `backend.writeZeroes` on each range, passing
 *   the segment's `unmap` (the backend may then deallocate, 5.2.6.2/5, but
 *   the range reads zeroes afterwards either way, 5.2.6.2/6).
 *
 * A zero-sector segment does nothing. The first backend error stops the
 * request (the segments after it are not done: 5.2.6.1/15 tells the driver
 * to assume nothing about them).
 *
 * @param backend The storage; it must have `discard` and `writeZeroes`.
 * @param type VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES.
 * @param segments The segments as {@linkcode parseDiscardRequest} read them.
 * @param count How many of `segments` the request holds.
 * @param options The reset signal.
 * @returns Resolves with the sectors the backend deallocated (0 where it
 *   wrote zeroes instead); rejects with the first backend error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBlockBackend } from "./backends.ts";
 * import { executeDiscardRequest } from "./discard.ts";
 * const disk = new MemoryBlockBackend(new Uint8Array(4096).fill(7));
 * await executeDiscardRequest(disk, 13, [{ sector: 2, sectors: 2, unmap: false }], 1, {});
 * assert.deepEqual([disk.data[1023], disk.data[1024], disk.data[2047], disk.data[2048]], [7, 0, 0, 7]);
 * ```
 */
export async function executeDiscardRequest(
  backend: BlockBackend,
  type: number,
  segments: readonly DiscardSegment[],
  count: number,
  options: DiscardIoOptions,
): Promise<number> {
  const discard = backend.discard;
  const writeZeroes = backend.writeZeroes;
  if (!discard || !writeZeroes) {
    throw new TypeError("The block backend cannot discard or write zeroes");
  }
  let deallocated = 0;
  for (let i = 0; i < count; i++) {
    const { sector, sectors, unmap } = segments[i];
    if (sectors === 0) continue;
    const offset = sector * SECTOR_SIZE;
    const length = sectors * SECTOR_SIZE;
    const freed = type === VIRTIO_BLK_T_DISCARD
      ? await discard.call(backend, offset, length, options.signal)
      : await writeZeroes.call(backend, offset, length, unmap, options.signal);
    if (freed) deallocated += sectors;
  }
  return deallocated;
}

// ===================================================================== driver

/**
 * Reads the discard and write zeroes limits (§5.2.4, §5.2.5) under the
 * `ConfigGeneration` loop, each command's three fields only when its feature
 * was negotiated (a field without its feature does not exist, 2.5.1/1). A
 * command whose maximum sectors or segments reads 0 cannot carry a single
 * range: that is reported (5.2.4/D1: the device broke it) and the command is
 * returned `null`, so the driver never sends it (Windows' viostor crashed on
 * such a device, cloud-hypervisor issue #7849).
 *
 * @param device The bound device.
 * @returns The limits as read; `discard.alignment` as read, 0 included.
 * @throws {ConformanceError} When the log is strict and a limit reads 0.
 */
export function readDiscardConfig(device: BlockConfigReader): BlockDiscardConfig {
  const negotiated = device.features;
  const hasDiscard = hasFeature(negotiated, VIRTIO_BLK_F_DISCARD);
  const hasWriteZeroes = hasFeature(negotiated, VIRTIO_BLK_F_WRITE_ZEROES);
  const raw = device.readConfigConsistent(() => ({
    discard: hasDiscard
      ? {
        maxSectors: device.readConfig(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS, 4),
        maxSegments: device.readConfig(VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG, 4),
        alignment: device.readConfig(VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT, 4),
      }
      : null,
    writeZeroes: hasWriteZeroes
      ? {
        maxSectors: device.readConfig(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS, 4),
        maxSegments: device.readConfig(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG, 4),
        mayUnmap: device.readConfig(VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP, 1) !== 0,
      }
      : null,
  }));
  const usable = <T extends { maxSectors: number; maxSegments: number }>(
    limits: T | null,
    what: string,
  ): T | null => {
    if (limits === null || (limits.maxSectors !== 0 && limits.maxSegments !== 0)) return limits;
    device.reporter.report(
      "5.2.4/D1",
      `The device offers ${what} with max sectors ${limits.maxSectors} and max segments ` +
        `${limits.maxSegments}: no request could carry a range`,
      { maxSectors: limits.maxSectors, maxSegments: limits.maxSegments },
      `${what} not used`,
    );
    return null;
  };
  return {
    discard: usable(raw.discard, "VIRTIO_BLK_T_DISCARD"),
    writeZeroes: usable(raw.writeZeroes, "VIRTIO_BLK_T_WRITE_ZEROES"),
  };
}

/** A range of sectors to discard or zero. */
export interface DiscardRange {
  /** First sector. */
  readonly sector: number;
  /** Sectors, 0 or more. */
  readonly count: number;
}

/** How far {@linkcode splitDiscard} has got through a list of ranges (advanced in place). */
export interface DiscardCursor {
  /** Index of the range the next request starts in. */
  range: number;
  /** Sectors of that range already in earlier requests. */
  done: number;
}

/** The limits the driver cuts requests by: {@linkcode DiscardLimits} with a per-request meaning. */
export interface DiscardSplitLimits {
  /** Sectors per request, all segments together, at least 1. */
  readonly maxSectors: number;
  /** Segments per request, at least 1. */
  readonly maxSegments: number;
  /** Sectors a cut inside a range lands on a multiple of (0 or 1: anywhere). */
  readonly alignment: number;
}

/**
 * Cuts the next request off a list of ranges: fills `segments` with at most
 * `maxSegments` segments whose sectors add up to at most `maxSectors`,
 * starting where `cursor` says and advancing it past what it took. Ranges
 * are taken in order, one segment per range or piece of one; a range of 0
 * sectors is skipped. When the request's sector budget ends inside a range,
 * the cut lands on a multiple of `alignment` if that leaves the piece at
 * least one sector (as Linux's `bio_split_discard` cuts at the discard
 * granularity), so the next request starts aligned (5.2.5/D1).
 *
 * @param limits Sectors and segments per request, and the alignment.
 * @param ranges The ranges, each inside the capacity.
 * @param cursor Where to start; advanced in place.
 * @param segments Where the request's segments go, reusing the records in
 *   it; its length is set to the count.
 * @param unmap The `unmap` flag for every segment (write zeroes only).
 * @returns The number of segments in the request, 0 once every range is taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitDiscard } from "./discard.ts";
 * const cursor = { range: 0, done: 0 };
 * const segments: { sector: number; sectors: number; unmap: boolean }[] = [];
 * const limits = { maxSectors: 100, maxSegments: 2, alignment: 8 };
 * assert.equal(splitDiscard(limits, [{ sector: 3, count: 200 }], cursor, segments, false), 1);
 * assert.deepEqual(segments, [{ sector: 3, sectors: 93, unmap: false }]); // ends at sector 96
 * ```
 */
export function splitDiscard(
  limits: DiscardSplitLimits,
  ranges: readonly DiscardRange[],
  cursor: DiscardCursor,
  segments: DiscardSegment[],
  unmap: boolean,
): number {
  const align = limits.alignment > 1 ? limits.alignment : 1;
  let budget = limits.maxSectors;
  let count = 0;
  while (cursor.range < ranges.length && count < limits.maxSegments && budget > 0) {
    const range = ranges[cursor.range];
    const left = range.count - cursor.done;
    if (left <= 0) {
      cursor.range++;
      cursor.done = 0;
      continue;
    }
    const start = range.sector + cursor.done;
    let take = Math.min(left, budget);
    if (take < left && align > 1) {
      const end = start + take;
      const aligned = end - (end % align);
      if (aligned > start) take = aligned - start;
    }
    const segment = segments[count];
    if (segment === undefined) segments.push({ sector: start, sectors: take, unmap });
    else {
      segment.sector = start;
      segment.sectors = take;
      segment.unmap = unmap;
    }
    count++;
    budget -= take;
    cursor.done += take;
    if (cursor.done < range.count) break; // cut inside the range: the request is full
    cursor.range++;
    cursor.done = 0;
  }
  if (segments.length !== count) segments.length = count;
  return count;
}

/** One discard or write zeroes request as the driver lays it out. */
export interface DiscardDriverRequest {
  /** VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES. */
  readonly type: number;
  /** The 16-byte header buffer (device-readable). */
  readonly header: BufferSegment;
  /** The 1-byte status buffer (device-writable). */
  readonly status: BufferSegment;
  /** Where the segments go: at least 16 bytes per segment. */
  readonly table: BufferSegment;
  /** The segments. */
  readonly segments: readonly DiscardSegment[];
  /** How many of `segments` the request holds, at least 1. */
  readonly count: number;
}

/**
 * Lays out one discard or write zeroes request (§5.2.6): the header (`type`,
 * `reserved` 0, `sector` 0: the sector field is unused by these commands),
 * the segments into `table` (le64 `sector`, le32 `num_sectors`, le32 `flags`
 * with `unmap` in bit 0, set only for a write zeroes that asks for it:
 * 5.2.6.1/13), the status byte marked {@linkcode VIRTIO_BLK_S_UNSET}; and
 * lists the chain: header and segments device-readable (5.2.6/D3), the
 * status device-writable and last (5.2.6/D2).
 *
 * @param memory Guest RAM.
 * @param request Type, buffers and segments.
 * @param chain Arrays to fill (emptied first); default: new ones.
 * @returns `chain`, filled: readable `[header, first 16 × count bytes of table]`, writable `[status]`.
 * @throws {RangeError} If `count` is not from 1 to the segments given, or the table is too short.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { buildDiscardRequest } from "./discard.ts";
 * const memory = new GuestMemory(4096);
 * const chain = buildDiscardRequest(memory, {
 *   type: 13, header: { addr: 0x100, len: 16 }, status: { addr: 0x110, len: 1 },
 *   table: { addr: 0x200, len: 256 }, segments: [{ sector: 9, sectors: 3, unmap: true }], count: 1,
 * });
 * assert.deepEqual(chain.readable.map((s) => s.len), [16, 16]);
 * assert.equal(memory.readU32(0x20c), 1); // flags: unmap
 * ```
 */
export function buildDiscardRequest(
  memory: GuestMemory,
  request: DiscardDriverRequest,
  chain: { readable: BufferSegment[]; writable: BufferSegment[] } = { readable: [], writable: [] },
): { readable: BufferSegment[]; writable: BufferSegment[] } {
  const { count, segments, table } = request;
  if (!Number.isInteger(count) || count < 1 || count > segments.length) {
    throw new RangeError(`Segment count ${count} is not from 1 to the ${segments.length} given`);
  }
  const bytes = count * VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE;
  if (table.len < bytes) {
    throw new RangeError(`Segment table of ${table.len} bytes cannot hold ${count} segment(s)`);
  }
  const header = request.header.addr;
  memory.writeU32(header + VIRTIO_BLK_REQ_TYPE_OFFSET, request.type);
  memory.writeU32(header + VIRTIO_BLK_REQ_RESERVED_OFFSET, 0);
  memory.writeU64(header + VIRTIO_BLK_REQ_SECTOR_OFFSET, 0n);
  const unmapAllowed = request.type === VIRTIO_BLK_T_WRITE_ZEROES;
  for (let i = 0; i < count; i++) {
    const s = segments[i];
    const at = table.addr + i * VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE;
    memory.writeU64(at + VIRTIO_BLK_DWZ_SECTOR_OFFSET, BigInt(s.sector));
    memory.writeU32(at + VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET, s.sectors);
    memory.writeU32(
      at + VIRTIO_BLK_DWZ_FLAGS_OFFSET,
      unmapAllowed && s.unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0,
    );
  }
  memory.writeU8(request.status.addr, VIRTIO_BLK_S_UNSET);
  chain.readable.length = 0;
  chain.writable.length = 0;
  chain.readable.push(request.header, { addr: table.addr, len: bytes });
  chain.writable.push(request.status);
  return chain;
}
