/**
 * The virtio block driver (virtio v1.2 §5.2), in the manner of Linux's
 * `drivers/block/virtio_blk.c`: reads the capacity and transfer limits from
 * configuration space, splits transfers into requests that respect them,
 * keeps many requests in flight, and turns the status byte into errors.
 *
 * Requests live in slots, one per descriptor of the queue, made at probe:
 * each slot owns its 16-byte header and its status byte (one guest
 * allocation for all of them, like the `virtblk_req` Linux keeps per tag of
 * its blk-mq tag set) and the arrays its chain is listed in. A read into, or
 * a write from, a buffer that is itself guest memory goes to the device as
 * it is, so the data is copied once, by the device's backend; other buffers
 * go through a bounce buffer the slot keeps for the next request. Once warm,
 * a request allocates nothing in guest memory and no objects of its own
 * beyond the promise it returns.
 *
 * @module
 */

import { GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { ConfigGenerationError } from "../../transport/driver_config.ts";
import { VIRTIO_ID_BLOCK } from "../../virtio/device_ids.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import {
  type AddOptions,
  type BufferSegment,
  type DriverQueue,
  VirtqueueFullError,
} from "../../virtqueue/types.ts";
import { mergeParts } from "../common.ts";
import * as blk from "./constants.ts";
import { type BlockDriverParts, REFERENCE_BLOCK_DRIVER_PARTS } from "./parts.ts";
import type { BlockRequestChain } from "./request.ts";
import type { BlockTransferLimits, MutableBufferSegment } from "./transfer.ts";
import type {
  BlockDiscardConfig,
  DiscardCursor,
  DiscardRange,
  DiscardSegment,
  DiscardSplitLimits,
} from "./discard.ts";

export { BlockIoError } from "./request.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  SECTOR_SIZE,
  VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_STATUS_SIZE,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} = blk;

/** The only queue: requestq1 (§5.2.2). */
const REQUESTQ = 0;
/** Largest request size a driver may choose, in bytes (1 GiB: far below the 4 GiB chain limit). */
const MAX_TRANSFER_BYTES = 1024 * 1024 * 1024;
/**
 * A request with one data segment (header, data, status: 3 buffers; a flush
 * or GET_ID has at most that) goes into the ring's own descriptors while it
 * has 3 free; a request with several data segments, or any request once the
 * ring runs short, goes into an indirect table when VIRTIO_F_INDIRECT_DESC is
 * negotiated. A table saves ring descriptors but costs a guest allocation
 * per request and one more table for the device to walk: for a
 * one-segment request it would save two descriptors, not worth an
 * allocation on the common path. (Linux goes indirect for every chain of two
 * or more buffers, with a FIXME to tune the threshold.)
 */
const DIRECT_CHAIN_MAX = 3;
const DIRECT: AddOptions = Object.freeze({ indirect: "never" });
const AUTO: AddOptions = Object.freeze({ indirect: "auto" });
/**
 * How long a request may stay with the device by default before the driver
 * gives up on it, in milliseconds: 30 s, the request timeout Linux's blk-mq
 * gives a queue whose driver sets none (`30 * HZ` in
 * `blk_mq_init_allocated_queue`).
 */
export const DEFAULT_BLOCK_REQUEST_TIMEOUT_MS = 30_000;
/** Largest finite request timeout, in milliseconds (a `setTimeout` delay is a signed 32-bit count). */
const MAX_REQUEST_TIMEOUT_MS = 2 ** 31 - 1;
/**
 * The watchdog looks at the requests in flight this many times per timeout,
 * and gives up on one that was in flight for this many looks and one more:
 * a request settles between 1 and 1.25 timeouts after it was sent.
 */
const WATCHDOG_TICKS = 4;
/** Smallest bounce buffer a slot keeps, in bytes. */
const MIN_BOUNCE_BYTES = 4096;
const NO_DATA = new Uint8Array(0);
/**
 * Most segments the driver puts in one discard or write zeroes request,
 * whatever `max_discard_seg` allows (Linux's `MAX_DISCARD_SEGMENTS`): the
 * segment table is one guest buffer of 16 bytes per segment.
 */
export const MAX_DISCARD_SEGMENTS = 256;

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
  /** Negotiate VIRTIO_BLK_F_DISCARD and VIRTIO_BLK_F_WRITE_ZEROES when offered (default `true`). */
  readonly discard?: boolean;
  /** Queue size to ask for, in descriptors (default: `QueueNumMax`, capped by the transport). */
  readonly queueSize?: number;
  /**
   * Guest memory the idle slots may keep in bounce buffers, in bytes
   * (default 1 MiB): a slot keeps its bounce buffer for the next request
   * while the total stays under this; beyond it, buffers are freed as their
   * requests complete.
   */
  readonly bounceCacheBytes?: number;
  /**
   * How long a request may stay with the device before the driver decides
   * the device stopped, in milliseconds (default
   * {@linkcode DEFAULT_BLOCK_REQUEST_TIMEOUT_MS}, 30 s; `Infinity`: wait
   * forever). A device that neither completes a request nor sets
   * DEVICE_NEEDS_RESET within it is given up: that request, every other one
   * in flight or waiting, and every later one fail with a
   * {@linkcode BlockTimeoutError} until the driver is bound again (after a
   * reset). One watchdog timer, checking every quarter of this, runs while
   * requests are in flight, so a request settles 1 to 1.25 times this after
   * it was sent.
   */
  readonly requestTimeoutMs?: number;
  /** Replacements for some of the driver-side parts (default: the reference ones). */
  readonly parts?: Partial<BlockDriverParts>;
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

/** A command the device did not offer (or offered with unusable limits); nothing is sent. */
export class BlockUnsupportedError extends Error {
  /** The request type, such as VIRTIO_BLK_T_DISCARD. */
  readonly type: number;

  /**
   * Records the refused command.
   *
   * @param type Request type.
   * @param message One sentence naming the feature.
   */
  constructor(type: number, message: string) {
    super(message);
    this.name = "BlockUnsupportedError";
    this.type = type;
  }
}

