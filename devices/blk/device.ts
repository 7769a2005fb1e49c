/**
 * The virtio block device model (virtio v1.2 §5.2) with one request queue,
 * serving a {@linkcode BlockBackend}. It validates every request as a
 * hardened device does, reporting the rule the driver broke, and runs any
 * number of requests at once, completing them in whatever order the backend
 * finishes.
 *
 * @module
 */

import { ConformanceError, type ConformanceReporter } from "../../conformance/log.ts";
import { VIRTIO_ID_BLOCK } from "../../virtio/device_ids.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { AccessWidth, ConfigField, DeviceHost, VirtioDevice } from "../../virtio/device.ts";
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/types.ts";
import { ConfigSpace, mergeParts, printDeviceError, VIRTIO_LAB_VENDOR_ID } from "../common.ts";
import type { BlockBackend } from "./backends.ts";
import * as blk from "./constants.ts";
import type { BlockIoOptions } from "./io.ts";
import { type BlockDeviceParts, REFERENCE_BLOCK_DEVICE_PARTS } from "./parts.ts";
import { type BlockDisk, type BlockRequest, emptyBlockRequest } from "./request.ts";
import type {
  BlockDiscardConfig,
  DiscardDisk,
  DiscardLimits,
  DiscardSegment,
  WriteZeroesLimits,
} from "./discard.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_LAYOUT,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_FEATURE_NAMES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} = blk;

/** The only queue: requestq1 (§5.2.2). */
const REQUESTQ = 0;

/**
 * Default `seg_max`: 126 data segments per request. A request is then at
 * most 128 descriptors with its header and status, which fits a 128-entry
 * queue even without indirect descriptors; it is also what QEMU offered for
 * years (queue size 128 minus 2).
 */
export const DEFAULT_SEG_MAX = 126;
/**
 * Default `size_max`: 64 KiB per data segment. With {@linkcode DEFAULT_SEG_MAX}
 * a request can move up to 126 × 64 KiB = 7.9 MiB, well above what drivers
 * send (Linux caps requests at 1.25 MiB by default), while one segment stays
 * a size a bounce buffer can hold.
 */
export const DEFAULT_SIZE_MAX = 64 * 1024;
/** Default device ID string for VIRTIO_BLK_T_GET_ID when the backend has none. */
export const DEFAULT_BLK_ID = "virtio-lab-blk";
/**
 * Default `max_discard_sectors` and `max_write_zeroes_sectors`: 4194303
 * sectors (2 GiB less one sector) per segment, QEMU's default
 * (`BDRV_REQUEST_MAX_SECTORS`), so a segment's byte length fits an `int`.
 */
export const DEFAULT_MAX_DISCARD_SECTORS = 0x3f_ffff;
/** Default `max_discard_seg` and `max_write_zeroes_seg`: 16 segments per request. */
export const DEFAULT_MAX_DISCARD_SEG = 16;
/**
 * Default `discard_sector_alignment`: 8 sectors, 4 KiB, the block size of
 * the file systems images live on: a hole is punched in whole blocks, and a
 * discard of part of one only zeroes it.
 */
export const DEFAULT_DISCARD_SECTOR_ALIGNMENT = 8;

