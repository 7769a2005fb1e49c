/**
 * The virtio block driver (virtio v1.2 §5.2), in the manner of Linux's
 * `drivers/block/virtio_blk.c`: reads the capacity and transfer limits from
 * configuration space, splits transfers into requests that respect them,
 * keeps many requests in flight, and turns the status byte into errors.
 *
 * @module
 */

import { GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { VIRTIO_ID_BLOCK } from "../../virtio/device_ids.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import { type BufferSegment, type DriverQueue, VirtqueueFullError } from "../../virtqueue/types.ts";
import {
  blkRequestTypeName,
  blkStatusName,
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_BLK_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_CONFIG_UNUSED0,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_RESERVED_OFFSET,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "./constants.ts";

/** The only queue: requestq1 (§5.2.2). */
const REQUESTQ = 0;
/** Largest `len` one descriptor can carry. */
const MAX_DESCRIPTOR_BYTES = 0xffff_ffff;
/** Largest request size a driver may choose, in bytes (1 GiB: far below the 4 GiB chain limit). */
const MAX_TRANSFER_BYTES = 1024 * 1024 * 1024;
/** Status byte value before the device writes it: not a status the spec defines. */
const STATUS_UNSET = 0xff;

/** Options for {@linkcode VirtioBlockDriver}. */
export interface VirtioBlockDriverOptions {
  /**
   * Largest request this driver sends, in bytes, from 512 to 1 GiB (default
   * 1 MiB, rounded down to whole sectors); the device's `seg_max × size_max`
   * may lower it.
   */
  readonly maxTransferBytes?: number;
  /** Negotiate VIRTIO_BLK_F_FLUSH (default `true`); without it the device writes through. */
  readonly flush?: boolean;
  /** Queue size to ask for, in descriptors (default: `QueueNumMax`, capped by the transport). */
  readonly queueSize?: number;
}

/** A request completed with a status other than VIRTIO_BLK_S_OK. */
export class BlockIoError extends Error {
  /** The request type, such as VIRTIO_BLK_T_IN. */
  readonly type: number;
  /** First sector of the request (0 for flush and GET_ID). */
  readonly sector: bigint;
  /** Sectors in the request (0 for flush and GET_ID). */
  readonly count: number;
  /** The status byte: VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP, or a value the spec does not define. */
  readonly status: number;

  /**
   * Records the failed request.
   *
   * @param type Request type.
   * @param sector First sector.
   * @param count Sectors.
   * @param status Status byte.
   */
  constructor(type: number, sector: bigint, count: number, status: number) {
    super(
      `${blkRequestTypeName(type)} of ${count} sector(s) at sector ${sector} failed with ` +
        `${blkStatusName(status)} (${status})`,
    );
    this.name = "BlockIoError";
    this.type = type;
    this.sector = sector;
    this.count = count;
    this.status = status;
  }
}

/** A transfer reaches past the disk's capacity; refused before anything is sent (5.2.6.1/1). */
export class BlockRangeError extends RangeError {
  /** First sector asked for. */
  readonly sector: bigint;
  /** Sectors asked for. */
  readonly count: number;
  /** The disk's capacity, in sectors. */
  readonly capacity: bigint;

  /**
   * Records the refused range.
   *
   * @param sector First sector.
   * @param count Sectors.
   * @param capacity Capacity in sectors.
   */
  constructor(sector: bigint, count: number, capacity: bigint) {
    super(
      `Transfer of ${count} sector(s) at sector ${sector} reaches past the capacity of ` +
        `${capacity} sectors (5.2.6.1/1)`,
    );
    this.name = "BlockRangeError";
    this.sector = sector;
    this.count = count;
    this.capacity = capacity;
  }
}

/** A write to a read-only disk (VIRTIO_BLK_F_RO); refused before anything is sent. */
export class BlockReadOnlyError extends Error {
  /** First sector of the refused write. */
  readonly sector: bigint;
  /** Sectors in the refused write. */
  readonly count: number;

  /**
   * Records the refused write.
   *
   * @param sector First sector.
   * @param count Sectors.
   */
  constructor(sector: bigint, count: number) {
    super(`Write of ${count} sector(s) at sector ${sector} refused: the disk is read-only`);
    this.name = "BlockReadOnlyError";
    this.sector = sector;
    this.count = count;
  }
}

/** The driver cannot take requests. */
export class BlockDriverError extends Error {
  /** `"not-bound"`, `"removed"` or `"queue-broken"`. */
  readonly code: string;

  /**
   * Records the reason.
   *
   * @param code A short machine-readable reason.
   * @param message One sentence.
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "BlockDriverError";
    this.code = code;
  }
}

/** Counters of a {@linkcode VirtioBlockDriver} (a fresh snapshot on every read). */
export interface BlockDriverStats {
  /** Requests sent to the device. */
  readonly requests: number;
  /** Requests that completed with an error status. */
  readonly errors: number;
  /** Data bytes read. */
  readonly bytesRead: number;
  /** Data bytes written. */
  readonly bytesWritten: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  /** Largest number of requests in flight at once. */
  readonly maxInFlight: number;
}

interface Request {
  readonly type: number;
  readonly sector: bigint;
  readonly length: number;
  /** Data to write (OUT). */
  readonly source: Uint8Array | null;
  /** Where read data goes (IN, GET_ID). */
  readonly dest: Uint8Array | null;
  /** Header (16 bytes) then status (1 byte), or -1. */
  header: number;
  /** Data bounce buffer, or -1. */
  data: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * Drives a virtio block device's one request queue.
 *
 * Negotiates VIRTIO_BLK_F_SIZE_MAX, _SEG_MAX, _BLK_SIZE, _FLUSH, _RO
 * (accepted whenever offered, 5.2.6.1/2), VIRTIO_F_EVENT_IDX,
 * VIRTIO_F_INDIRECT_DESC and VIRTIO_F_VERSION_1.
 *
 * Transfers are split into requests of at most {@linkcode maxRequestBytes};
 * each request carries up to `seg_max` data segments of at most `size_max`
 * bytes. Requests go out as long as the queue has descriptors and guest
 * memory has room for their bounce buffers; the rest wait and are sent as
 * completions free space. Each request has its own bounce buffers, freed
 * when it completes.
 *
 * @example
 * ```ts ignore
 * const disk = bus.find(VIRTIO_ID_BLOCK)!.driver as VirtioBlockDriver;
 * const boot = await disk.read(0, 1); // the first 512 bytes
 * await disk.write(8, new Uint8Array(4096));
 * await disk.flush();
 * ```
 */
export class VirtioBlockDriver implements VirtioDriver {
  /** `"virtio_blk"`, as in Linux. */
  readonly name = "virtio_blk";
  /** VIRTIO_ID_BLOCK (2). */
  readonly deviceId: number = VIRTIO_ID_BLOCK;
  /** The features this driver understands. */
  readonly supportedFeatures: bigint;

  readonly #maxTransferBytes: number;
  readonly #queueSize: number | undefined;
  #ctx: VirtioDriverContext | null = null;
  #vq: DriverQueue<Request> | null = null;
  #capacity = 0n;
  #blockSize = SECTOR_SIZE;
  #segMax = 1;
  #sizeMax = MAX_DESCRIPTOR_BYTES;
  #maxRequestBytes = SECTOR_SIZE;
  #live = false;
  #removed: BlockDriverError | null = null;
  readonly #pending: Request[] = [];
  readonly #inFlight = new Set<Request>();
  readonly #writes = new Set<Promise<void>>();

  #requests = 0;
  #errors = 0;
  #bytesRead = 0;
  #bytesWritten = 0;
  #maxInFlight = 0;

  /**
   * Creates an unbound driver; the driver core binds it with `probe`.
   *
   * @param options Transfer size cap, flush negotiation, queue size.
   */
  constructor(options: VirtioBlockDriverOptions = {}) {
    const max = options.maxTransferBytes ?? 1024 * 1024;
    if (!Number.isSafeInteger(max) || max < SECTOR_SIZE || max > MAX_TRANSFER_BYTES) {
      throw new RangeError(
        `Block driver maxTransferBytes ${max} is not from one ${SECTOR_SIZE}-byte sector to ` +
          `${MAX_TRANSFER_BYTES} bytes`,
      );
    }
    this.#maxTransferBytes = max - (max % SECTOR_SIZE);
    this.#queueSize = options.queueSize;
    const bits = [
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_RO,
    ];
    if (options.flush ?? true) bits.push(VIRTIO_BLK_F_FLUSH);
    this.supportedFeatures = features(...bits);
  }

  /** Disk size in 512-byte sectors (updated on configuration changes). */
  get capacity(): bigint {
    return this.#capacity;
  }

  /** Whether the device is read-only (VIRTIO_BLK_F_RO negotiated). */
  get readOnly(): boolean {
    return this.#ctx !== null && hasFeature(this.#ctx.features, VIRTIO_BLK_F_RO);
  }

  /** The device's optimal block size in bytes (`blk_size`, or 512 without VIRTIO_BLK_F_BLK_SIZE). */
  get blockSize(): number {
    return this.#blockSize;
  }

  /** Data segments per request: `seg_max` (1 without VIRTIO_BLK_F_SEG_MAX, as in Linux), capped by the queue. */
  get segMax(): number {
    return this.#segMax;
  }

  /** Bytes per data segment: `size_max`, or 2^32 - 1 (one descriptor) without VIRTIO_BLK_F_SIZE_MAX. */
  get sizeMax(): number {
    return this.#sizeMax;
  }

  /** Largest request this driver sends, in bytes: `min(seg_max × size_max, maxTransferBytes)` in whole sectors. */
  get maxRequestBytes(): number {
    return this.#maxRequestBytes;
  }

  /** Whether VIRTIO_BLK_F_FLUSH was negotiated (else the device writes through). */
  get canFlush(): boolean {
    return this.#ctx !== null && hasFeature(this.#ctx.features, VIRTIO_BLK_F_FLUSH);
  }

  /** Counters since probe. */
  get stats(): BlockDriverStats {
    return {
      requests: this.#requests,
      errors: this.#errors,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      inFlight: this.#inFlight.size,
      maxInFlight: this.#maxInFlight,
    };
  }

  /**
   * Reads the configuration and sets up the request queue.
   *
   * @throws {Error} If `blk_size` is not a power of two from 512 to 65536, or
   *   `seg_max × size_max` is less than one sector: the device is unusable.
   */
  probe(ctx: VirtioDriverContext): void {
    this.#ctx = ctx;
    this.#readConfig(ctx);
    this.#vq = ctx.setupQueue<Request>(REQUESTQ, {
      size: this.#queueSize,
      onUsed: () => this.#reap(),
    });
    // seg_max counts data segments only: the header and the status take two
    // more descriptors, which must fit the queue (also when they go into an
    // indirect table: a chain is never longer than the queue, 2.7.5.3.1/3).
    // NetBSD's ld@virtio got these limits wrong (PR kern/58338): it counted
    // header and status among the seg_max segments and treated SEG_MAX and
    // SIZE_MAX as transfer-size limits. The right reading: a request holds up
    // to seg_max data segments of up to size_max bytes each, so one request
    // can move seg_max × size_max bytes.
    this.#segMax = Math.max(1, Math.min(this.#segMax, this.#vq.size - 2));
    const perRequest = Math.min(this.#segMax * this.#sizeMax, this.#maxTransferBytes);
    this.#maxRequestBytes = perRequest - (perRequest % SECTOR_SIZE);
    if (this.#maxRequestBytes < SECTOR_SIZE) {
      throw new Error(
        `seg_max ${this.#segMax} × size_max ${this.#sizeMax} is less than one ${SECTOR_SIZE}-byte sector`,
      );
    }
  }

  /** DRIVER_OK is set: send what was queued. */
  ready(): void {
    this.#live = true;
    this.#pump();
  }

  /**
   * A configuration change: if the device set DEVICE_NEEDS_RESET, nothing in
   * flight will complete (2.1.1/4), so every request fails now; otherwise
   * read the capacity again (the disk may have been resized).
   */
  configChanged(): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    if (ctx.needsReset) {
      this.#live = false;
      this.#failAll(
        new BlockDriverError(
          "needs-reset",
          "Block device set DEVICE_NEEDS_RESET; its requests will not complete",
        ),
      );
      return;
    }
    this.#capacity = ctx.readConfigConsistent(() => ctx.readConfig64(VIRTIO_BLK_CONFIG_CAPACITY));
  }

  /**
   * The driver core unbinds the device and resets it right after: every
   * request pending or in flight fails with a {@linkcode BlockDriverError},
   * and every guest buffer is freed.
   */
  remove(): void {
    this.#live = false;
    this.#removed = new BlockDriverError("removed", "Block device was removed");
    this.#failAll(this.#removed);
    const vq = this.#vq as (DriverQueue<Request> & { detach?: () => unknown[] }) | null;
    if (vq && typeof vq.detach === "function") vq.detach();
    this.#vq = null;
  }

  // --------------------------------------------------------------- I/O

  /**
   * Reads sectors.
   *
   * @param sector First sector (512-byte units).
   * @param count Number of sectors.
   * @returns `count × 512` bytes.
   * @throws {BlockRangeError} If the range reaches past {@linkcode capacity} (nothing is sent).
   * @throws {BlockIoError} If the device reports an error.
   * @throws {GuestOutOfMemoryError} If guest memory cannot hold even one request's buffers.
   * @throws {BlockDriverError} If the driver is not bound or was removed, or the device broke the queue.
   */
  async read(sector: number | bigint, count: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`Sector count ${count} is not a non-negative integer`);
    }
    const dest = new Uint8Array(count * SECTOR_SIZE);
    await this.readInto(sector, dest);
    return dest;
  }

  /**
   * Reads sectors into `dest`, which must not be changed until the promise settles.
   *
   * @param sector First sector.
   * @param dest Receives `dest.length / 512` sectors; its length is a multiple of 512.
   * @throws {RangeError} If `dest.length` is not a multiple of 512.
   * @throws {BlockRangeError} If the range reaches past {@linkcode capacity}.
   * @throws {BlockIoError} If the device reports an error (sectors of other requests may have been read).
   * @throws {GuestOutOfMemoryError} If guest memory cannot hold even one request's buffers.
   * @throws {BlockDriverError} If the driver is not bound or was removed, or the device broke the queue.
   */
  async readInto(sector: number | bigint, dest: Uint8Array): Promise<void> {
    const start = this.#checkTransfer(sector, dest.length);
    await this.#transfer(VIRTIO_BLK_T_IN, start, dest);
  }

  /**
   * Writes sectors; `data` must not be changed until the promise settles.
   *
   * @param sector First sector.
   * @param data Whole sectors: its length is a multiple of 512.
   * @throws {RangeError} If `data.length` is not a multiple of 512.
   * @throws {BlockReadOnlyError} On a read-only disk (nothing is sent).
   * @throws {BlockRangeError} If the range reaches past {@linkcode capacity}.
   * @throws {BlockIoError} If the device reports an error.
   * @throws {GuestOutOfMemoryError} If guest memory cannot hold even one request's buffers.
   * @throws {BlockDriverError} If the driver is not bound or was removed, or the device broke the queue.
   */
  write(sector: number | bigint, data: Uint8Array): Promise<void> {
    let done: Promise<void>;
    try {
      const start = this.#checkTransfer(sector, data.length);
      if (this.readOnly) throw new BlockReadOnlyError(start, data.length / SECTOR_SIZE);
      done = this.#transfer(VIRTIO_BLK_T_OUT, start, data);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#writes.add(done);
    const forget = () => this.#writes.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * Makes completed writes durable: waits for the writes already submitted,
   * then sends VIRTIO_BLK_T_FLUSH (sector 0, no data: 5.2.6.1/3, 5.2.6.1/4).
   * Without VIRTIO_BLK_F_FLUSH the device writes through and only the wait
   * is needed.
   *
   * @throws {BlockIoError} If the device reports an error.
   */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
    if (!this.canFlush) return;
    await this.#submit(VIRTIO_BLK_T_FLUSH, 0n, 0, null, null);
  }

  /**
   * Asks for the device ID string (VIRTIO_BLK_T_GET_ID, a 20-byte buffer as
   * 5.2.6.1/7 requires).
   *
   * @returns The ASCII string up to its first NUL (all 20 bytes if there is none).
   * @throws {BlockIoError} If the device reports an error (VIRTIO_BLK_S_UNSUPP if it has no ID).
   */
  async getId(): Promise<string> {
    const bytes = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    await this.#submit(VIRTIO_BLK_T_GET_ID, 0n, VIRTIO_BLK_ID_BYTES, null, bytes);
    const end = bytes.indexOf(0);
    return String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
  }

  // ---------------------------------------------------------- internals

  #readConfig(ctx: VirtioDriverContext): void {
    const negotiated = ctx.features;
    const config = ctx.readConfigConsistent(() => ({
      capacity: ctx.readConfig64(VIRTIO_BLK_CONFIG_CAPACITY),
      sizeMax: hasFeature(negotiated, VIRTIO_BLK_F_SIZE_MAX)
        ? ctx.readConfig(VIRTIO_BLK_CONFIG_SIZE_MAX, 4)
        : MAX_DESCRIPTOR_BYTES,
      segMax: hasFeature(negotiated, VIRTIO_BLK_F_SEG_MAX)
        ? ctx.readConfig(VIRTIO_BLK_CONFIG_SEG_MAX, 4)
        : 1,
      blkSize: hasFeature(negotiated, VIRTIO_BLK_F_BLK_SIZE)
        ? ctx.readConfig(VIRTIO_BLK_CONFIG_BLK_SIZE, 4)
        : SECTOR_SIZE,
      unused0: ctx.readConfig(VIRTIO_BLK_CONFIG_UNUSED0, 1),
    }));
    if (config.unused0 !== 0) {
      ctx.reporter.report(
        "5.2.5.2/3",
        `Padding byte unused0 of the block configuration reads ${config.unused0}, not 0`,
        { offset: VIRTIO_BLK_CONFIG_UNUSED0, value: config.unused0 },
        "ignored",
      );
    }
    const blk = config.blkSize;
    if (blk < SECTOR_SIZE || blk > 65536 || (blk & (blk - 1)) !== 0) {
      throw new Error(`blk_size ${blk} is not a power of two from 512 to 65536`);
    }
    this.#capacity = config.capacity;
    this.#blockSize = blk;
    // Linux uses 1 segment when seg_max reads 0 ("at least one, whatever they say").
    this.#segMax = Math.max(1, config.segMax);
    this.#sizeMax = config.sizeMax === 0 ? MAX_DESCRIPTOR_BYTES : config.sizeMax;
  }

  #checkTransfer(sector: number | bigint, length: number): bigint {
    if (this.#removed) throw this.#removed;
    if (!this.#ctx) {
      throw new BlockDriverError("not-bound", "Block driver is not bound to a device");
    }
    if (typeof sector === "number" && (!Number.isSafeInteger(sector) || sector < 0)) {
      throw new RangeError(`Sector ${sector} is not a non-negative integer`);
    }
    const start = BigInt(sector);
    if (start < 0n) throw new RangeError(`Sector ${sector} is negative`);
    if (length % SECTOR_SIZE !== 0) {
      throw new RangeError(
        `Transfer of ${length} bytes is not a whole number of ${SECTOR_SIZE}-byte sectors`,
      );
    }
    const count = length / SECTOR_SIZE;
    if (start + BigInt(count) > this.#capacity) {
      throw new BlockRangeError(start, count, this.#capacity);
    }
    return start;
  }

  /** Splits a transfer into requests of at most maxRequestBytes and waits for all of them. */
  async #transfer(type: number, start: bigint, buffer: Uint8Array): Promise<void> {
    const parts: Promise<void>[] = [];
    const step = this.#maxRequestBytes;
    for (let at = 0; at < buffer.length; at += step) {
      const piece = buffer.subarray(at, Math.min(at + step, buffer.length));
      const sector = start + BigInt(at / SECTOR_SIZE);
      parts.push(
        type === VIRTIO_BLK_T_OUT
          ? this.#submit(type, sector, piece.length, piece, null)
          : this.#submit(type, sector, piece.length, null, piece),
      );
    }
    // Wait for every part, so no request is still copying into `buffer`
    // when the caller hears about an error.
    const results = await Promise.allSettled(parts);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  #submit(
    type: number,
    sector: bigint,
    length: number,
    source: Uint8Array | null,
    dest: Uint8Array | null,
  ): Promise<void> {
    if (this.#removed) return Promise.reject(this.#removed);
    if (!this.#ctx) {
      return Promise.reject(
        new BlockDriverError("not-bound", "Block driver is not bound to a device"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({
        type,
        sector,
        length,
        source,
        dest,
        header: -1,
        data: -1,
        resolve,
        reject,
      });
      this.#pump();
    });
  }

  /** Sends pending requests while descriptors and guest memory allow. */
  #pump(): void {
    const vq = this.#vq;
    const ctx = this.#ctx;
    if (!vq || !ctx || !this.#live) return;
    let added = false;
    while (this.#pending.length > 0) {
      const request = this.#pending[0];
      if (request.header < 0) {
        try {
          this.#allocate(ctx, request);
        } catch (e) {
          this.#release(ctx, request);
          if (e instanceof GuestOutOfMemoryError && this.#inFlight.size > 0) break;
          this.#pending.shift();
          request.reject(e as Error);
          continue;
        }
      }
      const { readable, writable } = this.#segments(request);
      try {
        vq.add(readable, writable, request);
      } catch (e) {
        if (e instanceof VirtqueueFullError && this.#inFlight.size > 0) break;
        this.#release(ctx, request);
        this.#pending.shift();
        request.reject(e as Error);
        continue;
      }
      this.#pending.shift();
      this.#inFlight.add(request);
      this.#requests++;
      if (this.#inFlight.size > this.#maxInFlight) this.#maxInFlight = this.#inFlight.size;
      added = true;
    }
    if (added && vq.kickPrepare()) ctx.notify(REQUESTQ);
  }

  /** Allocates and fills the header (with the status byte after it) and the data bounce buffer. */
  #allocate(ctx: VirtioDriverContext, request: Request): void {
    const memory = ctx.memory;
    request.header = ctx.allocator.alloc(VIRTIO_BLK_REQ_HEADER_SIZE + 1, 16);
    memory.writeU32(request.header + VIRTIO_BLK_REQ_TYPE_OFFSET, request.type);
    memory.writeU32(request.header + VIRTIO_BLK_REQ_RESERVED_OFFSET, 0);
    memory.writeU64(request.header + VIRTIO_BLK_REQ_SECTOR_OFFSET, request.sector);
    memory.writeU8(request.header + VIRTIO_BLK_REQ_HEADER_SIZE, STATUS_UNSET);
    if (request.length > 0) {
      request.data = ctx.allocator.alloc(request.length, SECTOR_SIZE);
      if (request.source) memory.write(request.data, request.source);
    }
  }

  /** The chain of a request: header, then data split into segments of at most size_max, then status. */
  #segments(request: Request): { readable: BufferSegment[]; writable: BufferSegment[] } {
    const data: BufferSegment[] = [];
    for (let at = 0; at < request.length; at += this.#sizeMax) {
      data.push({ addr: request.data + at, len: Math.min(this.#sizeMax, request.length - at) });
    }
    const header = { addr: request.header, len: VIRTIO_BLK_REQ_HEADER_SIZE };
    const status = { addr: request.header + VIRTIO_BLK_REQ_HEADER_SIZE, len: 1 };
    return request.type === VIRTIO_BLK_T_OUT
      ? { readable: [header, ...data], writable: [status] }
      : { readable: [header], writable: [...data, status] };
  }

  #reap(): void {
    const vq = this.#vq;
    const ctx = this.#ctx;
    if (!vq || !ctx) return;
    do {
      vq.disableCallbacks();
      for (let used = vq.getBuf(); used; used = vq.getBuf()) this.#complete(ctx, used.token);
    } while (!vq.enableCallbacks());
    if (vq.broken) {
      this.#failAll(
        new BlockDriverError("queue-broken", `Request queue broken: ${vq.broken.message}`),
      );
      return;
    }
    this.#pump();
  }

  #complete(ctx: VirtioDriverContext, request: Request): void {
    this.#inFlight.delete(request);
    const status = ctx.memory.readU8(request.header + VIRTIO_BLK_REQ_HEADER_SIZE);
    if (status === VIRTIO_BLK_S_OK) {
      if (request.dest && request.length > 0) {
        request.dest.set(ctx.memory.bytes(request.data, request.length));
      }
      if (request.type === VIRTIO_BLK_T_IN) this.#bytesRead += request.length;
      if (request.type === VIRTIO_BLK_T_OUT) this.#bytesWritten += request.length;
      this.#release(ctx, request);
      request.resolve();
      return;
    }
    this.#errors++;
    this.#release(ctx, request);
    const sectors = request.type === VIRTIO_BLK_T_IN || request.type === VIRTIO_BLK_T_OUT
      ? request.length / SECTOR_SIZE
      : 0;
    request.reject(new BlockIoError(request.type, request.sector, sectors, status));
  }

  #release(ctx: VirtioDriverContext, request: Request): void {
    if (request.header >= 0) ctx.allocator.free(request.header);
    if (request.data >= 0) ctx.allocator.free(request.data);
    request.header = -1;
    request.data = -1;
  }

  #failAll(error: BlockDriverError): void {
    const ctx = this.#ctx;
    for (const request of [...this.#inFlight, ...this.#pending.splice(0)]) {
      if (ctx) this.#release(ctx, request);
      request.reject(error);
    }
    this.#inFlight.clear();
  }
}