/** The driver cannot take requests. */
export class BlockDriverError extends Error {
  /** `"not-bound"`, `"removed"`, `"needs-reset"`, `"reset"` or `"queue-broken"`. */
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

/**
 * Checks a block request timeout (`VirtioBlockDriverOptions.requestTimeoutMs`).
 *
 * @param ms The timeout, in milliseconds.
 * @returns `ms`.
 * @throws {RangeError} If `ms` is neither from 1 to 2^31 - 1 nor `Infinity`.
 */
export function checkRequestTimeout(ms: number): number {
  if (ms !== Infinity && (typeof ms !== "number" || !(ms >= 1 && ms <= MAX_REQUEST_TIMEOUT_MS))) {
    throw new RangeError(
      `Block request timeout ${ms} is not from 1 to ${MAX_REQUEST_TIMEOUT_MS} milliseconds, ` +
        "or Infinity",
    );
  }
  return ms;
}

/** The names of request types in messages: `"read"`, `"write"`, `"flush"`, `"GET_ID"`. */
function requestName(type: number): string {
  switch (type) {
    case VIRTIO_BLK_T_IN:
      return "read";
    case VIRTIO_BLK_T_OUT:
      return "write";
    case VIRTIO_BLK_T_FLUSH:
      return "flush";
    case VIRTIO_BLK_T_GET_ID:
      return "GET_ID";
    default:
      return `type ${type}`;
  }
}

/**
 * The device kept a request longer than the driver's request timeout
 * without completing it or setting DEVICE_NEEDS_RESET: the driver gave up on
 * the device (`code` `"timeout"`). Every request then in flight or waiting
 * fails with this error, and so does every later one until the driver is
 * bound again. Whether a write that timed out reached the disk is unknown.
 */
export class BlockTimeoutError extends BlockDriverError {
  /** The timeout, in milliseconds. */
  readonly timeoutMs: number;
  /** What the oldest request was: `"read"`, `"write"`, `"flush"` or `"GET_ID"`. */
  readonly request: string;
  /** Its first sector (0 for a flush or GET_ID). */
  readonly sector: bigint;
  /** Its data bytes. */
  readonly bytes: number;

  /**
   * Records the request the device kept too long.
   *
   * @param timeoutMs The timeout, in milliseconds.
   * @param request The request's kind, as in messages.
   * @param sector Its first sector.
   * @param bytes Its data bytes.
   */
  constructor(timeoutMs: number, request: string, sector: bigint, bytes: number) {
    const data = request === "read" || request === "write"
      ? ` of ${bytes / SECTOR_SIZE} sector(s) at sector ${sector}`
      : "";
    super(
      "timeout",
      `Block device stopped answering: a ${request}${data} was not completed within ` +
        `${formatTimeout(timeoutMs)}; no request on it will complete until it is reset`,
    );
    this.name = "BlockTimeoutError";
    this.timeoutMs = timeoutMs;
    this.request = request;
    this.sector = sector;
    this.bytes = bytes;
  }
}

/** `30 s`, `1.5 s`, `250 ms`. */
function formatTimeout(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
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
  /** Sectors discarded (VIRTIO_BLK_T_DISCARD requests that succeeded). */
  readonly sectorsDiscarded: number;
  /** Sectors zeroed (VIRTIO_BLK_T_WRITE_ZEROES requests that succeeded). */
  readonly sectorsZeroed: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  /** Largest number of requests in flight at once. */
  readonly maxInFlight: number;
  /** Requests whose data went through a bounce buffer (the caller's buffer was not guest memory). */
  readonly bounced: number;
  /** Bounce buffers allocated in guest memory (each kept by its slot for later requests). */
  readonly bounceAllocations: number;
}

/** Where a slot stands. */
type SlotState = "free" | "stalled" | "in-flight" | "abandoned";

/**
 * One request slot: a {@linkcode BlockDriverRequest} the parts read and
 * write, plus what the driver needs to finish it. Made at probe, reused.
 */
interface Slot {
  /** Index in the slot table; the header and status buffers follow from it. */
  readonly index: number;
  type: number;
  sector: number | bigint;
  readonly header: BufferSegment;
  readonly status: BufferSegment;
  /** The data segments of the request, filled by `splitTransfer` (empty for a discard). */
  readonly data: MutableBufferSegment[];
  /** The segments of a discard or write zeroes request, filled by `splitDiscard`. */
  readonly segments: DiscardSegment[];
  /** The arrays the chain is listed in (handed to `buildBlockRequest`). */
  readonly lists: BlockRequestChain;
  /** The chain as `buildBlockRequest` returned it. */
  chain: BlockRequestChain;
  /** Data bytes in the request. */
  length: number;
  state: SlotState;
  /** The watchdog tick at which the request was given to the device. */
  tick: number;
  /** The slot's bounce buffer (guest address, or -1) and its size in bytes. */
  bounce: number;
  bounceSize: number;
  /** When bounced: the caller's buffer and where this request's share starts. */
  host: Uint8Array | null;
  hostOffset: number;
  /** The transfer this request is part of; `null` when it is the whole transfer. */
  job: Job | null;
  /** The write epoch of a write that is the whole transfer. */
  epoch: WriteEpoch | null;
  /** The caller's promise, when the request is the whole transfer. */
  resolve: (() => void) | null;
  reject: ((error: Error) => void) | null;
  /** Stores the promise's functions in the slot; made once. */
  readonly executor: (resolve: () => void, reject: (error: Error) => void) => void;
}

/** A transfer of more than one request, or one waiting for a slot. */
interface Job {
  readonly type: number;
  /** First sector of the transfer. */
  readonly start: number | bigint;
  /** The caller's buffer (empty for a discard or write zeroes). */
  readonly buffer: Uint8Array;
  /** Units the transfer covers: bytes of `buffer`, or sectors of `ranges`. */
  readonly total: number;
  /** The ranges of a discard or write zeroes, else `null`. */
  readonly ranges: readonly DiscardRange[] | null;
  /** How far the requests sent so far reached into `ranges`. */
  readonly cursor: DiscardCursor;
  /** The `unmap` flag of a write zeroes. */
  readonly unmap: boolean;
  /** Its guest address when it is guest memory, else -1. */
  readonly guest: number;
  /** Bytes of the transfer handed to requests so far. */
  next: number;
  /** Requests sent and not completed. */
  outstanding: number;
  /** The first error, reported once everything sent has completed. */
  error: Error | null;
  readonly epoch: WriteEpoch | null;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Writes submitted between two flushes: a flush waits for its epoch and every older one. */
interface WriteEpoch {
  pending: number;
  readonly waiters: (() => void)[];
  previous: WriteEpoch | null;
}

/**
 * Drives a virtio block device's one request queue.
 *
 * Negotiates VIRTIO_BLK_F_SIZE_MAX, _SEG_MAX, _BLK_SIZE, _FLUSH, _RO
 * (accepted whenever offered, 5.2.6.1/2), _DISCARD, _WRITE_ZEROES,
 * VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC and VIRTIO_F_VERSION_1.
 *
 * Discards and write zeroes ({@linkcode discard}, {@linkcode writeZeroes})
 * take lists of ranges, cut into requests of at most `max_*_seg` segments
 * and `max_*_sectors` sectors in all (`splitDiscard`), each laid out by
 * `buildDiscardRequest` with its segment table in the slot's bounce buffer;
 * a flush waits for them as for writes.
 *
 * Transfers are split into requests of at most {@linkcode maxRequestBytes};
 * each request carries up to `seg_max` data segments of at most `size_max`
 * bytes (5.2.3/D1). Requests go out as long as the queue has descriptors and slots; the
 * rest wait, in order, and are sent as completions free space. Short chains
 * use the ring's descriptors directly while it has them; long ones, or any
 * once it runs short, use an indirect table.
 *
 * A request's status is trusted only when the used `len` covers it: it is
 * the last writable byte, and nothing past `len` may be relied on
 * (2.7.8.3/1); a short `len` fails the request.
 *
 * Every step goes through {@linkcode parts} (`readBlockConfig`,
 * `blockTransferLimits`, `splitTransfer`, `buildBlockRequest`,
 * `finishBlockRequest`, `readDiscardConfig`, `splitDiscard`,
 * `buildDiscardRequest`), so any of them can be replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VirtioBlockDriver } from "./driver.ts";
 * import { createMachine } from "../../machine.ts";
 * import { VIRTIO_ID_BLOCK } from "../../virtio/device_ids.ts";
 * const machine = await createMachine();
 * const { virtio, allocator, memory } = machine;
 * const disk = virtio.find(VIRTIO_ID_BLOCK)!.driver as VirtioBlockDriver;
 * const boot = await disk.read(0, 1); // the first 512 bytes
 * assert.equal(boot.length, 512);
 * await disk.write(8, new Uint8Array(4096).fill(0xab)); // sectors 8-15
 * await disk.flush();
 * // Zero-copy: read straight into guest memory the caller owns.
 * const page = allocator.alloc(4096, 4096);
 * await disk.readInto(8, memory.bytes(page, 4096));
 * assert.equal(memory.readU8(page + 4095), 0xab);
 * await machine.close();
 * ```
 */
export class VirtioBlockDriver implements VirtioDriver {
  /** `"virtio_blk"`, as in Linux. */
  readonly name = "virtio_blk";
  /** VIRTIO_ID_BLOCK (2). */
  readonly deviceId: number = VIRTIO_ID_BLOCK;
  /** The features this driver understands. */
  readonly supportedFeatures: bigint;
  /** The steps this driver runs: the reference parts, with any replacements given. */
  readonly parts: BlockDriverParts;