/** Options for {@linkcode VirtioBlockDevice}. */
export interface VirtioBlockDeviceOptions {
  /** `QueueNumMax` of the request queue, in descriptors (default 256). */
  readonly queueSize?: number;
  /** `seg_max`: data segments per request (default {@linkcode DEFAULT_SEG_MAX}). */
  readonly segMax?: number;
  /** `size_max`: bytes per data segment (default {@linkcode DEFAULT_SIZE_MAX}). */
  readonly sizeMax?: number;
  /** Device ID string (ASCII, at most 20 bytes); default: the backend's, else {@linkcode DEFAULT_BLK_ID}. */
  readonly id?: string;
  /** Name shown by the transport (default `"virtio-blk"`). */
  readonly name?: string;
  /**
   * Offer VIRTIO_BLK_F_DISCARD and VIRTIO_BLK_F_WRITE_ZEROES (default
   * `true`; they are offered only when the backend can discard and write
   * zeroes and is writable).
   */
  readonly discard?: boolean;
  /** `max_discard_sectors` (default {@linkcode DEFAULT_MAX_DISCARD_SECTORS}). */
  readonly maxDiscardSectors?: number;
  /** `max_discard_seg` (default {@linkcode DEFAULT_MAX_DISCARD_SEG}). */
  readonly maxDiscardSeg?: number;
  /** `discard_sector_alignment`, in sectors (default {@linkcode DEFAULT_DISCARD_SECTOR_ALIGNMENT}). */
  readonly discardSectorAlignment?: number;
  /** `max_write_zeroes_sectors` (default {@linkcode DEFAULT_MAX_DISCARD_SECTORS}). */
  readonly maxWriteZeroesSectors?: number;
  /** `max_write_zeroes_seg` (default {@linkcode DEFAULT_MAX_DISCARD_SEG}). */
  readonly maxWriteZeroesSeg?: number;
  /** Replacements for some of the device-side parts (default: the reference ones). */
  readonly parts?: Partial<BlockDeviceParts>;
  /**
   * Where an error goes that is thrown where no caller can take it: in
   * completing a request, which runs as the backend work's promise reaction
   * (a strict log's `ConformanceError` included). The device has asked for a
   * reset first (DEVICE_NEEDS_RESET). `where` names the device and the step.
   * Default: one line on stderr. A lab machine passes its error sink.
   */
  readonly onError?: (error: unknown, where: string) => void;
}

/** Requests seen, by kind. */
export interface BlockRequestCounts {
  /** VIRTIO_BLK_T_IN. */
  readonly in: number;
  /** VIRTIO_BLK_T_OUT. */
  readonly out: number;
  /** VIRTIO_BLK_T_FLUSH. */
  readonly flush: number;
  /** VIRTIO_BLK_T_GET_ID. */
  readonly getId: number;
  /** VIRTIO_BLK_T_DISCARD. */
  readonly discard: number;
  /** VIRTIO_BLK_T_WRITE_ZEROES. */
  readonly writeZeroes: number;
  /** Any other type (answered VIRTIO_BLK_S_UNSUPP). */
  readonly other: number;
}

/** Counters of a {@linkcode VirtioBlockDevice} (a fresh snapshot on every read). */
export interface BlockDeviceStats {
  /** Requests popped, by type. */
  readonly requests: BlockRequestCounts;
  /** Bytes read from the backend into guest memory. */
  readonly bytesRead: number;
  /** Bytes written from guest memory to the backend. */
  readonly bytesWritten: number;
  /** Sectors discarded by requests that completed with VIRTIO_BLK_S_OK. */
  readonly sectorsDiscarded: number;
  /** Sectors zeroed by write zeroes requests that completed with VIRTIO_BLK_S_OK. */
  readonly sectorsZeroed: number;
  /** Of those, sectors the backend deallocated (holes punched) instead of writing zeroes. */
  readonly sectorsDeallocated: number;
  /** Requests completed with VIRTIO_BLK_S_IOERR (driver errors and backend errors). */
  readonly errors: number;
  /** Requests completed with VIRTIO_BLK_S_UNSUPP. */
  readonly unsupported: number;
  /** Requests that broke a rule of the spec (each also in the conformance log). */
  readonly invalid: number;
  /** Backend operations that failed. */
  readonly backendErrors: number;
  /** Requests started on the backend and not finished yet. */
  readonly inFlight: number;
  /** Largest {@linkcode inFlight} seen. */
  readonly maxInFlight: number;
  /** Completions dropped because a reset made them stale. */
  readonly staleCompletions: number;
}

