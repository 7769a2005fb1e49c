/**
 * The virtio block device model (virtio v1.2 §5.2) with one request queue,
 * serving a {@linkcode BlockBackend}. It validates every request as a
 * hardened device does, reporting the rule the driver broke, and runs any
 * number of requests at once, completing them in whatever order the backend
 * finishes.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
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
import { chainViews, readChain, writeChain } from "../../virtqueue/chain.ts";
import { ConfigSpace, VIRTIO_LAB_VENDOR_ID } from "../common.ts";
import type { BlockBackend } from "./backends.ts";
import {
  blkRequestTypeName,
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_BLK_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_LAYOUT,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_FEATURE_NAMES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "./constants.ts";

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

/** What a request needs from the backend once it has been validated. */
type Work =
  | { readonly kind: "read"; readonly offset: number; readonly length: number }
  | { readonly kind: "write"; readonly offset: number; readonly length: number }
  | { readonly kind: "flush" };

/**
 * A virtio block device (§5.2).
 *
 * Features offered: VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX,
 * VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_RESET, VIRTIO_BLK_F_SIZE_MAX,
 * VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE (512), VIRTIO_BLK_F_FLUSH, and
 * VIRTIO_BLK_F_RO for a read-only backend. `capacity` is the backend size in
 * 512-byte sectors.
 *
 * Requests: VIRTIO_BLK_T_IN, _OUT, _FLUSH and _GET_ID; any other type is
 * answered VIRTIO_BLK_S_UNSUPP. Checks, each reported with its rule and
 * answered VIRTIO_BLK_S_IOERR unless noted:
 *
 * - a 16-byte device-readable header (5.2.6/D1);
 * - at least one device-writable byte for the status (5.2.6/D2): without it
 *   the request cannot be completed at all, so the device reports it, keeps
 *   the chain and asks for a reset (DEVICE_NEEDS_RESET);
 * - data in the direction the type implies (5.2.6/D3);
 * - IN/OUT data a multiple of 512 bytes (5.2.6.1/5);
 * - IN/OUT inside `capacity`, computed without overflow (5.2.6.1/1);
 * - GET_ID data exactly 20 bytes (5.2.6.1/7): less is IOERR; more gets the
 *   20-byte ID, the rest zeroed, and OK, as QEMU does;
 * - FLUSH with a nonzero sector (5.2.6.1/3) or with data (5.2.6.1/4): logged,
 *   and the flush is done anyway.
 *
 * An OUT on a read-only device fails with IOERR and writes nothing (the
 * device's own duty, §5.2.6.2). A backend error is IOERR. When the driver
 * did not negotiate VIRTIO_BLK_F_FLUSH, every write is flushed before it
 * completes, because completed writes must then be stable (§5.2.6.2).
 *
 * The used `len` counts every device-writable byte: the data part is filled
 * (with data for a successful IN or GET_ID, with zeroes otherwise, so no
 * stale or partial data is left in it) and the status byte is last; for a
 * well-formed OUT or FLUSH that is 1.
 *
 * A device or queue reset aborts the requests in flight: their backend
 * operations never touch guest memory afterwards (see the `signal` contract
 * of {@linkcode BlockBackend}) and their completions are dropped.
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

  readonly #config = new ConfigSpace(VIRTIO_BLK_CONFIG_SIZE);
  readonly #idBytes = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  #host: DeviceHost | null = null;
  #generation = 0;
  #abort = new AbortController();

  #counts = { in: 0, out: 0, flush: 0, getId: 0, other: 0 };
  #bytesRead = 0;
  #bytesWritten = 0;
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
   * @param options Queue size, limits, ID string and name.
   * @throws {RangeError} If the queue size is not a power of two from 1 to
   *   32768, `segMax` or `sizeMax` is not a positive 32-bit integer, or the ID
   *   is not ASCII of at most 20 bytes.
   */
  constructor(backend: BlockBackend, options: VirtioBlockDeviceOptions = {}) {
    const queueSize = options.queueSize ?? 256;
    if (
      !Number.isInteger(queueSize) || queueSize < 1 || queueSize > 32768 ||
      (queueSize & (queueSize - 1)) !== 0
    ) {
      throw new RangeError(`Block queue size ${queueSize} is not a power of two from 1 to 32768`);
    }
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
    this.capacity = BigInt(Math.floor(backend.size / SECTOR_SIZE));
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
    this.deviceFeatures = features(...bits);
    this.#config.setU64(VIRTIO_BLK_CONFIG_CAPACITY, this.capacity);
    this.#config.setU32(VIRTIO_BLK_CONFIG_SIZE_MAX, this.sizeMax);
    this.#config.setU32(VIRTIO_BLK_CONFIG_SEG_MAX, this.segMax);
    this.#config.setU32(VIRTIO_BLK_CONFIG_BLK_SIZE, SECTOR_SIZE);
    // Everything else, unused0 and unused1 included, stays 0 (5.2.5.2/3).
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
  }

  /** Reads struct virtio_blk_config (little-endian). */
  readConfig(offset: number, width: AccessWidth): number {
    return this.#config.read(offset, width);
  }

  /** Nothing is writable: `writeback` exists only with VIRTIO_BLK_F_CONFIG_WCE, not offered. */
  writeConfig(_offset: number, _width: AccessWidth, _value: number): void {}

  /** DRIVER_OK: serve anything the driver already made available. */
  activate(): void {
    this.queueNotify(REQUESTQ);
  }

  /** An available buffer notification: start every request in the queue. */
  queueNotify(index: number): void {
    const host = this.#host;
    if (!host || index !== REQUESTQ) return;
    const queue = host.queue(REQUESTQ);
    if (!queue) return;
    let completed = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (this.#start(host, queue, chain)) completed = true;
    }
    if (completed) host.usedBuffers(REQUESTQ);
  }

  /** Device reset (§2.4): requests in flight become inert. */
  reset(): void {
    this.#generation++;
    this.#abort.abort();
    this.#abort = new AbortController();
  }

  /** `QueueReset` (§2.6.1): the only queue, so the same as {@linkcode reset}. */
  queueReset(index: number): void {
    if (index === REQUESTQ) this.reset();
  }

  // ----------------------------------------------------------- requests

  /**
   * Validates one request and either completes it at once (returns `true`)
   * or starts its backend work (returns `false`).
   */
  #start(host: DeviceHost, queue: DeviceQueue, chain: DescriptorChain): boolean {
    const reporter = host.reporter.scoped(`queue ${REQUESTQ}`);
    const head = chain.head;
    if (chain.writableLength === 0) {
      this.#invalid++;
      const violation = reporter.report(
        "5.2.6/D2",
        `Request at head ${head} has no device-writable byte for its status`,
        { head, readable: chain.readableLength },
        "request cannot be completed; device needs reset",
      );
      host.needsReset(violation);
      return false;
    }
    if (chain.readableLength < VIRTIO_BLK_REQ_HEADER_SIZE) {
      this.#invalid++;
      reporter.report(
        "5.2.6/D1",
        `Request at head ${head} has ${chain.readableLength} device-readable byte(s), ` +
          `less than the ${VIRTIO_BLK_REQ_HEADER_SIZE}-byte header`,
        { head, readable: chain.readableLength, writable: chain.writableLength },
        "completed with VIRTIO_BLK_S_IOERR",
      );
      return this.#finish(queue, chain, VIRTIO_BLK_S_IOERR, 0);
    }
    const header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE);
    readChain(host.memory, chain.readable, header);
    const view = new DataView(header.buffer);
    const type = view.getUint32(VIRTIO_BLK_REQ_TYPE_OFFSET, true);
    const sector = view.getBigUint64(VIRTIO_BLK_REQ_SECTOR_OFFSET, true);
    const readData = chain.readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
    const writeData = chain.writableLength - 1;
    const values = { head, type, sector, readData, writeData };
    const reject = (id: RequirementId, message: string): boolean => {
      this.#invalid++;
      reporter.report(id, message, values, "completed with VIRTIO_BLK_S_IOERR");
      return this.#finish(queue, chain, VIRTIO_BLK_S_IOERR, 0);
    };

    switch (type) {
      case VIRTIO_BLK_T_IN:
      case VIRTIO_BLK_T_OUT: {
        const isRead = type === VIRTIO_BLK_T_IN;
        if (isRead) this.#counts.in++;
        else this.#counts.out++;
        const name = blkRequestTypeName(type);
        const wrong = isRead ? readData : writeData;
        if (wrong !== 0) {
          return reject(
            "5.2.6/D3",
            `${name} request at head ${head} carries ${wrong} ${
              isRead ? "device-readable" : "device-writable"
            } data byte(s); its data must be ${isRead ? "device-writable" : "device-readable"}`,
          );
        }
        const length = isRead ? writeData : readData;
        if (length % SECTOR_SIZE !== 0) {
          return reject(
            "5.2.6.1/5",
            `${name} request at head ${head} moves ${length} data byte(s), not a multiple of ${SECTOR_SIZE}`,
          );
        }
        // Division, not a shift: chains reach 4 GiB and `>>` is a signed 32-bit shift.
        const sectors = BigInt(length / SECTOR_SIZE);
        if (sector + sectors > this.capacity) {
          return reject(
            "5.2.6.1/1",
            `${name} request at head ${head} for ${sectors} sector(s) at sector ${sector} reaches ` +
              `past the capacity of ${this.capacity} sectors`,
          );
        }
        if (!isRead && this.backend.readOnly) {
          // 5.2.6.2/1: with VIRTIO_BLK_F_RO offered a write fails with IOERR
          // and changes nothing. The device's own duty, not a driver error.
          return this.#finish(queue, chain, VIRTIO_BLK_S_IOERR, 0);
        }
        if (length === 0) return this.#finish(queue, chain, VIRTIO_BLK_S_OK, 0);
        const offset = Number(sector) * SECTOR_SIZE;
        this.#run(host, queue, chain, { kind: isRead ? "read" : "write", offset, length });
        return false;
      }
      case VIRTIO_BLK_T_FLUSH: {
        this.#counts.flush++;
        if (sector !== 0n) {
          this.#invalid++;
          reporter.report(
            "5.2.6.1/3",
            `Flush request at head ${head} has sector ${sector}, not 0`,
            values,
            "flushed anyway",
          );
        }
        if (readData !== 0 || writeData !== 0) {
          this.#invalid++;
          reporter.report(
            "5.2.6.1/4",
            `Flush request at head ${head} carries ${readData + writeData} data byte(s)`,
            values,
            "data ignored; flushed anyway",
          );
        }
        this.#run(host, queue, chain, { kind: "flush" });
        return false;
      }
      case VIRTIO_BLK_T_GET_ID: {
        this.#counts.getId++;
        if (readData !== 0) {
          return reject(
            "5.2.6/D3",
            `VIRTIO_BLK_T_GET_ID request at head ${head} carries ${readData} device-readable data ` +
              "byte(s); its data must be device-writable",
          );
        }
        if (writeData !== VIRTIO_BLK_ID_BYTES) {
          if (writeData < VIRTIO_BLK_ID_BYTES) {
            return reject(
              "5.2.6.1/7",
              `VIRTIO_BLK_T_GET_ID request at head ${head} has a ${writeData}-byte buffer, ` +
                `less than the ${VIRTIO_BLK_ID_BYTES} bytes of the ID`,
            );
          }
          this.#invalid++;
          reporter.report(
            "5.2.6.1/7",
            `VIRTIO_BLK_T_GET_ID request at head ${head} has a ${writeData}-byte buffer, ` +
              `not ${VIRTIO_BLK_ID_BYTES}`,
            values,
            "ID written to the first 20 bytes, the rest zeroed; completed with VIRTIO_BLK_S_OK",
          );
        }
        writeChain(host.memory, chain.writable, this.#idBytes);
        return this.#finish(queue, chain, VIRTIO_BLK_S_OK, VIRTIO_BLK_ID_BYTES);
      }
      default:
        this.#counts.other++;
        return this.#finish(queue, chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  /** Starts the backend work of a validated request; completes it when done. */
  #run(host: DeviceHost, queue: DeviceQueue, chain: DescriptorChain, work: Work): void {
    const generation = this.#generation;
    const signal = this.#abort.signal;
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    const flushWrites = !hasFeature(host.features, VIRTIO_BLK_F_FLUSH);
    this.#execute(host, chain, work, signal, flushWrites).then(
      () => this.#complete(host, queue, chain, generation, VIRTIO_BLK_S_OK, work),
      () => {
        if (!signal.aborted) this.#backendErrors++;
        this.#complete(host, queue, chain, generation, VIRTIO_BLK_S_IOERR, work);
      },
    );
  }

  async #execute(
    host: DeviceHost,
    chain: DescriptorChain,
    work: Work,
    signal: AbortSignal,
    flushWrites: boolean,
  ): Promise<void> {
    if (work.kind === "flush") {
      await this.backend.flush();
      return;
    }
    const views = work.kind === "read"
      ? chainViews(host.memory, chain.writable, 0, work.length)
      : chainViews(host.memory, chain.readable, VIRTIO_BLK_REQ_HEADER_SIZE, work.length);
    const operations: Promise<void>[] = [];
    let offset = work.offset;
    for (const view of views) {
      operations.push(
        work.kind === "read"
          ? this.backend.read(offset, view, signal)
          : this.backend.write(offset, view, signal),
      );
      offset += view.length;
    }
    // Wait for every segment, failed or not, before completing: none may
    // still be writing into guest memory once the driver sees the status.
    const results = await Promise.allSettled(operations);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (work.kind === "write" && flushWrites) await this.backend.flush();
  }

  #complete(
    host: DeviceHost,
    queue: DeviceQueue,
    chain: DescriptorChain,
    generation: number,
    status: number,
    work: Work,
  ): void {
    this.#inFlight--;
    if (generation !== this.#generation || host.queue(REQUESTQ) !== queue) {
      this.#stale++;
      return;
    }
    let filled = 0;
    if (status === VIRTIO_BLK_S_OK && work.kind === "read") {
      filled = work.length;
      this.#bytesRead += work.length;
    } else if (status === VIRTIO_BLK_S_OK && work.kind === "write") {
      this.#bytesWritten += work.length;
    }
    this.#finish(queue, chain, status, filled);
    host.usedBuffers(REQUESTQ);
  }

  /**
   * Completes a request: zeroes the data part past `filled` bytes, writes
   * the status into the last writable byte, and returns the chain with every
   * writable byte counted in `len`.
   *
   * @returns `true`, for the callers' "completed now" bookkeeping.
   */
  #finish(queue: DeviceQueue, chain: DescriptorChain, status: number, filled: number): boolean {
    const memory = this.#host!.memory;
    const dataLength = chain.writableLength - 1;
    if (filled < dataLength) {
      for (const view of chainViews(memory, chain.writable, filled, dataLength - filled)) {
        view.fill(0);
      }
    }
    writeChain(memory, chain.writable, new Uint8Array([status]), dataLength);
    if (status === VIRTIO_BLK_S_IOERR) this.#errors++;
    else if (status === VIRTIO_BLK_S_UNSUPP) this.#unsupported++;
    queue.push(chain.head, chain.writableLength);
    return true;
  }
}

function u32(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 0xffff_ffff) {
    throw new RangeError(
      `Block device option ${name} is ${value}, not an integer from 1 to 2^32 - 1`,
    );
  }
  return value;
}