  readonly #maxTransferBytes: number;
  readonly #queueSize: number | undefined;
  readonly #bounceCacheBytes: number;
  readonly #timeoutMs: number;
  /** The watchdog's timer while requests are in flight, else `null`. */
  #watchdog: ReturnType<typeof setTimeout> | null = null;
  /** Watchdog rounds so far. */
  #tick = 0;
  #ctx: VirtioDriverContext | null = null;
  #vq: DriverQueue<Slot> | null = null;
  #capacity = 0n;
  /** The capacity as a `number` when it is below 2^53 (always, for real disks), else -1. */
  #capacityNumber = 0;
  #blockSize = SECTOR_SIZE;
  #limits: BlockTransferLimits = { segMax: 1, sizeMax: SECTOR_SIZE, maxRequestBytes: SECTOR_SIZE };
  #discardConfig: BlockDiscardConfig = { discard: null, writeZeroes: null };
  #discardLimits: DiscardSplitLimits | null = null;
  #writeZeroesLimits: DiscardSplitLimits | null = null;
  #live = false;
  #removed: BlockDriverError | null = null;
  /** Why the device cannot be used until it is bound again (DEVICE_NEEDS_RESET, a broken queue...). */
  #failure: Error | null = null;

  /** Guest address of the slots' headers (16 bytes each), then their status bytes. */
  #slotArea = -1;
  #slots: Slot[] = [];
  /** Free slots, a stack: the slot freed last (whose bounce buffer is warm) goes out first. */
  #free: number[] = [];
  /** Prepared slots the ring had no room for, in order. */
  #stalled: Slot[] = [];
  /** Transfers waiting for slots, in order (`#waitingHead` is the first). */
  #waiting: Job[] = [];
  #waitingHead = 0;
  /** Where `readInto`/`write` buffers that are guest memory start in its `ArrayBuffer`. */
  #ramOffset = 0;
  #bounceBytes = 0;
  #writeEpoch: WriteEpoch = { pending: 0, waiters: [], previous: null };

  #requests = 0;
  #inFlight = 0;
  #errors = 0;
  #bytesRead = 0;
  #bytesWritten = 0;
  #sectorsDiscarded = 0;
  #sectorsZeroed = 0;
  #maxInFlight = 0;
  #bounced = 0;
  #bounceAllocations = 0;

  /**
   * Creates an unbound driver; the driver core binds it with `probe`.
   *
   * @param options Transfer size cap, flush negotiation, queue size, bounce cache, request
   *   timeout, parts.
   * @throws {RangeError} If an option is out of range.
   * @throws {TypeError} If a replacement part is not a function.
   */
  constructor(options: VirtioBlockDriverOptions = {}) {
    const max = options.maxTransferBytes ?? 1024 * 1024;
    if (!Number.isSafeInteger(max) || max < SECTOR_SIZE || max > MAX_TRANSFER_BYTES) {
      throw new RangeError(
        `Block driver maxTransferBytes ${max} is not from one ${SECTOR_SIZE}-byte sector to ` +
          `${MAX_TRANSFER_BYTES} bytes`,
      );
    }
    const cache = options.bounceCacheBytes ?? 1024 * 1024;
    if (!Number.isSafeInteger(cache) || cache < 0) {
      throw new RangeError(`Block driver bounceCacheBytes ${cache} is not a non-negative integer`);
    }
    this.#timeoutMs = checkRequestTimeout(
      options.requestTimeoutMs ?? DEFAULT_BLOCK_REQUEST_TIMEOUT_MS,
    );
    this.parts = mergeParts(REFERENCE_BLOCK_DRIVER_PARTS, options.parts);
    this.#maxTransferBytes = max - (max % SECTOR_SIZE);
    this.#queueSize = options.queueSize;
    this.#bounceCacheBytes = cache;
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
    if (options.discard ?? true) bits.push(VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES);
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
    return this.#limits.segMax;
  }

  /** Bytes per data segment: `size_max`, or 2^32 - 1 (one descriptor) without VIRTIO_BLK_F_SIZE_MAX. */
  get sizeMax(): number {
    return this.#limits.sizeMax;
  }

  /** Largest request this driver sends, in bytes: `min(seg_max × size_max, maxTransferBytes)` in whole sectors. */
  get maxRequestBytes(): number {
    return this.#limits.maxRequestBytes;
  }

  /** Whether VIRTIO_BLK_F_FLUSH was negotiated (else the device writes through). */
  get canFlush(): boolean {
    return this.#ctx !== null && hasFeature(this.#ctx.features, VIRTIO_BLK_F_FLUSH);
  }

  /**
   * The discard and write zeroes limits as read (a command is `null` when
   * its feature was not negotiated or its limits read 0).
   */
  get discardConfig(): BlockDiscardConfig {
    return this.#discardConfig;
  }

  /** Whether VIRTIO_BLK_T_DISCARD can be sent (negotiated, with usable limits). */
  get canDiscard(): boolean {
    return this.#discardLimits !== null;
  }

  /** Whether VIRTIO_BLK_T_WRITE_ZEROES can be sent (negotiated, with usable limits). */
  get canWriteZeroes(): boolean {
    return this.#writeZeroesLimits !== null;
  }

  /** Counters since probe. */
  get stats(): BlockDriverStats {
    return {
      requests: this.#requests,
      errors: this.#errors,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      sectorsDiscarded: this.#sectorsDiscarded,
      sectorsZeroed: this.#sectorsZeroed,
      inFlight: this.#inFlight,
      maxInFlight: this.#maxInFlight,
      bounced: this.#bounced,
      bounceAllocations: this.#bounceAllocations,
    };
  }