/** The request in flight on one descriptor head (the device's per-tag state). */
interface HeadSlot {
  /** The record `parseBlockRequest` fills for this head. */
  readonly scratch: BlockRequest;
  /** The request being served (`scratch`, unless a replaced part returned its own). */
  request: BlockRequest;
  chain: DescriptorChain | null;
  queue: DeviceQueue | null;
  /** The device generation the request started in. */
  generation: number;
  /** Backend work started and not settled yet. */
  busy: boolean;
  /** The discard or write zeroes segments of this head's request, reused. */
  readonly segments: DiscardSegment[];
  /** VIRTIO_BLK_T_DISCARD or _WRITE_ZEROES while one is in flight here, else -1. */
  discardType: number;
  /** Sectors that discard or write zeroes request covers. */
  discardSectors: number;
  /** Completion callbacks, made once per slot. */
  readonly done: () => void;
  readonly fail: (error: unknown) => void;
  /** Completion of a discard or write zeroes: the sectors the backend deallocated. */
  readonly discarded: (deallocated: number) => void;
}

/**
 * A virtio block device (§5.2).
 *
 * Features offered: VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX,
 * VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_RESET, VIRTIO_BLK_F_SIZE_MAX,
 * VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE (512), VIRTIO_BLK_F_FLUSH,
 * VIRTIO_BLK_F_RO for a read-only backend, and VIRTIO_BLK_F_DISCARD with
 * VIRTIO_BLK_F_WRITE_ZEROES for a writable backend that can discard and
 * write zeroes (`write_zeroes_may_unmap` is the backend's
 * `canDeallocate`, 5.2.6.2/7). `capacity` is the backend size in 512-byte
 * sectors.
 *
 * Requests: VIRTIO_BLK_T_IN, _OUT, _FLUSH and _GET_ID through
 * `parseBlockRequest`; VIRTIO_BLK_T_DISCARD and _WRITE_ZEROES, when
 * negotiated, through `parseDiscardRequest` (which `parseBlockRequest`
 * leaves them to, answering their type UNSUPP once it checked the
 * framing) and `executeDiscardRequest`; any other type is answered
 * VIRTIO_BLK_S_UNSUPP. Checks, each reported with its rule and answered
 * VIRTIO_BLK_S_IOERR unless noted:
 *
 * - a 16-byte device-readable header (5.2.6/D1), split across descriptors
 *   any way the driver likes (2.7.4.1/1);
 * - at least one device-writable byte for the status (5.2.6/D2): without it
 *   the request cannot be completed at all, so the device reports it, keeps
 *   the chain and asks for a reset (DEVICE_NEEDS_RESET);
 * - every buffer inside guest RAM (2.7.5/D2), whatever queue popped it: a
 *   bad one is IOERR, a status byte out of reach is treated like a missing
 *   one;
 * - data in the direction the type implies (5.2.6/D3);
 * - IN/OUT data a multiple of 512 bytes (5.2.6.1/5);
 * - IN/OUT inside `capacity`, computed without overflow (5.2.6.1/1);
 * - IN/OUT within the negotiated `seg_max` and `size_max` (5.2.3/D1):
 *   logged, and served anyway;
 * - GET_ID data exactly 20 bytes (5.2.6.1/7): less is IOERR; more gets the
 *   20-byte ID, the rest zeroed, and OK, as QEMU does;
 * - FLUSH with a nonzero sector (5.2.6.1/3) or with data (5.2.6.1/4): logged,
 *   and the flush is done anyway.
 *
 * An OUT on a read-only device fails with IOERR and writes nothing (the
 * device's own duty, 5.2.6.2/1). A backend error is IOERR. When the driver
 * did not negotiate VIRTIO_BLK_F_FLUSH, every write is flushed before it
 * completes, because completed writes must then be stable, and stable writes
 * are committed before their completion is reported (5.2.6.2/9); a flush
 * completes only after the backend's.
 *
 * The used `len` counts every device-writable byte, all written before the
 * chain is returned (2.7.8.2/2): the data part is filled (with data for a
 * successful IN or GET_ID, with zeroes otherwise, so no stale or partial
 * data is left in it) and the status byte is last; for a well-formed OUT or
 * FLUSH that is 1.
 *
 * A device or queue reset aborts the requests in flight: their backend
 * operations never touch guest memory afterwards (see the `signal` contract
 * of {@linkcode BlockBackend}) and their completions are dropped.
 *
 * Every step goes through {@linkcode parts} (`parseBlockRequest`,
 * `executeBlockRequest`, `completeBlockRequest`, `blockConfigSpace`,
 * `layoutDiscardConfig`, `parseDiscardRequest`, `executeDiscardRequest`), so
 * any of them can be replaced. The request path keeps one record per descriptor
 * head and reuses it: serving a request allocates no state of its own beyond
 * the backend's promise and the views of guest memory it reads into.
 */
