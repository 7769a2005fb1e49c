/**
 * The driver half of a split virtqueue (virtio v1.2 §2.7.13 and §2.7.14), in
 * the manner of Linux's `drivers/virtio/virtio_ring.c`: a free list of
 * descriptors, `add` / `kickPrepare` / `getBuf`, notification suppression
 * through flags or event indices, and indirect descriptor tables.
 *
 * The driver trusts nothing the device writes. It keeps a private shadow of
 * every chain it posted (token, descriptor count, writable bytes, indirect
 * table) and never reads its own descriptors back from guest memory to make
 * a decision, so a device scribbling over the descriptor table cannot make it
 * free the wrong descriptors. Every used entry is checked against that
 * shadow; a bad one is reported to the queue's conformance reporter and
 * breaks the queue (like Linux's `BAD_RING`).
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import { ConformanceError, type Violation, type ViolationValue } from "../conformance/log.ts";
import { type GuestMemory, hexAddress } from "../memory/guest_memory.ts";
import { type GuestAllocator, GuestOutOfMemoryError } from "../memory/allocator.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VRING_AVAIL_ALIGN_SIZE,
  VRING_DESC_ALIGN_SIZE,
  VRING_USED_ALIGN_SIZE,
} from "./constants.ts";
import {
  availEventOffset,
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  usedElemOffset,
  usedEventOffset,
  usedRingSize,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "./layout.ts";
import { vringNeedEvent } from "./event_idx.ts";
import {
  type AddOptions,
  type BufferSegment,
  type DriverQueue,
  type DriverQueueConfig,
  type DriverQueueFactory,
  type SplitQueueAddresses,
  type UsedBuffer,
  VirtqueueBrokenError,
  VirtqueueFullError,
} from "./types.ts";

/** Largest total length of one chain, in bytes (§2.7.5.2/1). */
const MAX_CHAIN_BYTES = 2 ** 32;
/** Largest `len` one descriptor can carry (le32). */
const MAX_DESC_LEN = 0xffff_ffff;

// Per-head shadow state.
const HEAD_FREE = 0;
/** Placed in the descriptor table and the available ring, `idx` not advanced yet. */
const HEAD_ADDED = 1;
/** Visible to the device: the available `idx` covers it. */
const HEAD_PUBLISHED = 2;

/** `#tables` entry of a chain without an indirect table. */
const NO_TABLE = -1;

/**
 * A chain the driver refuses to post because it would break a rule of the
 * spec (or could not be encoded in descriptors at all).
 */
export class VirtqueueChainError extends RangeError {
  /** The requirement id the chain would break, or `null` when no single rule applies. */
  readonly rule: string | null;
  /** Index of the offending buffer in `[...readable, ...writable]`, or -1 for the chain as a whole. */
  readonly segment: number;

  /**
   * Records what is wrong with the chain.
   *
   * @param rule Requirement id, or `null`.
   * @param segment Index of the offending buffer, or -1.
   * @param message What is wrong, with the values.
   */
  constructor(rule: string | null, segment: number, message: string) {
    super(rule === null ? message : `${message} (§${rule})`);
    this.name = "VirtqueueChainError";
    this.rule = rule;
    this.segment = segment;
  }
}

/** What {@linkcode SplitQueueDriver.create} needs: a queue config without addresses. */
export interface SplitQueueDriverCreateConfig
  extends Omit<DriverQueueConfig, "descAddr" | "availAddr" | "usedAddr"> {
  /** Allocates the three parts (and indirect tables); {@linkcode SplitQueueDriver.free} returns them. */
  readonly allocator: GuestAllocator;
}