  /**
   * Reads the configuration, sets up the request queue and the request slots.
   *
   * @throws {RangeError} If `blk_size` is not a power of two from 512 to
   *   65536, the queue is shorter than 3 descriptors, or `seg_max × size_max`
   *   is less than one sector: the device is unusable.
   * @throws {GuestOutOfMemoryError} If the slots' headers do not fit in guest memory.
   */
  probe(ctx: VirtioDriverContext): void {
    this.#ctx = ctx;
    const config = this.parts.readBlockConfig(ctx);
    this.#setCapacity(config.capacity);
    this.#blockSize = config.blkSize ?? SECTOR_SIZE;
    const vq = ctx.setupQueue<Slot>(REQUESTQ, {
      size: this.#queueSize,
      onUsed: () => this.#reap(),
    });
    this.#vq = vq;
    // seg_max counts data segments only; header and status take two more
    // descriptors, and the chain fits the queue (2.7.5.3.1/3): see
    // blockTransferLimits.
    this.#limits = this.parts.blockTransferLimits(config, vq.size, this.#maxTransferBytes);
    this.#setDiscardConfig(this.parts.readDiscardConfig(ctx));
    this.#makeSlots(ctx, vq.size);
  }

  /** DRIVER_OK is set: send what was queued. */
  ready(): void {
    this.#live = true;
    this.#pump();
  }

  /**
   * A configuration change: if the device set DEVICE_NEEDS_RESET, nothing in
   * flight will complete (2.1.1/4), so every request fails now; otherwise
   * read the configuration again: the disk may have been resized, and
   * requests cut from now on follow the new limits (a configuration whose
   * limits became unusable keeps the old ones, and one whose `blk_size`
   * became invalid is ignored whole).
   */
  configChanged(): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    if (ctx.needsReset) {
      this.#fail(
        new BlockDriverError(
          "needs-reset",
          "Block device set DEVICE_NEEDS_RESET; its requests will not complete",
        ),
      );
      return;
    }
    let config;
    try {
      config = this.parts.readBlockConfig(ctx);
    } catch (e) {
      // An invalid blk_size, or a ConfigGeneration that never settled (no
      // consistent snapshot to read): nothing of this configuration is
      // trusted, and the last one read stays in use.
      if (!(e instanceof RangeError) && !(e instanceof ConfigGenerationError)) throw e;
      return;
    }
    this.#setCapacity(config.capacity);
    this.#blockSize = config.blkSize ?? SECTOR_SIZE;
    const vq = this.#vq;
    if (vq) {
      try {
        this.#limits = this.parts.blockTransferLimits(config, vq.size, this.#maxTransferBytes);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    }
    try {
      this.#setDiscardConfig(this.parts.readDiscardConfig(ctx));
    } catch (e) {
      if (!(e instanceof ConfigGenerationError)) throw e;
    }
  }

  /**
   * The per-request limits the discard and write zeroes requests are cut by:
   * `max_*_sectors` for the whole request (what passes both readings of
   * the limit), at most {@linkcode MAX_DISCARD_SEGMENTS} segments, cuts on
   * `discard_sector_alignment` (write zeroes has none).
   */
  #setDiscardConfig(config: BlockDiscardConfig): void {
    this.#discardConfig = config;
    const limits = (
      maxSectors: number,
      maxSegments: number,
      alignment: number,
    ): DiscardSplitLimits | null =>
      Number.isSafeInteger(maxSectors) && maxSectors >= 1 && Number.isSafeInteger(maxSegments) &&
        maxSegments >= 1
        ? {
          maxSectors,
          maxSegments: Math.min(maxSegments, MAX_DISCARD_SEGMENTS),
          alignment: Number.isSafeInteger(alignment) && alignment > 1 ? alignment : 1,
        }
        : null;
    const { discard, writeZeroes } = config;
    this.#discardLimits = discard
      ? limits(discard.maxSectors, discard.maxSegments, discard.alignment)
      : null;
    this.#writeZeroesLimits = writeZeroes
      ? limits(writeZeroes.maxSectors, writeZeroes.maxSegments, 1)
      : null;
  }

  /**
   * The driver core unbinds the device and resets it right after: every
   * request pending or in flight fails with a {@linkcode BlockDriverError},
   * and every guest buffer is freed.
   */
  remove(): void {
    this.#live = false;
    this.#stopWatchdog();
    this.#removed = new BlockDriverError("removed", "Block device was removed");
    this.#failAll(this.#removed);
    this.#releaseBuffers();
  }

  /**
   * The driver core has reset the device to recover it (after
   * DEVICE_NEEDS_RESET, or FAILED) and will probe this driver again: every
   * request in flight or waiting fails now with a {@linkcode BlockDriverError}
   * that says why — `"needs-reset"` when the device asked for the reset (the
   * error requests already got), else `"reset"` — since the device dropped
   * them and a write may or may not have reached the disk; it is the caller's
   * to retry. Guest buffers are freed; requests made from now on wait for the
   * new bring-up (and fail with `"removed"` if it fails).
   */
  resetPrepare(): void {
    this.#live = false;
    this.#stopWatchdog();
    const error = this.#failure ??
      new BlockDriverError(
        "reset",
        "Block device was reset to recover; the request was not completed and may be retried",
      );
    this.#failAll(error);
    this.#releaseBuffers();
    this.#failure = null;
  }