export class VirtioBlockDevice implements VirtioDevice {
  /** Name shown by the transport. */
  readonly name: string;
  /** VIRTIO_ID_BLOCK (2). */
  readonly deviceId: number = VIRTIO_ID_BLOCK;
  /** "VLAB". */
  readonly vendorId: number = VIRTIO_LAB_VENDOR_ID;
  /** The features offered. */
  readonly deviceFeatures: bigint;
  /** VIRTIO_BLK_F_* names. */
  readonly featureNames: Readonly<Record<number, string>> = VIRTIO_BLK_FEATURE_NAMES;
  /** One request queue. */
  readonly queueMaxSizes: readonly number[];
  /** struct virtio_blk_config. */
  readonly configLayout: readonly ConfigField[] = VIRTIO_BLK_CONFIG_LAYOUT;
  /** 72 bytes. */
  readonly configSize: number = VIRTIO_BLK_CONFIG_SIZE;
  /** The storage. */
  readonly backend: BlockBackend;
  /** `capacity`, in 512-byte sectors. */
  readonly capacity: bigint;
  /** `seg_max`, data segments per request. */
  readonly segMax: number;
  /** `size_max`, bytes per data segment. */
  readonly sizeMax: number;
  /** The GET_ID string. */
  readonly id: string;
  /** The discard and write zeroes limits offered (both `null` when the features are not offered). */
  readonly discardConfig: BlockDiscardConfig;
  /** The steps this device runs: the reference parts, with any replacements given. */
  readonly parts: BlockDeviceParts;

  readonly #config = new ConfigSpace(VIRTIO_BLK_CONFIG_SIZE);
  readonly #idBytes = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  readonly #onError: (error: unknown, where: string) => void;
  /** What parsing checks against: fixed at DRIVER_OK, with the limits negotiated. */
  #disk: BlockDisk;
  /** What discard parsing checks against: fixed at DRIVER_OK, the commands negotiated. */
  #discardDisk: DiscardDisk;
  #host: DeviceHost | null = null;
  #reporter: ConformanceReporter | null = null;
  #generation = 0;
  #abort = new AbortController();
  /** How requests are served; fixed at DRIVER_OK, once the features are known. */
  #io: BlockIoOptions;
  /** Per descriptor head: the request in flight on it. */
  #slots: (HeadSlot | undefined)[] = [];

  #counts = { in: 0, out: 0, flush: 0, getId: 0, discard: 0, writeZeroes: 0, other: 0 };
  #bytesRead = 0;
  #bytesWritten = 0;
  #sectorsDiscarded = 0;
  #sectorsZeroed = 0;
  #sectorsDeallocated = 0;
  #errors = 0;
  #unsupported = 0;
  #invalid = 0;
  #backendErrors = 0;
  #inFlight = 0;
  #maxInFlight = 0;
  #stale = 0;