/**
 * The driver half of a split virtqueue (§2.7).
 *
 * Lifecycle: allocate the parts ({@linkcode SplitQueueDriver.allocate}, or
 * {@linkcode SplitQueueDriver.create} which also builds the queue), give the
 * addresses to the transport, then `add` chains, `kickPrepare` (and notify the
 * device when it returns `true`), and `getBuf` when used buffers arrive. After
 * a device or queue reset, {@linkcode detach} hands back what was never used
 * and {@linkcode free} releases the memory; a new queue starts from index 0.
 *
 * @typeParam T The token type callers attach to chains.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { GuestAllocator } from "../memory/allocator.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { SplitQueueDriver } from "./driver_queue.ts";
 *
 * const memory = new GuestMemory(1 << 20);
 * const allocator = new GuestAllocator(memory);
 * const vq = SplitQueueDriver.create<string>({
 *   memory, allocator, index: 0, size: 8, eventIdx: false, indirect: false,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * const header = allocator.alloc(16);
 * const status = allocator.alloc(1);
 * vq.add([{ addr: header, len: 16 }], [{ addr: status, len: 1 }], "request 1");
 * vq.kickPrepare(); // true: the device has not suppressed notifications
 * vq.numFree; // 6
 * ```
 */
export class SplitQueueDriver<T = unknown> implements DriverQueue<T> {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Where the three parts live. */
  readonly addresses: SplitQueueAddresses;

  readonly #memory: GuestMemory;
  readonly #desc: number;
  readonly #avail: number;
  readonly #used: number;
  readonly #mask: number;
  readonly #eventIdx: boolean;
  readonly #indirect: boolean;
  readonly #reporter: DriverQueueConfig["reporter"];
  readonly #allocator: GuestAllocator | undefined;
  readonly #ownsParts: boolean;
  readonly #usedEventAddr: number;
  readonly #availEventAddr: number;

  /** Shadow links: the free list, and the order of descriptors inside each posted chain. */
  readonly #next: Uint16Array;
  #freeHead = 0;
  #numFree: number;
  /** Per head: HEAD_FREE, HEAD_ADDED or HEAD_PUBLISHED. */
  readonly #state: Uint8Array;
  readonly #tokens: (T | undefined)[];
  /** Per head: descriptors the chain takes in the main table. */
  readonly #count: Uint16Array;
  /** Per head: device-writable bytes posted. */
  readonly #writable: Float64Array;
  /** Per head: address of the indirect table, or NO_TABLE. */
  readonly #tables: Float64Array;
  /** The heads placed in each available ring slot (the driver's own copy). */
  readonly #availShadow: Uint16Array;

  /** Available `idx` as last published. */
  #availIdx = 0;
  /** Chains added since the last publication. */
  #added = 0;
  /** Chains published and not reaped. */
  #published = 0;
  /** Chains added and not reaped (published or not). */
  #inFlight = 0;
  /** Used ring index of the next entry to reap (`last_used_idx`). */
  #lastUsed = 0;
  #callbacks = true;
  #broken: Violation | null = null;
  #freed = false;
  #lastBadUsedFlags = -1;