  /** Gives back the queue's chains and every guest buffer of the slots (the device was reset). */
  #releaseBuffers(): void {
    const vq = this.#vq;
    if (vq && typeof vq.detach === "function") vq.detach();
    this.#vq = null;
    const allocator = this.#ctx?.allocator;
    if (allocator) {
      for (const slot of this.#slots) {
        if (slot.bounce >= 0) allocator.free(slot.bounce);
        slot.bounce = -1;
        slot.bounceSize = 0;
      }
      if (this.#slotArea >= 0) allocator.free(this.#slotArea);
    }
    this.#bounceBytes = 0;
    this.#slotArea = -1;
    this.#slots = [];
    this.#free = [];
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
   * @throws {BlockDriverError} If the driver is not bound or was removed, or the device broke
   *   the queue or set DEVICE_NEEDS_RESET (then every later request fails at once too).
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
   * Reads sectors into `dest`, which must not be changed until the promise
   * settles. When `dest` is a view of guest memory (`memory.bytes(addr, n)`
   * over a region the caller owns), the device writes into it directly and
   * nothing is copied twice.
   *
   * @param sector First sector.
   * @param dest Receives `dest.length / 512` sectors; its length is a multiple of 512.
   * @throws {RangeError} If `dest.length` is not a multiple of 512.
   * @throws {BlockRangeError} If the range reaches past {@linkcode capacity}.
   * @throws {BlockIoError} If the device reports an error (sectors of other requests may have been read).
   * @throws {GuestOutOfMemoryError} If guest memory cannot hold even one request's buffers.
   * @throws {BlockDriverError} If the driver is not bound or was removed, or the device broke the queue.
   */
  readInto(sector: number | bigint, dest: Uint8Array): Promise<void> {
    let start: number | bigint;
    try {
      start = this.#checkTransfer(sector, dest.length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#transfer(VIRTIO_BLK_T_IN, start, dest, null);
  }

  /**
   * Writes sectors; `data` must not be changed until the promise settles.
   * When `data` is a view of guest memory, the device reads it directly.
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
    let start: number | bigint;
    try {
      start = this.#checkTransfer(sector, data.length);
      if (this.readOnly) throw new BlockReadOnlyError(BigInt(start), data.length / SECTOR_SIZE);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#transfer(VIRTIO_BLK_T_OUT, start, data, this.#writeEpoch);
  }

  /**
   * Makes completed writes durable: waits for the writes already submitted,
   * then sends VIRTIO_BLK_T_FLUSH (sector 0, no data: 5.2.6.1/3, 5.2.6.1/4).
   * Without VIRTIO_BLK_F_FLUSH the device writes through and only the wait
   * is needed.
   *
   * @throws {BlockIoError} If the device reports an error.
   * @throws {BlockDriverError} If the driver is not bound or was removed.
   */
  async flush(): Promise<void> {
    const epoch = this.#writeEpoch;
    this.#writeEpoch = { pending: 0, waiters: [], previous: epoch };
    await drained(epoch);
    if (!this.canFlush) return;
    this.#checkBound();
    await this.#transfer(VIRTIO_BLK_T_FLUSH, 0, NO_DATA, null);
  }

  /**
   * Asks for the device ID string (VIRTIO_BLK_T_GET_ID, a 20-byte buffer as
   * 5.2.6.1/7 requires).
   *
   * @returns The ASCII string up to its first NUL (all 20 bytes if there is none).
   * @throws {BlockIoError} If the device reports an error (VIRTIO_BLK_S_UNSUPP if it has no ID).
   * @throws {BlockDriverError} If the driver is not bound or was removed.
   */
  async getId(): Promise<string> {
    this.#checkBound();
    const bytes = new Uint8Array(VIRTIO_BLK_ID_BYTES);
    await this.#transfer(VIRTIO_BLK_T_GET_ID, 0, bytes, null);
    const end = bytes.indexOf(0);
    return String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
  }

  /**
   * Discards sectors (VIRTIO_BLK_T_DISCARD): the device may deallocate
   * them, and what reading them returns afterwards is the device's to say
   * (5.2.6.1/14). The ranges are cut into requests of at most
   * `max_discard_seg` segments and `max_discard_sectors` sectors, cut on
   * `discard_sector_alignment` (see `splitDiscard`). A later
   * {@linkcode flush} waits for them, as for writes.
   *
   * @param ranges One range or several (of whole sectors, each inside the capacity).
   * @throws {BlockUnsupportedError} Without VIRTIO_BLK_F_DISCARD (nothing is sent).
   * @throws {BlockReadOnlyError} On a read-only disk.
   * @throws {BlockRangeError} If a range reaches past {@linkcode capacity} (5.2.6/D4).
   * @throws {BlockIoError} If the device reports an error: then nothing may be
   *   assumed about which of the failed request's segments were done (5.2.6.1/15).
   * @throws {BlockDriverError} If the driver is not bound or was removed.
   */
  discard(ranges: DiscardRange | readonly DiscardRange[]): Promise<void> {
    return this.#command(VIRTIO_BLK_T_DISCARD, ranges, false);
  }

  /**
   * Zeroes sectors (VIRTIO_BLK_T_WRITE_ZEROES): once it resolves they read
   * back as zeroes (5.2.6.2/6). With `unmap` the device may deallocate them
   * instead of writing (useful only when `write_zeroes_may_unmap` says it
   * can). Cut into requests by `max_write_zeroes_seg` and
   * `max_write_zeroes_sectors`.
   *
   * @param ranges One range or several.
   * @param options `unmap`: let the device deallocate (default `false`).
   * @throws {BlockUnsupportedError} Without VIRTIO_BLK_F_WRITE_ZEROES (nothing is sent).
   * @throws {BlockReadOnlyError} On a read-only disk.
   * @throws {BlockRangeError} If a range reaches past {@linkcode capacity} (5.2.6/D4).
   * @throws {BlockIoError} If the device reports an error (5.2.6.1/15, as for discard).
   * @throws {BlockDriverError} If the driver is not bound or was removed.
   */
  writeZeroes(
    ranges: DiscardRange | readonly DiscardRange[],
    options: { readonly unmap?: boolean } = {},
  ): Promise<void> {
    return this.#command(VIRTIO_BLK_T_WRITE_ZEROES, ranges, options.unmap ?? false);
  }

  #command(
    type: number,
    ranges: DiscardRange | readonly DiscardRange[],
    unmap: boolean,
  ): Promise<void> {
    let list: readonly DiscardRange[];
    let total = 0;
    try {
      this.#checkBound();
      const isDiscard = type === VIRTIO_BLK_T_DISCARD;
      if ((isDiscard ? this.#discardLimits : this.#writeZeroesLimits) === null) {
        const feature = isDiscard ? "VIRTIO_BLK_F_DISCARD" : "VIRTIO_BLK_F_WRITE_ZEROES";
        throw new BlockUnsupportedError(
          type,
          `The block device cannot ${isDiscard ? "discard" : "write zeroes"}: ${feature} was not ` +
            "negotiated, or its limits read 0",
        );
      }
      list = Array.isArray(ranges)
        ? (ranges as readonly DiscardRange[]).map((r) => ({ sector: r.sector, count: r.count }))
        : [{ sector: (ranges as DiscardRange).sector, count: (ranges as DiscardRange).count }];
      for (const range of list) {
        if (!Number.isSafeInteger(range.count) || range.count < 0) {
          throw new RangeError(`Sector count ${range.count} is not a non-negative integer`);
        }
        this.#checkTransfer(range.sector, range.count * SECTOR_SIZE);
        total += range.count;
      }
      if (this.readOnly) {
        throw new BlockReadOnlyError(BigInt(list[0]?.sector ?? 0), total);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (total === 0) return Promise.resolve();
    const epoch = this.#writeEpoch;
    epoch.pending++;
    const promise = new Promise<void>((resolve, reject) => {
      this.#waiting.push({
        type,
        start: 0,
        buffer: NO_DATA,
        guest: -1,
        total,
        ranges: list,
        cursor: { range: 0, done: 0 },
        unmap,
        next: 0,
        outstanding: 0,
        error: null,
        epoch,
        resolve,
        reject,
      });
    });
    this.#pump();
    return promise;
  }

  // ------------------------------------------------------------- setup

  #setCapacity(capacity: bigint): void {
    this.#capacity = capacity;
    this.#capacityNumber = capacity <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(capacity) : -1;
  }

  /** One slot per descriptor: a request needs at least one. */
  #makeSlots(ctx: VirtioDriverContext, count: number): void {
    const headers = count * VIRTIO_BLK_REQ_HEADER_SIZE;
    const area = ctx.allocator.alloc(headers + count * VIRTIO_BLK_REQ_STATUS_SIZE, 16);
    this.#slotArea = area;
    this.#ramOffset = ctx.memory.bytes(ctx.memory.base, 0).byteOffset;
    const slots: Slot[] = [];
    for (let index = 0; index < count; index++) {
      const slot: Slot = {
        index,
        type: VIRTIO_BLK_T_IN,
        sector: 0,
        header: Object.freeze({
          addr: area + index * VIRTIO_BLK_REQ_HEADER_SIZE,
          len: VIRTIO_BLK_REQ_HEADER_SIZE,
        }),
        status: Object.freeze({ addr: area + headers + index, len: VIRTIO_BLK_REQ_STATUS_SIZE }),
        data: [],
        segments: [],
        lists: { readable: [], writable: [] },
        chain: { readable: [], writable: [] },
        length: 0,
        state: "free",
        tick: 0,
        bounce: -1,
        bounceSize: 0,
        host: null,
        hostOffset: 0,
        job: null,
        epoch: null,
        resolve: null,
        reject: null,
        executor: (resolve, reject) => {
          slot.resolve = resolve;
          slot.reject = reject;
        },
      };
      slots.push(slot);
    }
    this.#slots = slots;
    // Stack order: slot 0 goes out first.
    this.#free = slots.map((slot) => slot.index).reverse();
  }