  /**
   * Creates the device; `capacity` is `backend.size` in whole 512-byte sectors.
   *
   * @param backend The storage.
   * @param options Queue size, limits, ID string, name, parts and error hook.
   * @throws {RangeError} If the queue size is not a power of two from 1 to
   *   32768, `segMax`, `sizeMax` or a discard or write zeroes maximum is not
   *   a positive 32-bit integer, the discard alignment not a 32-bit integer,
   *   or the ID is not ASCII of at most 20 bytes.
   * @throws {TypeError} If a replacement part is not a function, or
   *   `blockConfigSpace` does not return the 72 configuration bytes.
   */
  constructor(backend: BlockBackend, options: VirtioBlockDeviceOptions = {}) {
    const queueSize = options.queueSize ?? 256;
    if (
      !Number.isInteger(queueSize) || queueSize < 1 || queueSize > 32768 ||
      (queueSize & (queueSize - 1)) !== 0
    ) {
      throw new RangeError(`Block queue size ${queueSize} is not a power of two from 1 to 32768`);
    }
    this.parts = mergeParts(REFERENCE_BLOCK_DEVICE_PARTS, options.parts);
    this.#onError = options.onError ?? printDeviceError;
    this.segMax = u32(options.segMax ?? DEFAULT_SEG_MAX, "segMax");
    this.sizeMax = u32(options.sizeMax ?? DEFAULT_SIZE_MAX, "sizeMax");
    const id = options.id ?? backend.id ?? DEFAULT_BLK_ID;
    if (id.length > VIRTIO_BLK_ID_BYTES || [...id].some((c) => c.charCodeAt(0) > 0x7f)) {
      throw new RangeError(
        `Block device ID ${
          JSON.stringify(id)
        } is not ASCII of at most ${VIRTIO_BLK_ID_BYTES} bytes`,
      );
    }
    this.id = id;
    for (let i = 0; i < id.length; i++) this.#idBytes[i] = id.charCodeAt(i);
    this.name = options.name ?? "virtio-blk";
    this.backend = backend;
    this.queueMaxSizes = Object.freeze([queueSize]);
    const sectors = Math.floor(backend.size / SECTOR_SIZE);
    this.capacity = BigInt(sectors);
    this.#disk = Object.freeze({ capacity: sectors, readOnly: backend.readOnly });
    const discards = (options.discard ?? true) && !backend.readOnly &&
      typeof backend.discard === "function" && typeof backend.writeZeroes === "function";
    const discard: DiscardLimits | null = discards
      ? Object.freeze({
        maxSectors: u32(
          options.maxDiscardSectors ?? DEFAULT_MAX_DISCARD_SECTORS,
          "maxDiscardSectors",
        ),
        maxSegments: u32(options.maxDiscardSeg ?? DEFAULT_MAX_DISCARD_SEG, "maxDiscardSeg"),
        alignment: alignment(options.discardSectorAlignment ?? DEFAULT_DISCARD_SECTOR_ALIGNMENT),
      })
      : null;
    const writeZeroes: WriteZeroesLimits | null = discards
      ? Object.freeze({
        maxSectors: u32(
          options.maxWriteZeroesSectors ?? DEFAULT_MAX_DISCARD_SECTORS,
          "maxWriteZeroesSectors",
        ),
        maxSegments: u32(options.maxWriteZeroesSeg ?? DEFAULT_MAX_DISCARD_SEG, "maxWriteZeroesSeg"),
        mayUnmap: backend.canDeallocate === true,
      })
      : null;
    this.discardConfig = Object.freeze({ discard, writeZeroes });
    this.#discardDisk = Object.freeze({ capacity: sectors, discard: null, writeZeroes: null });
    this.#io = this.#ioOptions(true);
    // A modern device always offers VIRTIO_F_VERSION_1 (6.2/1) and should
    // always offer VIRTIO_BLK_F_FLUSH (5.2.5.2/1); none of these bits needs
    // another that is missing (2.2.2/1).
    const bits = [
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_RING_RESET,
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
    ];
    if (backend.readOnly) bits.push(VIRTIO_BLK_F_RO);
    if (discard) bits.push(VIRTIO_BLK_F_DISCARD);
    if (writeZeroes) bits.push(VIRTIO_BLK_F_WRITE_ZEROES);
    this.deviceFeatures = features(...bits);
    // Everything but these four fields, unused0 and unused1 included, reads
    // 0 (5.2.5.2/3).
    const config = this.parts.blockConfigSpace({
      capacity: this.capacity,
      sizeMax: this.sizeMax,
      segMax: this.segMax,
      blkSize: SECTOR_SIZE,
    });
    if (!(config instanceof Uint8Array) || config.length !== VIRTIO_BLK_CONFIG_SIZE) {
      throw new TypeError(
        `blockConfigSpace returned ${
          config instanceof Uint8Array ? `${config.length} bytes` : typeof config
        }, not the ${VIRTIO_BLK_CONFIG_SIZE} bytes of struct virtio_blk_config`,
      );
    }
    this.#config.bytes.set(config);
    // The discard and write zeroes limits: every field of an offered
    // command at least 1 (5.2.4/D1), the rest left 0.
    if (discard || writeZeroes) {
      this.parts.layoutDiscardConfig(this.discardConfig, this.#config.bytes);
    }
  }

  /** Whether the device refuses writes (VIRTIO_BLK_F_RO offered). */
  get readOnly(): boolean {
    return this.backend.readOnly;
  }

  /** Counters since construction. */
  get stats(): BlockDeviceStats {
    return {
      requests: { ...this.#counts },
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      sectorsDiscarded: this.#sectorsDiscarded,
      sectorsZeroed: this.#sectorsZeroed,
      sectorsDeallocated: this.#sectorsDeallocated,
      errors: this.#errors,
      unsupported: this.#unsupported,
      invalid: this.#invalid,
      backendErrors: this.#backendErrors,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      staleCompletions: this.#stale,
    };
  }

  /** Called once by the transport. */
  attach(host: DeviceHost): void {
    this.#host = host;
    this.#reporter = host.reporter.scoped(`queue ${REQUESTQ}`);
  }

  /** Reads struct virtio_blk_config (little-endian). */
  readConfig(offset: number, width: AccessWidth): number {
    return this.#config.read(offset, width);
  }

  /** Nothing is writable: `writeback` exists only with VIRTIO_BLK_F_CONFIG_WCE, not offered. */
  writeConfig(_offset: number, _width: AccessWidth, _value: number): void {}

  /** DRIVER_OK: fix how requests are served, then serve anything already made available. */
  activate(): void {
    const host = this.#host;
    if (!host) return;
    const negotiated = host.features;
    this.#io = this.#ioOptions(!hasFeature(negotiated, VIRTIO_BLK_F_FLUSH));
    this.#disk = Object.freeze({
      capacity: this.#disk.capacity,
      readOnly: this.#disk.readOnly,
      segMax: hasFeature(negotiated, VIRTIO_BLK_F_SEG_MAX) ? this.segMax : null,
      sizeMax: hasFeature(negotiated, VIRTIO_BLK_F_SIZE_MAX) ? this.sizeMax : null,
    });
    this.#discardDisk = Object.freeze({
      capacity: this.#disk.capacity,
      discard: hasFeature(negotiated, VIRTIO_BLK_F_DISCARD) ? this.discardConfig.discard : null,
      writeZeroes: hasFeature(negotiated, VIRTIO_BLK_F_WRITE_ZEROES)
        ? this.discardConfig.writeZeroes
        : null,
    });
    this.queueNotify(REQUESTQ);
  }

  /**
   * An available buffer notification: start every request in the queue, with
   * available buffer notifications suppressed while draining (§2.7.10, as
   * QEMU's `virtio_blk_handle_vq` does). Turning them back on is followed by
   * a look at the ring (2.7.10/D1): a driver on another CPU could have
   * published a request after the last pop, seen notifications off and not
   * notified. Each round that finds more drains again; the rounds are bounded
   * by the queue size, so a re-check that keeps saying "more" while nothing
   * comes cannot spin. The last step is always the re-enabling one.
   */
  queueNotify(index: number): void {
    const host = this.#host;
    if (!host || index !== REQUESTQ) return;
    const queue = host.queue(REQUESTQ);
    if (!queue) return;
    let completed = false;
    for (let round = 0; round <= queue.size; round++) {
      queue.disableNotifications();
      for (let chain = queue.pop(); chain; chain = queue.pop()) {
        if (this.#start(host, queue, chain)) completed = true;
      }
      if (!queue.enableNotifications()) break;
    }
    if (completed) host.usedBuffers(REQUESTQ);
  }

  /** Device reset (§2.4): requests in flight become inert. */
  reset(): void {
    this.#generation++;
    this.#abort.abort();
    this.#abort = new AbortController();
    this.#io = this.#ioOptions(true);
  }

  /** `QueueReset` (§2.6.1): the only queue, so the same as {@linkcode reset}. */
  queueReset(index: number): void {
    if (index === REQUESTQ) this.reset();
  }

  // ----------------------------------------------------------- requests

  /**
   * Parses one request and either completes it at once (returns `true`) or
   * starts its backend work (returns `false`).
   */
  #start(host: DeviceHost, queue: DeviceQueue, chain: DescriptorChain): boolean {
    const slot = this.#slotFor(chain.head);
    const parsed = this.parts.parseBlockRequest(
      host.memory,
      chain,
      this.#disk,
      this.#reporter!,
      slot.scratch,
      queue.streams.readChain,
    );
    this.#count(parsed.type);
    if (
      parsed.op === "reject" && parsed.status === VIRTIO_BLK_S_UNSUPP &&
      (parsed.type === VIRTIO_BLK_T_DISCARD || parsed.type === VIRTIO_BLK_T_WRITE_ZEROES)
    ) {
      return this.#startDiscard(host, queue, chain, slot, parsed.type);
    }
    if (parsed.op === "reject") {
      if (parsed.violation) this.#invalid++;
      if (!parsed.complete) {
        // Nothing can tell the driver about this chain: keep it and ask
        // for a reset (lab policy; returning it would leave a stale status).
        host.needsReset(
          parsed.violation ?? `Request at head ${chain.head} cannot be completed (§${parsed.id})`,
        );
        return false;
      }
      this.#finish(host, queue, chain, parsed.status, 0);
      return true;
    }
    this.#invalid += parsed.warnings;
    slot.request = parsed;
    slot.chain = chain;
    slot.queue = queue;
    slot.generation = this.#generation;
    slot.busy = true;
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    let work: Promise<void>;
    try {
      work = this.parts.executeBlockRequest(
        this.backend,
        host.memory,
        chain,
        parsed,
        this.#io,
        queue.streams.writeChain,
      );
    } catch (e) {
      work = Promise.reject(e);
    }
    work.then(slot.done, slot.fail);
    return false;
  }

  /**
   * A discard or write zeroes whose framing `parseBlockRequest` checked:
   * check its segments, then complete it at once (returns `true`) or start
   * its backend work (returns `false`).
   */
  #startDiscard(
    host: DeviceHost,
    queue: DeviceQueue,
    chain: DescriptorChain,
    slot: HeadSlot,
    type: number,
  ): boolean {
    const count = this.parts.parseDiscardRequest(
      host.memory,
      chain,
      type,
      this.#discardDisk,
      this.#reporter!,
      slot.segments,
      queue.streams.readChain,
    );
    if (typeof count !== "number") {
      if (count.violation) this.#invalid++;
      this.#finish(host, queue, chain, count.status, 0);
      return true;
    }
    let sectors = 0;
    for (let i = 0; i < count; i++) sectors += slot.segments[i].sectors;
    slot.discardType = type;
    slot.discardSectors = sectors;
    slot.chain = chain;
    slot.queue = queue;
    slot.generation = this.#generation;
    slot.busy = true;
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    let work: Promise<number>;
    try {
      work = this.parts.executeDiscardRequest(this.backend, type, slot.segments, count, {
        signal: this.#abort.signal,
      });
    } catch (e) {
      work = Promise.reject(e);
    }
    work.then(slot.discarded, slot.fail);
    return false;
  }

  /** The slot of a head, a fresh one if stale work still holds the old one. */
  #slotFor(head: number): HeadSlot {
    const existing = this.#slots[head];
    if (existing && !existing.busy) return existing;
    const scratch = emptyBlockRequest();
    const slot: HeadSlot = {
      scratch,
      request: scratch,
      chain: null,
      queue: null,
      generation: 0,
      busy: false,
      segments: [],
      discardType: -1,
      discardSectors: 0,
      done: () => this.#complete(slot, VIRTIO_BLK_S_OK),
      discarded: (deallocated) => {
        if (slot.generation === this.#generation && Number.isSafeInteger(deallocated)) {
          this.#sectorsDeallocated += deallocated;
        }
        this.#complete(slot, VIRTIO_BLK_S_OK);
      },
      fail: () => {
        if (slot.generation === this.#generation) this.#backendErrors++;
        this.#complete(slot, VIRTIO_BLK_S_IOERR);
      },
    };
    this.#slots[head] = slot;
    return slot;
  }

  #count(type: number): void {
    switch (type) {
      case -1:
        return;
      case VIRTIO_BLK_T_IN:
        this.#counts.in++;
        return;
      case VIRTIO_BLK_T_OUT:
        this.#counts.out++;
        return;
      case VIRTIO_BLK_T_FLUSH:
        this.#counts.flush++;
        return;
      case VIRTIO_BLK_T_GET_ID:
        this.#counts.getId++;
        return;
      case VIRTIO_BLK_T_DISCARD:
        this.#counts.discard++;
        return;
      case VIRTIO_BLK_T_WRITE_ZEROES:
        this.#counts.writeZeroes++;
        return;
      default:
        this.#counts.other++;
    }
  }

  /** Backend work settled: complete the request, unless a reset made it stale. */
  #complete(slot: HeadSlot, status: number): void {
    const { chain, queue, request } = slot;
    const discardType = slot.discardType;
    slot.discardType = -1;
    slot.busy = false;
    slot.chain = null;
    slot.queue = null;
    this.#inFlight--;
    const host = this.#host;
    if (
      !host || !chain || !queue || slot.generation !== this.#generation ||
      host.queue(REQUESTQ) !== queue
    ) {
      this.#stale++;
      return;
    }
    let filled = 0;
    if (discardType >= 0) {
      if (status === VIRTIO_BLK_S_OK) {
        if (discardType === VIRTIO_BLK_T_DISCARD) this.#sectorsDiscarded += slot.discardSectors;
        else this.#sectorsZeroed += slot.discardSectors;
      }
    } else if (status === VIRTIO_BLK_S_OK) {
      if (request.op === "read") {
        filled = request.length;
        this.#bytesRead += request.length;
      } else if (request.op === "get-id") {
        filled = request.length;
      } else if (request.op === "write") {
        this.#bytesWritten += request.length;
      }
    }
    try {
      this.#finish(host, queue, chain, status, filled);
      host.usedBuffers(REQUESTQ);
    } catch (e) {
      // This runs as a promise reaction: there is no caller to throw to. A
      // part that throws here (a broken replacement, a strict log) leaves the
      // chain unanswered, so the device asks for a reset, then hands the
      // error to the error hook rather than let it escape as an unhandled
      // rejection (as it hands a reset that itself throws).
      let resetError: unknown = null;
      try {
        host.needsReset(
          e instanceof ConformanceError
            ? e.violation
            : `Completing a request failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      } catch (thrown) {
        resetError = thrown;
      }
      const where = `${this.name} request completion`;
      this.#onError(e, where);
      if (resetError !== null) this.#onError(resetError, `${where}, asking for a reset`);
    }
  }

  /** Writes the status (and zeroes unfilled data) and returns the chain to the driver. */
  #finish(
    host: DeviceHost,
    queue: DeviceQueue,
    chain: DescriptorChain,
    status: number,
    filled: number,
  ): void {
    const len = this.parts.completeBlockRequest(host.memory, chain, status, filled);
    if (status === VIRTIO_BLK_S_IOERR) this.#errors++;
    else if (status === VIRTIO_BLK_S_UNSUPP) this.#unsupported++;
    queue.push(chain.head, len);
  }

  #ioOptions(writeThrough: boolean): BlockIoOptions {
    return Object.freeze({ writeThrough, id: this.#idBytes, signal: this.#abort.signal });
  }
}

function alignment(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(
      `Block device option discardSectorAlignment is ${value}, not an integer from 0 to 2^32 - 1`,
    );
  }
  return value;
}

function u32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 0xffff_ffff) {
    throw new RangeError(
      `Block device option ${name} is ${value}, not an integer from 1 to 2^32 - 1`,
    );
  }
  return value;
}