  /**
   * Builds the driver half over parts the caller has allocated (aligned, and
   * large enough for `size` with the event fields when `eventIdx` is set).
   * Initializes the ring headers to 0, including the used ring's `flags`
   * (§2.7.10.1/1).
   *
   * @param config Memory, addresses, size, negotiated features, reporter and
   *   the allocator for indirect tables.
   * @param ownsParts Whether {@linkcode free} also returns the three parts to
   *   `config.allocator` (set by {@linkcode SplitQueueDriver.create}).
   * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768.
   * @throws {RangeError} If a part is misaligned (§2.7.1/1) or not inside RAM.
   */
  constructor(config: DriverQueueConfig, ownsParts = false) {
    const { memory, size, eventIdx } = config;
    if (!isValidQueueSize(size)) throw new QueueSizeError(size);
    checkPart(
      memory,
      "Descriptor table",
      config.descAddr,
      descTableSize(size),
      VRING_DESC_ALIGN_SIZE,
    );
    checkPart(
      memory,
      "Available ring",
      config.availAddr,
      availRingSize(size, eventIdx),
      VRING_AVAIL_ALIGN_SIZE,
    );
    checkPart(
      memory,
      "Used ring",
      config.usedAddr,
      usedRingSize(size, eventIdx),
      VRING_USED_ALIGN_SIZE,
    );
    if (ownsParts && !config.allocator) {
      throw new TypeError("A queue that owns its parts needs config.allocator to free them");
    }
    this.index = config.index;
    this.size = size;
    this.addresses = Object.freeze({
      descAddr: config.descAddr,
      availAddr: config.availAddr,
      usedAddr: config.usedAddr,
    });
    this.#memory = memory;
    this.#desc = config.descAddr;
    this.#avail = config.availAddr;
    this.#used = config.usedAddr;
    this.#mask = size - 1;
    this.#eventIdx = eventIdx;
    this.#indirect = config.indirect;
    this.#reporter = config.reporter;
    this.#allocator = config.allocator;
    this.#ownsParts = ownsParts;
    this.#usedEventAddr = config.availAddr + usedEventOffset(size);
    this.#availEventAddr = config.usedAddr + availEventOffset(size);

    this.#next = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.#next[i] = i + 1;
    this.#numFree = size;
    this.#state = new Uint8Array(size);
    this.#tokens = new Array<T | undefined>(size).fill(undefined);
    this.#count = new Uint16Array(size);
    this.#writable = new Float64Array(size);
    this.#tables = new Float64Array(size).fill(NO_TABLE);
    this.#availShadow = new Uint16Array(size);

    memory.writeU16(this.#avail + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
    memory.writeU16(this.#avail + VIRTQ_AVAIL_IDX_OFFSET, 0);
    memory.writeU16(this.#used + VIRTQ_USED_FLAGS_OFFSET, 0); // §2.7.10.1/1
    memory.writeU16(this.#used + VIRTQ_USED_IDX_OFFSET, 0);
    if (eventIdx) {
      memory.writeU16(this.#usedEventAddr, 0);
      memory.writeU16(this.#availEventAddr, 0);
    }
  }

  /**
   * Allocates the three parts of a queue from `allocator`, each aligned as
   * §2.7 requires (16, 2 and 4 bytes) and zeroed, so the used ring's `flags`
   * start at 0 (§2.7.10.1/1). The rings are sized with the event fields, so
   * they suit either setting of `VIRTIO_F_EVENT_IDX`.
   *
   * @param allocator The driver side's allocator.
   * @param size Queue Size, in descriptors.
   * @returns The addresses for `QueueDesc*`, `QueueDriver*` and `QueueDevice*`.
   * @throws {QueueSizeError} If `size` is not a legal Queue Size.
   * @throws {GuestOutOfMemoryError} If the allocator cannot fit a part (nothing stays allocated).
   */
  static allocate(allocator: GuestAllocator, size: number): SplitQueueAddresses {
    const sizes = [descTableSize(size), availRingSize(size, true), usedRingSize(size, true)];
    const aligns = [VRING_DESC_ALIGN_SIZE, VRING_AVAIL_ALIGN_SIZE, VRING_USED_ALIGN_SIZE];
    const got: number[] = [];
    try {
      for (let i = 0; i < 3; i++) got.push(allocator.alloc(sizes[i], aligns[i], { zero: true }));
    } catch (e) {
      for (const addr of got) allocator.free(addr);
      throw e;
    }
    return { descAddr: got[0], availAddr: got[1], usedAddr: got[2] };
  }

  /**
   * Allocates the parts with {@linkcode SplitQueueDriver.allocate} and builds
   * a queue that owns them: {@linkcode free} gives them back.
   *
   * @param config The queue's settings and the allocator.
   * @throws {QueueSizeError} If `size` is not a legal Queue Size.
   * @throws {GuestOutOfMemoryError} If the parts do not fit.
   */
  static create<T = unknown>(config: SplitQueueDriverCreateConfig): SplitQueueDriver<T> {
    const addresses = SplitQueueDriver.allocate(config.allocator, config.size);
    try {
      return new SplitQueueDriver<T>({ ...config, ...addresses }, true);
    } catch (e) {
      config.allocator.free(addresses.descAddr);
      config.allocator.free(addresses.availAddr);
      config.allocator.free(addresses.usedAddr);
      throw e;
    }
  }

  /** Free descriptors in the table. */
  get numFree(): number {
    return this.#numFree;
  }

  /** Chains added and not reaped (including chains not yet published by {@linkcode kickPrepare}). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The violation by the device that broke this queue, or `null`. */
  get broken(): Violation | null {
    return this.#broken;
  }

  /** The available `idx` as last published (16-bit, free-running). */
  get availIdx(): number {
    return this.#availIdx;
  }

  /** Used ring index of the next entry to reap (Linux's `last_used_idx`, 16-bit). */
  get lastUsedIdx(): number {
    return this.#lastUsed;
  }

  /**
   * Places a chain in the descriptor table (or in an indirect table) and its
   * head in the next available ring slot. The device cannot see it until
   * {@linkcode kickPrepare} advances the available `idx`.
   *
   * Device-readable buffers come first, then device-writable ones
   * (§2.7.4.2/1). With `VIRTIO_F_INDIRECT_DESC` negotiated and an allocator,
   * a chain of 2 or more buffers goes into a 16-byte aligned indirect table
   * by default (`options.indirect: "auto"`), taking one descriptor of the
   * ring; if the table cannot be allocated, "auto" falls back to direct
   * descriptors.
   *
   * @param readable Device-readable buffers, in order.
   * @param writable Device-writable buffers, in order.
   * @param token Returned by {@linkcode getBuf} with the used entry.
   * @param options Indirect table policy.
   * @throws {VirtqueueBrokenError} When the device broke the queue.
   * @throws {VirtqueueFullError} When too few descriptors are free.
   * @throws {VirtqueueChainError} When the chain is empty, has a zero-length
   *   (§2.7.5/D3) or out-of-RAM buffer (§2.7.5/D2), totals over 2^32 bytes
   *   (§2.7.5.2/1), has more buffers than the Queue Size (§2.7.5.3.1/3), or
   *   asks for an indirect table that was not negotiated (§2.7.5.3.1/1).
   * @throws {TypeError} If `indirect: "always"` is asked of a queue without an allocator.
   * @throws {GuestOutOfMemoryError} If `indirect: "always"` and the table does not fit.
   * @throws {Error} If the queue was freed.
   */
  add(
    readable: readonly BufferSegment[],
    writable: readonly BufferSegment[],
    token: T,
    options?: AddOptions,
  ): void {
    if (this.#broken) throw new VirtqueueBrokenError(this.#broken);
    this.#checkNotFreed();
    const nr = readable.length;
    const n = nr + writable.length;
    if (n === 0) throw new VirtqueueChainError(null, -1, "A chain needs at least one buffer");
    // Shape first (lengths, total), then whether every buffer lies in RAM.
    let total = 0;
    let writableBytes = 0;
    for (let k = 0; k < n; k++) {
      const len = (k < nr ? readable[k] : writable[k - nr]).len;
      if (!Number.isInteger(len) || len < 1 || len > MAX_DESC_LEN) {
        throw new VirtqueueChainError(
          len === 0 ? "2.7.5/D3" : null,
          k,
          `Buffer ${k} has length ${len}; a descriptor holds 1 to ${MAX_DESC_LEN} bytes`,
        );
      }
      total += len;
      if (k >= nr) writableBytes += len;
    }
    if (total > MAX_CHAIN_BYTES) {
      throw new VirtqueueChainError(
        "2.7.5.2/1",
        -1,
        `Chain of ${total} bytes is longer than 2^32 bytes`,
      );
    }
    if (n > this.size) {
      throw new VirtqueueChainError(
        "2.7.5.3.1/3",
        -1,
        `Chain of ${n} buffers is longer than the queue size ${this.size}`,
      );
    }
    for (let k = 0; k < n; k++) {
      const seg = k < nr ? readable[k] : writable[k - nr];
      if (!this.#memory.contains(seg.addr, seg.len)) {
        throw new VirtqueueChainError(
          "2.7.5/D2",
          k,
          `Buffer ${k} of ${seg.len} byte(s) at ${hexAddress(seg.addr)} is not inside guest RAM`,
        );
      }
    }

    const mode = options?.indirect ?? "auto";
    if (mode === "always" && !this.#indirect) {
      throw new VirtqueueChainError(
        "2.7.5.3.1/1",
        -1,
        "Indirect table asked for, but VIRTIO_F_INDIRECT_DESC was not negotiated",
      );
    }
    let table = NO_TABLE;
    if (mode === "always" || (mode === "auto" && this.#indirect && this.#allocator && n >= 2)) {
      if (!this.#allocator) {
        throw new TypeError(`Queue ${this.index} has no allocator for an indirect table`);
      }
      if (this.#numFree < 1) throw new VirtqueueFullError(1, this.#numFree);
      try {
        table = this.#allocator.alloc(VIRTQ_DESC_SIZE * n, VRING_DESC_ALIGN_SIZE);
      } catch (e) {
        // "auto" falls back to direct descriptors, like Linux when kmalloc fails.
        if (mode === "always" || !(e instanceof GuestOutOfMemoryError)) throw e;
      }
    }

    const memory = this.#memory;
    const head = this.#freeHead;
    let count: number;
    if (table === NO_TABLE) {
      if (this.#numFree < n) throw new VirtqueueFullError(n, this.#numFree);
      // The chain takes the first n descriptors of the free list, in free-list
      // order, so the shadow links double as the chain's links.
      let i = head;
      for (let k = 0; k < n; k++) {
        const seg = k < nr ? readable[k] : writable[k - nr];
        const last = k === n - 1;
        const flags = (k < nr ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT);
        const next = this.#next[i];
        writeDesc(memory, this.#desc + descOffset(i), seg.addr, seg.len, flags, last ? 0 : next);
        if (!last) i = next;
      }
      this.#freeHead = this.#next[i];
      count = n;
    } else {
      for (let k = 0; k < n; k++) {
        const seg = k < nr ? readable[k] : writable[k - nr];
        const last = k === n - 1;
        const flags = (k < nr ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT);
        writeDesc(memory, table + descOffset(k), seg.addr, seg.len, flags, last ? 0 : k + 1);
      }
      // One descriptor in the ring points at the table (§2.7.5.3): never
      // together with NEXT (§2.7.5.3.1/4).
      writeDesc(
        memory,
        this.#desc + descOffset(head),
        table,
        VIRTQ_DESC_SIZE * n,
        VIRTQ_DESC_F_INDIRECT,
        0,
      );
      this.#freeHead = this.#next[head];
      count = 1;
    }

    this.#state[head] = HEAD_ADDED;
    this.#tokens[head] = token;
    this.#count[head] = count;
    this.#writable[head] = writableBytes;
    this.#tables[head] = table;
    this.#numFree -= count;
    this.#inFlight++;

    const slot = (this.#availIdx + this.#added) & this.#mask;
    memory.writeU16(this.#avail + availRingEntryOffset(slot), head);
    this.#availShadow[slot] = head;
    this.#added++;
  }

  /**
   * Publishes the chains added since the last call by advancing the
   * available `idx`, then decides whether the device wants an available
   * buffer notification (§2.7.10.1): without `VIRTIO_F_EVENT_IDX`, unless the
   * used ring's `flags` hold `VIRTQ_USED_F_NO_NOTIFY` (2.7.10.1/2); with it,
   * if one of the new entries sits at index `avail_event`, ignoring `flags`
   * (2.7.10.1/3).
   *
   * @returns `true` if the caller should notify the device; `false` when
   *   nothing was added, the device suppressed the notification, or the queue
   *   is broken or freed.
   */
  kickPrepare(): boolean {
    const added = this.#added;
    if (added === 0 || this.#broken || this.#freed) return false;
    const old = this.#availIdx;
    for (let k = 0; k < added; k++) {
      this.#state[this.#availShadow[(old + k) & this.#mask]] = HEAD_PUBLISHED;
    }
    const newIdx = (old + added) & 0xffff;
    // §2.7.13.3.1/1 asks for a write barrier here, so that the device sees the
    // descriptors and ring entries before the new idx. This model runs the
    // driver and the device on one JavaScript thread over one ArrayBuffer:
    // every store is complete and visible, in program order, before the next
    // statement runs, and the device half only runs after this call returns.
    // A device in a worker sharing a SharedArrayBuffer would need
    // Atomics.store for idx (a release store) to get the same guarantee.
    this.#memory.writeU16(this.#avail + VIRTQ_AVAIL_IDX_OFFSET, newIdx);
    this.#availIdx = newIdx;
    this.#added = 0;
    this.#published += added;
    // §2.7.13.4.1/1: a full barrier between publishing idx and reading the
    // device's suppression fields; the same single-thread argument applies.
    if (this.#eventIdx) {
      return vringNeedEvent(this.#memory.readU16(this.#availEventAddr), newIdx, old);
    }
    const flags = this.#memory.readU16(this.#used + VIRTQ_USED_FLAGS_OFFSET);
    this.#checkUsedFlags(flags);
    return (flags & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * Reaps the next used entry and checks it against the shadow: the `id`
   * must be the head of a published, unreaped chain (§2.7.8/D1), the used
   * `idx` must not run ahead of the chains outstanding (§2.7.8/D2), and `len`
   * must not exceed the writable bytes posted (§2.7.8.2/2). A failed check
   * is reported and breaks the queue. Used ring `flags` the device should not
   * set are only logged (§2.7.10.2/1, §2.7.10.2/2). The chain's descriptors
   * and indirect table are freed.
   *
   * @returns The token and `len`, or `null` when nothing is pending or the
   *   queue is broken or freed.
   * @throws {ConformanceError} When the conformance log is strict and a check fails.
   */
  getBuf(): UsedBuffer<T> | null {
    if (this.#broken || this.#freed) return null;
    const memory = this.#memory;
    const usedIdx = memory.readU16(this.#used + VIRTQ_USED_IDX_OFFSET);
    const last = this.#lastUsed;
    if (usedIdx === last) return null;
    this.#checkUsedFlags(memory.readU16(this.#used + VIRTQ_USED_FLAGS_OFFSET));
    const pending = (usedIdx - last) & 0xffff;
    if (pending > this.#published) {
      return this.#fail(
        "2.7.8/D2",
        `Used idx moved to ${usedIdx}, ${pending} entries past the last reaped ${last}, ` +
          `but only ${this.#published} chain(s) are outstanding`,
        { usedIdx, lastUsedIdx: last, pending, outstanding: this.#published },
      );
    }
    // Linux has a read barrier here (idx before the element); see kickPrepare
    // for why program order suffices in this model.
    const slot = last & this.#mask;
    const elem = this.#used + usedElemOffset(slot);
    const id = memory.readU32(elem + VIRTQ_USED_ELEM_ID_OFFSET);
    const len = memory.readU32(elem + VIRTQ_USED_ELEM_LEN_OFFSET);
    if (id >= this.size || this.#state[id] !== HEAD_PUBLISHED) {
      return this.#fail(
        "2.7.8/D1",
        id >= this.size
          ? `Used element ${slot} names descriptor ${id}, beyond the queue size ${this.size}`
          : `Used element ${slot} names descriptor ${id}, which is not the head of an ` +
            "outstanding chain",
        { slot, id, size: this.size },
      );
    }
    const writable = this.#writable[id];
    if (len > writable) {
      return this.#fail(
        "2.7.8.2/2",
        `Used element ${slot} reports ${len} byte(s) written to chain ${id}, which has only ` +
          `${writable} writable byte(s)`,
        { slot, id, len, writable },
      );
    }

    const token = this.#tokens[id] as T;
    this.#release(id);
    this.#lastUsed = (last + 1) & 0xffff;
    this.#published--;
    // As Linux does: while callbacks are on, move used_event to the next
    // entry so that the device notifies for it (§2.7.7).
    if (this.#eventIdx && this.#callbacks) memory.writeU16(this.#usedEventAddr, this.#lastUsed);
    return { token, len };
  }

  /** Whether used entries are pending (false when broken or freed). */
  hasUsed(): boolean {
    if (this.#broken || this.#freed) return false;
    return this.#memory.readU16(this.#used + VIRTQ_USED_IDX_OFFSET) !== this.#lastUsed;
  }

  /**
   * Asks the device not to send used buffer notifications (§2.7.7): sets
   * `VIRTQ_AVAIL_F_NO_INTERRUPT` without `VIRTIO_F_EVENT_IDX`; with it, keeps
   * `flags` at 0 (§2.7.7.1/2) and moves `used_event` to the entry just behind
   * the next one to reap, the one index the device cannot reach before the
   * driver reaps again. Advisory only: a notification may still come.
   */
  disableCallbacks(): void {
    if (this.#freed) return;
    this.#callbacks = false;
    if (this.#eventIdx) {
      this.#memory.writeU16(this.#usedEventAddr, (this.#lastUsed - 1) & 0xffff);
    } else {
      this.#memory.writeU16(this.#avail + VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
  }

  /**
   * Asks for used buffer notifications again (§2.7.7): clears
   * `VIRTQ_AVAIL_F_NO_INTERRUPT`, or sets `used_event` to the next entry to
   * reap; then looks at the used `idx` again, as Linux's
   * `virtqueue_enable_cb` does, so that an entry that arrived while
   * callbacks were off is not missed.
   *
   * @returns `false` if used entries are pending (reap them); `true` otherwise,
   *   and always when the queue is broken or freed.
   */
  enableCallbacks(): boolean {
    if (this.#broken || this.#freed) return true;
    this.#callbacks = true;
    if (this.#eventIdx) {
      this.#memory.writeU16(this.#usedEventAddr, this.#lastUsed);
    } else {
      this.#memory.writeU16(this.#avail + VIRTQ_AVAIL_FLAGS_OFFSET, 0);
    }
    // A full barrier belongs here in a multi-threaded model (write the
    // suppression field, then read idx); see kickPrepare.
    return this.#memory.readU16(this.#used + VIRTQ_USED_IDX_OFFSET) === this.#lastUsed;
  }

  /**
   * Takes back every chain not reaped (published or not), frees their
   * descriptors and indirect tables, and returns their tokens in head order.
   * Call it once the device no longer uses the queue (after a device reset
   * or a queue reset, §2.6.1); ring indices are not rewound, so build a new
   * queue to use the device again.
   *
   * @returns The tokens of the chains that never came back.
   */
  detach(): T[] {
    const tokens: T[] = [];
    for (let head = 0; head < this.size; head++) {
      if (this.#state[head] === HEAD_FREE) continue;
      tokens.push(this.#tokens[head] as T);
      this.#release(head);
    }
    this.#added = 0;
    this.#published = 0;
    return tokens;
  }

  /**
   * Releases the queue: detaches unreaped chains (their tokens are dropped),
   * frees their indirect tables and, if the queue owns them
   * ({@linkcode SplitQueueDriver.create}), the three parts. The queue is
   * unusable afterwards. Calling it twice does nothing.
   */
  free(): void {
    if (this.#freed) return;
    this.detach();
    this.#freed = true;
    if (this.#ownsParts && this.#allocator) {
      this.#allocator.free(this.#desc);
      this.#allocator.free(this.#avail);
      this.#allocator.free(this.#used);
    }
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#freed ? "freed" : this.#broken ? `broken by §${this.#broken.id}` : "ok";
    return `SplitQueueDriver { index: ${this.index}, size: ${this.size}, free: ${this.#numFree}, ` +
      `in flight: ${this.#inFlight}, avail idx: ${this.#availIdx}, last used idx: ${this.#lastUsed}, ` +
      `${state} }`;
  }

  /** Returns a chain's descriptors to the free list and its table to the allocator. */
  #release(head: number): void {
    // Walk the chain through the shadow links, never through guest memory.
    let tail = head;
    for (let k = this.#count[head] - 1; k > 0; k--) tail = this.#next[tail];
    this.#next[tail] = this.#freeHead;
    this.#freeHead = head;
    this.#numFree += this.#count[head];
    const table = this.#tables[head];
    if (table !== NO_TABLE) {
      this.#allocator!.free(table);
      this.#tables[head] = NO_TABLE;
    }
    this.#state[head] = HEAD_FREE;
    this.#tokens[head] = undefined;
    this.#inFlight--;
  }

  #checkUsedFlags(flags: number): void {
    const ok = this.#eventIdx ? flags === 0 : (flags & ~VIRTQ_USED_F_NO_NOTIFY) === 0;
    if (ok) {
      this.#lastBadUsedFlags = -1;
      return;
    }
    if (flags === this.#lastBadUsedFlags) return; // reported already
    this.#lastBadUsedFlags = flags;
    if (this.#eventIdx) {
      this.#reporter.report(
        "2.7.10.2/2",
        `Used ring flags are 0x${flags.toString(16)} although VIRTIO_F_EVENT_IDX was negotiated`,
        { flags },
        "logged; the driver ignores flags and follows avail_event",
      );
    } else {
      this.#reporter.report(
        "2.7.10.2/1",
        `Used ring flags are 0x${flags.toString(16)}; only 0 and 1 are allowed`,
        { flags },
        "logged; only VIRTQ_USED_F_NO_NOTIFY is honoured",
      );
    }
  }

  #fail(id: RequirementId, message: string, values: Record<string, ViolationValue>): null {
    let violation: Violation;
    try {
      violation = this.#reporter.report(
        id,
        message,
        values,
        "queue marked broken: no more buffers are reaped or added",
      );
    } catch (e) {
      if (e instanceof ConformanceError) this.#broken = e.violation;
      throw e;
    }
    this.#broken = violation;
    return null;
  }

  #checkNotFreed(): void {
    if (this.#freed) throw new Error(`Queue ${this.index} was freed and cannot be used`);
  }
}

/** Builds a {@linkcode SplitQueueDriver} over parts the caller allocated and zeroed. */
export const splitQueueDriverFactory: DriverQueueFactory = <T>(
  config: DriverQueueConfig,
): SplitQueueDriver<T> => new SplitQueueDriver<T>(config);

function writeDesc(
  memory: GuestMemory,
  at: number,
  addr: number,
  len: number,
  flags: number,
  next: number,
): void {
  memory.writeU64(at + VIRTQ_DESC_ADDR_OFFSET, addr);
  memory.writeU32(at + VIRTQ_DESC_LEN_OFFSET, len);
  memory.writeU16(at + VIRTQ_DESC_FLAGS_OFFSET, flags);
  memory.writeU16(at + VIRTQ_DESC_NEXT_OFFSET, next);
}

function checkPart(
  memory: GuestMemory,
  name: string,
  addr: number,
  bytes: number,
  align: number,
): void {
  if (!Number.isSafeInteger(addr) || addr % align !== 0) {
    throw new RangeError(
      `${name} at ${hexAddress(addr)} is not aligned to ${align} bytes (§2.7.1/1)`,
    );
  }
  if (!memory.contains(addr, bytes)) {
    throw new RangeError(
      `${name} of ${bytes} byte(s) at ${hexAddress(addr)} is not inside guest RAM`,
    );
  }
}