  // ---------------------------------------------------------- requests

  #checkBound(): void {
    if (this.#removed) throw this.#removed;
    if (this.#failure) throw this.#failure;
    if (!this.#ctx) {
      throw new BlockDriverError("not-bound", "Block driver is not bound to a device");
    }
  }

  /**
   * Checks a transfer against the capacity (5.2.6.1/1), exactly: `sector`
   * as a `number` when it is one (every real disk is below 2^53 sectors).
   */
  #checkTransfer(sector: number | bigint, length: number): number | bigint {
    this.#checkBound();
    if (length % SECTOR_SIZE !== 0) {
      throw new RangeError(
        `Transfer of ${length} bytes is not a whole number of ${SECTOR_SIZE}-byte sectors`,
      );
    }
    const count = length / SECTOR_SIZE;
    if (typeof sector === "number") {
      if (!Number.isSafeInteger(sector) || sector < 0) {
        throw new RangeError(`Sector ${sector} is not a non-negative integer`);
      }
      const capacity = this.#capacityNumber;
      if (capacity >= 0) {
        if (sector > capacity - count) {
          throw new BlockRangeError(BigInt(sector), count, this.#capacity);
        }
        return sector;
      }
    }
    const start = BigInt(sector);
    if (start < 0n) throw new RangeError(`Sector ${sector} is negative`);
    if (start + BigInt(count) > this.#capacity) {
      throw new BlockRangeError(start, count, this.#capacity);
    }
    return start <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(start) : start;
  }

  /** Guest address of `buffer` when it is a view of guest RAM, else -1. */
  #guestAddress(buffer: Uint8Array): number {
    const memory = this.#ctx!.memory;
    if (buffer.buffer !== memory.buffer || buffer.length === 0) return -1;
    const offset = buffer.byteOffset - this.#ramOffset;
    if (offset < 0 || offset + buffer.length > memory.size) return -1;
    return memory.base + offset;
  }

  /**
   * Starts a transfer. The common case (a free slot, nobody waiting, one
   * request enough) allocates nothing but the returned promise.
   */
  #transfer(
    type: number,
    start: number | bigint,
    buffer: Uint8Array,
    epoch: WriteEpoch | null,
  ): Promise<void> {
    const isData = type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT;
    if (isData && buffer.length === 0) return Promise.resolve();
    const guest = isData ? this.#guestAddress(buffer) : -1;
    if (epoch) epoch.pending++;
    if (
      this.#live && this.#vq && this.#free.length > 0 && this.#stalled.length === 0 &&
      this.#waitingHead === this.#waiting.length
    ) {
      const slot = this.#slots[this.#free.pop()!];
      let n: number;
      try {
        n = this.#prepare(slot, type, start, buffer, guest, 0);
      } catch (e) {
        this.#release(slot);
        if (!(e instanceof GuestOutOfMemoryError) || this.#inFlight === 0) {
          if (epoch) settleEpoch(epoch);
          return Promise.reject(e);
        }
        // Bounce buffers of requests in flight hold the memory: wait for them.
        return this.#enqueue(type, start, buffer, guest, epoch, 0);
      }
      if (n === buffer.length) {
        const promise = new Promise<void>(slot.executor);
        slot.job = null;
        slot.epoch = epoch;
        this.#submit(slot);
        return promise;
      }
      // A transfer of several requests: the rest waits its turn.
      const promise = this.#enqueue(type, start, buffer, guest, epoch, n);
      const job = this.#waiting[this.#waiting.length - 1];
      job.outstanding = 1;
      slot.job = job;
      slot.epoch = null;
      this.#submit(slot);
      this.#pump();
      return promise;
    }
    const promise = this.#enqueue(type, start, buffer, guest, epoch, 0);
    this.#pump();
    return promise;
  }

  #enqueue(
    type: number,
    start: number | bigint,
    buffer: Uint8Array,
    guest: number,
    epoch: WriteEpoch | null,
    next: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({
        type,
        start,
        buffer,
        guest,
        total: buffer.length,
        ranges: null,
        cursor: NO_CURSOR,
        unmap: false,
        next,
        outstanding: 0,
        error: null,
        epoch,
        resolve,
        reject,
      });
    });
  }

  /**
   * Fills a slot with the next request of a transfer, from byte `at` of
   * `buffer`: data segments (`splitTransfer`), the bounce copy of an OUT,
   * then the header and the chain (`buildBlockRequest`).
   *
   * @returns The request's data bytes.
   */
  #prepare(
    slot: Slot,
    type: number,
    start: number | bigint,
    buffer: Uint8Array,
    guest: number,
    at: number,
  ): number {
    const memory = this.#ctx!.memory;
    const remaining = buffer.length - at;
    slot.type = type;
    slot.sector = at === 0 ? start : addSectors(start, at / SECTOR_SIZE);
    slot.host = null;
    slot.hostOffset = at;
    let n = 0;
    if (remaining > 0) {
      const isData = type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_OUT;
      let base: number;
      if (guest >= 0) {
        base = guest + at;
      } else {
        base = this.#bounceFor(
          slot,
          isData ? Math.min(remaining, this.#limits.maxRequestBytes) : remaining,
        );
        slot.host = buffer;
        this.#bounced++;
      }
      if (isData) {
        n = this.parts.splitTransfer(this.#limits, base, remaining, slot.data);
        if (!Number.isSafeInteger(n) || n <= 0 || n % SECTOR_SIZE !== 0 || n > remaining) {
          throw new RangeError(
            `splitTransfer cut a request of ${n} byte(s) off ${remaining}; it must be a ` +
              `positive multiple of ${SECTOR_SIZE}, at most what is left`,
          );
        }
      } else {
        setSegment(slot.data, base, remaining);
        n = remaining;
      }
      if (type === VIRTIO_BLK_T_OUT && slot.host) {
        memory.bytes(base, n).set(buffer.subarray(at, at + n));
      }
    } else if (slot.data.length !== 0) {
      slot.data.length = 0;
    }
    slot.length = n;
    slot.chain = this.parts.buildBlockRequest(memory, slot, slot.lists);
    return n;
  }

  /**
   * Fills a slot with the next discard or write zeroes request of a job:
   * segments (`splitDiscard`) into the slot's bounce buffer as the segment
   * table, then the header and the chain (`buildDiscardRequest`).
   *
   * @returns The sectors the request covers.
   */
  #prepareDiscard(slot: Slot, job: Job): number {
    const memory = this.#ctx!.memory;
    const limits = job.type === VIRTIO_BLK_T_DISCARD
      ? this.#discardLimits
      : this.#writeZeroesLimits;
    if (limits === null) {
      throw new BlockUnsupportedError(
        job.type,
        "The device's limits for this command became unusable",
      );
    }
    const count = this.parts.splitDiscard(
      limits,
      job.ranges!,
      job.cursor,
      slot.segments,
      job.unmap,
    );
    if (!Number.isInteger(count) || count < 1 || count > limits.maxSegments) {
      throw new RangeError(
        `splitDiscard cut a request of ${count} segment(s); it must be from 1 to ${limits.maxSegments}`,
      );
    }
    let sectors = 0;
    for (let i = 0; i < count; i++) sectors += slot.segments[i].sectors;
    if (sectors < 1 || sectors > limits.maxSectors) {
      throw new RangeError(
        `splitDiscard cut a request of ${sectors} sector(s); it must be from 1 to ${limits.maxSectors}`,
      );
    }
    const bytes = count * VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE;
    const table = this.#bounceFor(slot, bytes);
    slot.type = job.type;
    slot.sector = 0;
    slot.host = null;
    slot.hostOffset = 0;
    if (slot.data.length !== 0) slot.data.length = 0;
    slot.length = sectors * SECTOR_SIZE;
    slot.chain = this.parts.buildDiscardRequest(memory, {
      type: job.type,
      header: slot.header,
      status: slot.status,
      table: { addr: table, len: bytes },
      segments: slot.segments,
      count,
    }, slot.lists);
    return sectors;
  }

  /** The slot's bounce buffer, grown to at least `bytes`. */
  #bounceFor(slot: Slot, bytes: number): number {
    if (slot.bounceSize >= bytes) return slot.bounce;
    const allocator = this.#ctx!.allocator;
    if (slot.bounce >= 0) {
      allocator.free(slot.bounce);
      this.#bounceBytes -= slot.bounceSize;
      slot.bounce = -1;
      slot.bounceSize = 0;
    }
    let size = MIN_BOUNCE_BYTES;
    while (size < bytes) size *= 2;
    let addr: number;
    try {
      addr = allocator.alloc(size, SECTOR_SIZE);
    } catch (e) {
      if (!(e instanceof GuestOutOfMemoryError)) throw e;
      // Idle slots may be sitting on the memory: let them go and retry.
      this.#dropIdleBounceBuffers();
      size = bytes;
      addr = allocator.alloc(size, SECTOR_SIZE);
    }
    slot.bounce = addr;
    slot.bounceSize = size;
    this.#bounceBytes += size;
    this.#bounceAllocations++;
    return addr;
  }

  #dropIdleBounceBuffers(): void {
    const allocator = this.#ctx!.allocator;
    for (const index of this.#free) {
      const slot = this.#slots[index];
      if (slot.bounce < 0) continue;
      allocator.free(slot.bounce);
      this.#bounceBytes -= slot.bounceSize;
      slot.bounce = -1;
      slot.bounceSize = 0;
    }
  }

  /**
   * Adds a prepared slot's chain to the ring.
   *
   * @returns `"posted"`; `"full"` if the ring has no room while requests are
   *   in flight (the slot stays prepared, for the caller to stall); or
   *   `"failed"` if the add failed (the request has then failed).
   */
  #post(slot: Slot): "posted" | "full" | "failed" {
    const vq = this.#vq!;
    const { readable, writable } = slot.chain;
    const n = readable.length + writable.length;
    try {
      vq.add(readable, writable, slot, n <= DIRECT_CHAIN_MAX && vq.numFree >= n ? DIRECT : AUTO);
    } catch (e) {
      if (e instanceof VirtqueueFullError && this.#inFlight > 0) {
        slot.state = "stalled";
        return "full";
      }
      this.#release(slot);
      this.#settle(slot, e as Error);
      return "failed";
    }
    slot.state = "in-flight";
    slot.tick = this.#tick;
    if (this.#watchdog === null && this.#timeoutMs !== Infinity) this.#startWatchdog();
    this.#requests++;
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    return "posted";
  }

  /** Posts one slot and notifies the device, or stalls the slot if the ring is full. */
  #submit(slot: Slot): void {
    const result = this.#post(slot);
    if (result === "full") this.#stalled.push(slot);
    else if (result === "posted" && this.#vq!.kickPrepare()) this.#notify();
  }

  /**
   * Sends the available buffer notification. A device model that throws
   * while handling it (a strict conformance log, or a broken replacement
   * part) leaves the driver unable to tell what became of its requests:
   * they all fail with that error, and the driver takes no more until it is
   * bound again. Nothing is thrown at the caller, who holds a promise.
   */
  #notify(): void {
    try {
      this.#ctx!.notify(REQUESTQ);
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The device cannot be used any more: fail everything now and every request from now on. */
  #fail(error: Error): void {
    this.#live = false;
    this.#stopWatchdog();
    this.#failure ??= error;
    this.#failAll(error);
  }

  /**
   * Starts the watchdog: a timer every quarter of the request timeout that
   * gives up on the device when a request has been in flight for a whole
   * timeout. It stops itself at a round with nothing in flight (so a busy
   * driver sets one timer per round, not one per request), and when the
   * driver fails, is removed or is reset.
   */
  #startWatchdog(): void {
    const period = Math.max(1, Math.floor(this.#timeoutMs / WATCHDOG_TICKS));
    this.#watchdog = setTimeout(() => {
      this.#watchdog = null;
      this.#tick++;
      if (this.#inFlight === 0) return;
      let oldest: Slot | null = null;
      for (const slot of this.#slots) {
        if (slot.state === "in-flight" && (oldest === null || slot.tick < oldest.tick)) {
          oldest = slot;
        }
      }
      if (oldest !== null && this.#tick - oldest.tick > WATCHDOG_TICKS) {
        this.#fail(
          new BlockTimeoutError(
            this.#timeoutMs,
            requestName(oldest.type),
            BigInt(oldest.sector),
            oldest.length,
          ),
        );
        return;
      }
      this.#startWatchdog();
    }, period);
  }

  #stopWatchdog(): void {
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#watchdog = null;
  }

  /** Sends stalled slots, then waiting transfers, while the ring and the slots allow. */
  #pump(): void {
    const vq = this.#vq;
    if (!vq || !this.#ctx || !this.#live) return;
    let added = false;
    while (this.#stalled.length > 0) {
      const result = this.#post(this.#stalled[0]);
      if (result === "full") break;
      this.#stalled.shift();
      if (result === "posted") added = true;
    }
    while (
      this.#stalled.length === 0 && this.#waitingHead < this.#waiting.length &&
      this.#free.length > 0
    ) {
      const job = this.#waiting[this.#waitingHead];
      const slot = this.#slots[this.#free.pop()!];
      let n: number;
      try {
        n = job.ranges
          ? this.#prepareDiscard(slot, job)
          : this.#prepare(slot, job.type, job.start, job.buffer, job.guest, job.next);
      } catch (e) {
        this.#release(slot);
        if (e instanceof GuestOutOfMemoryError && this.#inFlight > 0) break;
        // The transfer cannot go on: what was sent finishes, the rest is not sent.
        job.error ??= e as Error;
        job.next = job.total;
        this.#dequeue();
        if (job.outstanding === 0) this.#settleJob(job);
        continue;
      }
      job.next += n;
      job.outstanding++;
      slot.job = job;
      slot.epoch = null;
      if (job.next >= job.total) this.#dequeue();
      const result = this.#post(slot);
      if (result === "posted") added = true;
      else if (result === "full") {
        this.#stalled.push(slot);
        break;
      }
    }
    if (added && vq.kickPrepare()) this.#notify();
  }

  #dequeue(): void {
    this.#waitingHead++;
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 64 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  #reap(): void {
    const vq = this.#vq;
    if (!vq || !this.#ctx) return;
    vq.drainUsed((used) => this.#completed(used.token, used.len));
    if (vq.broken) {
      this.#fail(
        new BlockDriverError("queue-broken", `Request queue broken: ${vq.broken.message}`),
      );
      return;
    }
    this.#pump();
  }

  /** The device returned a slot's chain: finish the request from its status. */
  #completed(slot: Slot, len: number): void {
    if (slot.state !== "in-flight") {
      // Failed already (DEVICE_NEEDS_RESET, a broken queue): the device is
      // done with its buffers now, nothing else is.
      if (slot.state === "abandoned") this.#release(slot);
      return;
    }
    this.#inFlight--;
    let error: Error | null;
    try {
      error = this.parts.finishBlockRequest(this.#ctx!.memory, slot, len);
    } catch (e) {
      // A replaced part that throws fails this request, not the interrupt handler.
      error = e instanceof Error ? e : new Error(String(e));
    }
    if (error === null) {
      const type = slot.type;
      if (type === VIRTIO_BLK_T_IN || type === VIRTIO_BLK_T_GET_ID) {
        if (slot.host) {
          slot.host.set(this.#ctx!.memory.bytes(slot.bounce, slot.length), slot.hostOffset);
        }
        if (type === VIRTIO_BLK_T_IN) this.#bytesRead += slot.length;
      } else if (type === VIRTIO_BLK_T_OUT) {
        this.#bytesWritten += slot.length;
      } else if (type === VIRTIO_BLK_T_DISCARD) {
        this.#sectorsDiscarded += slot.length / SECTOR_SIZE;
      } else if (type === VIRTIO_BLK_T_WRITE_ZEROES) {
        this.#sectorsZeroed += slot.length / SECTOR_SIZE;
      }
    } else {
      this.#errors++;
    }
    this.#release(slot);
    this.#settle(slot, error);
  }

  /** Puts a slot back on the free stack; its bounce buffer stays while the cache allows. */
  #release(slot: Slot): void {
    slot.state = "free";
    slot.host = null;
    if (slot.bounce >= 0 && this.#bounceBytes > this.#bounceCacheBytes) {
      this.#ctx!.allocator.free(slot.bounce);
      this.#bounceBytes -= slot.bounceSize;
      slot.bounce = -1;
      slot.bounceSize = 0;
    }
    this.#free.push(slot.index);
  }

  /** Settles what a finished request belongs to: the caller's promise, or its transfer. */
  #settle(slot: Slot, error: Error | null): void {
    const job = slot.job;
    slot.job = null;
    if (job === null) {
      const { resolve, reject, epoch } = slot;
      slot.resolve = null;
      slot.reject = null;
      slot.epoch = null;
      if (epoch) settleEpoch(epoch);
      if (error) reject?.(error);
      else resolve?.();
      return;
    }
    job.outstanding--;
    if (error) job.error ??= error;
    if (job.outstanding === 0 && job.next >= job.total) this.#settleJob(job);
  }

  #settleJob(job: Job): void {
    if (job.epoch) settleEpoch(job.epoch);
    if (job.error) job.reject(job.error);
    else job.resolve();
  }

  /** Fails every request: in flight (their slots wait for the device or a reset), stalled, waiting. */
  #failAll(error: Error): void {
    for (const slot of this.#slots) {
      if (slot.state === "in-flight") {
        slot.state = "abandoned";
        this.#inFlight--;
        this.#settle(slot, error);
      }
    }
    for (const slot of this.#stalled.splice(0)) {
      this.#release(slot);
      this.#settle(slot, error);
    }
    const waiting = this.#waiting.splice(0);
    const first = this.#waitingHead;
    this.#waitingHead = 0;
    for (let i = first; i < waiting.length; i++) {
      const job = waiting[i];
      job.error ??= error;
      job.next = job.total;
      if (job.outstanding === 0) this.#settleJob(job);
    }
  }
}

/** The cursor of a data transfer, which has no ranges (never advanced). */
const NO_CURSOR: DiscardCursor = Object.freeze({ range: 0, done: 0 }) as DiscardCursor;

/** `start + sectors`, as a `number` while it is one. */
function addSectors(start: number | bigint, sectors: number): number | bigint {
  if (typeof start === "number") {
    const sum = start + sectors;
    return Number.isSafeInteger(sum) ? sum : BigInt(start) + BigInt(sectors);
  }
  return start + BigInt(sectors);
}

/** Makes `segments` the one segment `[addr, addr + len)`, reusing its first object. */
function setSegment(segments: MutableBufferSegment[], addr: number, len: number): void {
  if (segments.length === 0) segments.push({ addr, len });
  else {
    segments[0].addr = addr;
    segments[0].len = len;
  }
  // A store to `length` is a runtime call even when nothing changes.
  if (segments.length !== 1) segments.length = 1;
}

/** A write of the epoch finished. */
function settleEpoch(epoch: WriteEpoch): void {
  epoch.pending--;
  if (epoch.pending === 0 && epoch.waiters.length > 0) {
    for (const wake of epoch.waiters.splice(0)) wake();
  }
}

/** Resolves once every write of `epoch` and of the epochs before it has finished. */
async function drained(epoch: WriteEpoch): Promise<void> {
  for (let e: WriteEpoch | null = epoch; e; e = e.previous) {
    const current = e;
    if (current.pending > 0) {
      await new Promise<void>((resolve) => current.waiters.push(resolve));
    }
  }
  epoch.previous = null;
}
