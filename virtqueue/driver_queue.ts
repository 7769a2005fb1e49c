/**
 * The driver half of a split virtqueue (virtio v1.2 §2.7.13 and §2.7.14), in
 * the manner of Linux's `drivers/virtio/virtio_ring.c`: a free list of
 * descriptors, `add` / `kickPrepare` / `getBuf`, notification suppression
 * through flags or event indices, and indirect descriptor tables.
 *
 * {@linkcode SplitQueueDriver} keeps its state in a plain
 * {@linkcode SplitDriverRing} record and does every step through a table of
 * parts ({@linkcode SplitRingDriverParts}), so any step can be replaced by a
 * learner's function. What the class adds is policy (when to use an
 * indirect table), the allocator, and the lifecycle (`detach`, `free`).
 *
 * The driver trusts nothing the device writes. The ring keeps a private
 * shadow of every chain posted (token, descriptor count, writable bytes,
 * indirect table) and never reads its own descriptors back from guest
 * memory to make a decision, so a device scribbling over the descriptor
 * table cannot make it free the wrong descriptors. Every used entry is
 * checked against that shadow; a bad one is reported to the queue's
 * conformance reporter and breaks the queue (like Linux's `BAD_RING`).
 *
 * @module
 */

import type { Violation } from "../conformance/log.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import { VRING_DESC_ALIGN_SIZE } from "./constants.ts";
import {
  isReferenceParts,
  mergeParts,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
  type SplitRingDriverParts,
} from "./parts.ts";
import { allocateQueueAreas } from "./driver/areas.ts";
import { fusedAddOne, fusedGetBuf, fusedKickPrepare, NOT_HANDLED } from "./driver/fast_path.ts";
import { isPlainGuestMemory } from "../memory/guest_memory.ts";
import type { AddBufferSteps } from "./driver/add.ts";
import { createSplitDriverRing, HEAD_FREE, type SplitDriverRing } from "./driver/ring.ts";
import { inspectRing, type SplitRingSnapshot } from "./inspect.ts";
import {
  type AddOptions,
  type BufferSegment,
  type DriverQueue,
  type DriverQueueConfig,
  type DriverQueueFactory,
  type SplitQueueAddresses,
  type UsedBuffer,
  VirtqueueBrokenError,
  VirtqueueChainError,
} from "./types.ts";

export { VirtqueueChainError };

/** What {@linkcode SplitQueueDriver} takes: a queue's configuration, and optionally its parts. */
export interface SplitQueueDriverConfig extends DriverQueueConfig {
  /** Learner replacements for some of the reference parts. */
  readonly parts?: Partial<SplitRingDriverParts>;
  /** Start the ring at this 16-bit index (see `createSplitDriverRing`); default 0. */
  readonly startIdx?: number;
}

/** What {@linkcode SplitQueueDriver.create} needs: a queue config without addresses. */
export interface SplitQueueDriverCreateConfig
  extends Omit<SplitQueueDriverConfig, "descAddr" | "availAddr" | "usedAddr"> {
  /** Allocates the three parts (and indirect tables); {@linkcode SplitQueueDriver.free} returns them. */
  readonly allocator: GuestAllocator;
}

/**
 * The driver half of a split virtqueue (§2.7).
 *
 * Lifecycle: allocate the parts (`allocateQueueAreas`, or
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
 * import assert from "node:assert/strict";
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
 * assert.equal(vq.kickPrepare(), true); // the device has not suppressed notifications
 * assert.equal(vq.numFree, 6);
 * ```
 */
export class SplitQueueDriver<T = unknown> implements DriverQueue<T> {
  // `declare`: the constructor's store is each field's first, so V8 keeps
  // it in the form of its value (see GuestMemory), not of `undefined`.

  /** Queue index within the device. */
  declare readonly index: number;
  /** Queue Size, in descriptors. */
  declare readonly size: number;
  /** Where the three parts live. */
  declare readonly addresses: SplitQueueAddresses;
  /** The ring's state: what the parts read and update. */
  declare readonly ring: SplitDriverRing<T>;
  /** The parts in use (reference ones unless replaced). */
  declare readonly parts: SplitRingDriverParts;

  readonly #allocator: GuestAllocator | undefined;
  readonly #ownsParts: boolean;
  #freed = false;
  /**
   * Whether the fused reference steps (`driver/fast_path.ts`) may run: every
   * part is the reference one and the memory is a plain `GuestMemory` (the
   * ring's areas were checked to lie in RAM by the constructor).
   */
  readonly #fused: boolean = false;
  /** `allocTable` for `addIndirectChain`: 16-byte aligned tables from the allocator. */
  readonly #allocTable: (bytes: number) => number;
  /** `freeTable` for `detachChain`. */
  readonly #freeTable: (table: number) => void;
  /** `steps` for `addBuffers`: this queue's two placing parts and its table allocator. */
  readonly #addSteps: AddBufferSteps;
  /** `detach` for `getBuf`: `detachChain` bound to this ring. */
  readonly #detach: (head: number) => T;

  /**
   * Builds the driver half over parts the caller has allocated (aligned, and
   * large enough for `size` with the event fields when `eventIdx` is set).
   * Initializes the ring headers to 0, including the used ring's `flags`
   * (2.7.10.1/1), or to `config.startIdx`.
   *
   * @param config Memory, addresses, size, negotiated features, reporter,
   *   the allocator for indirect tables, and optionally replacement parts.
   * @param ownsParts Whether {@linkcode free} also returns the three parts to
   *   `config.allocator` (set by {@linkcode SplitQueueDriver.create}).
   * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768.
   * @throws {RangeError} If a part is misaligned (2.7.1/1) or not inside RAM.
   * @throws {TypeError} If `ownsParts` is set without an allocator, or a replacement is not a function.
   */
  constructor(config: SplitQueueDriverConfig, ownsParts = false) {
    if (ownsParts && !config.allocator) {
      throw new TypeError("A queue that owns its parts needs config.allocator to free them");
    }
    this.parts = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, config.parts);
    this.ring = createSplitDriverRing<T>(config, { startIdx: config.startIdx });
    this.index = config.index;
    this.size = config.size;
    this.addresses = Object.freeze({
      descAddr: config.descAddr,
      availAddr: config.availAddr,
      usedAddr: config.usedAddr,
    });
    const allocator = config.allocator;
    this.#allocator = allocator;
    this.#ownsParts = ownsParts;
    const index = config.index;
    this.#allocTable = (bytes) => {
      if (!allocator) throw new TypeError(`Queue ${index} has no allocator for an indirect table`);
      return allocator.alloc(bytes, VRING_DESC_ALIGN_SIZE);
    };
    this.#freeTable = (table) => {
      if (!allocator) throw new TypeError(`Queue ${index} has no allocator to free table ${table}`);
      allocator.free(table);
    };
    this.#addSteps = Object.freeze({
      addChain: this.parts.addChain,
      addIndirectChain: this.parts.addIndirectChain,
      allocTable: allocator ? this.#allocTable : undefined,
    });
    const ring = this.ring;
    const detachChain = this.parts.detachChain;
    const freeTable = this.#freeTable;
    this.#detach = (head) => detachChain(ring, head, freeTable);
    this.#fused = isReferenceParts(this.parts, REFERENCE_SPLIT_RING_DRIVER_PARTS) &&
      isPlainGuestMemory(config.memory);
  }

  /**
   * Allocates the three parts of a queue; the same as
   * `allocateQueueAreas(allocator, size)`, kept for callers of the class.
   *
   * @param allocator The driver side's allocator.
   * @param size Queue Size, in descriptors.
   * @returns The addresses for `QueueDesc*`, `QueueDriver*` and `QueueDevice*`.
   * @throws {QueueSizeError} If `size` is not a legal Queue Size.
   * @throws {GuestOutOfMemoryError} If the allocator cannot fit a part (nothing stays allocated).
   */
  static allocate(allocator: GuestAllocator, size: number): SplitQueueAddresses {
    return allocateQueueAreas(allocator, size);
  }

  /**
   * Allocates the parts with the `allocateQueueAreas` part (the learner's,
   * if `config.parts` has one) and builds a queue that owns them:
   * {@linkcode free} gives them back.
   *
   * @param config The queue's settings, the allocator, optionally parts.
   * @throws {QueueSizeError} If `size` is not a legal Queue Size.
   * @throws {GuestOutOfMemoryError} If the parts do not fit.
   */
  static create<T = unknown>(config: SplitQueueDriverCreateConfig): SplitQueueDriver<T> {
    const parts = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, config.parts);
    const addresses = parts.allocateQueueAreas(
      config.allocator,
      config.size,
      parts.splitQueueLayout,
    );
    try {
      return new SplitQueueDriver<T>({ ...config, ...addresses }, true);
    } catch (e) {
      config.allocator.free(addresses.descAddr);
      config.allocator.free(addresses.availAddr);
      config.allocator.free(addresses.usedAddr);
      throw e;
    }
  }

  /**
   * Whether this queue runs its common cases through the fused reference
   * steps (`virtqueue/driver/fast_path.ts`): `true` while every part is the
   * reference one and the memory is a plain `GuestMemory`. It changes no
   * behaviour, only speed.
   */
  get fastPath(): boolean {
    return this.#fused;
  }

  /** Free descriptors in the table. */
  get numFree(): number {
    return this.ring.numFree;
  }

  /** Chains added and not reaped (including chains not yet published by {@linkcode kickPrepare}). */
  get inFlight(): number {
    return this.ring.inFlight;
  }

  /** The violation by the device that broke this queue, or `null`. */
  get broken(): Violation | null {
    return this.ring.broken;
  }

  /** The available `idx` as last published (16-bit, free-running). */
  get availIdx(): number {
    return this.ring.availIdx;
  }

  /** Used ring index of the next entry to reap (Linux's `last_used_idx`, 16-bit). */
  get lastUsedIdx(): number {
    return this.ring.lastUsed;
  }

  /**
   * Places a chain in the descriptor table (or in an indirect table) and its
   * head in the next available ring entry: the part `addBuffers` (which
   * calls the `addChain` or the `addIndirectChain` part), then
   * `placeAvailEntry`. The device cannot see it
   * until {@linkcode kickPrepare} advances the available `idx`.
   *
   * Device-readable buffers come first, then device-writable ones
   * (2.7.4.2/1). With `VIRTIO_F_INDIRECT_DESC` negotiated and an allocator,
   * a chain of 2 or more buffers goes into a 16-byte aligned indirect table
   * by default (`options.indirect: "auto"`), taking one descriptor of the
   * ring; if the table cannot be allocated, "auto" falls back to direct
   * descriptors, as Linux does when `kmalloc` fails.
   *
   * @param readable Device-readable buffers, in order.
   * @param writable Device-writable buffers, in order.
   * @param token Returned by {@linkcode getBuf} with the used entry.
   * @param options Indirect table policy.
   * @throws {VirtqueueBrokenError} When the device broke the queue.
   * @throws {VirtqueueFullError} When too few descriptors are free.
   * @throws {VirtqueueChainError} When the chain is empty, has a zero-length
   *   (2.7.5/D3) or out-of-RAM buffer (2.7.5/D2), totals over 2^32 bytes
   *   (2.7.5.2/1), has more buffers than the Queue Size (2.7.5.3.1/3), or
   *   asks for an indirect table that was not negotiated (2.7.5.3.1/1).
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
    const ring = this.ring;
    if (ring.broken !== null || this.#freed) this.#refuseAdd();
    if (this.#fused && (options === undefined || options.indirect !== "always")) {
      const nr = readable.length;
      if (
        nr + writable.length === 1 &&
        fusedAddOne(ring, nr === 1 ? readable[0] : writable[0], nr === 0, token)
      ) {
        return;
      }
    }
    const parts = this.parts;
    const head = parts.addBuffers(
      ring,
      readable,
      writable,
      token,
      options?.indirect ?? "auto",
      this.#addSteps,
    );
    parts.placeAvailEntry(ring, head);
  }

  /** Why {@linkcode add} refuses: the device broke the queue, or it was freed. */
  #refuseAdd(): never {
    const broken = this.ring.broken;
    if (broken !== null) throw new VirtqueueBrokenError(broken);
    throw new Error(`Queue ${this.index} was freed and cannot be used`);
  }

  /**
   * Publishes the chains added since the last call (the `publishAvail`
   * part) and decides whether the device wants an available buffer
   * notification (the `needsKick` part, §2.7.10.1): without
   * `VIRTIO_F_EVENT_IDX`, unless the used ring's `flags` hold
   * `VIRTQ_USED_F_NO_NOTIFY` (2.7.10.1/2); with it, if one of the new entries
   * sits at index `avail_event`, ignoring `flags` (2.7.10.1/3).
   *
   * @returns `true` if the caller should notify the device; `false` when
   *   nothing was added, the device suppressed the notification, or the queue
   *   is broken or freed.
   */
  kickPrepare(): boolean {
    const ring = this.ring;
    if (ring.broken !== null || this.#freed) return false;
    if (this.#fused) {
      const kick = fusedKickPrepare(ring);
      if (kick !== null) return kick;
    }
    const oldIdx = ring.availIdx;
    if (this.parts.publishAvail(ring) === 0) return false;
    return this.parts.needsKick(ring, oldIdx);
  }

  /**
   * Reaps the next used entry with the `getBuf` part, which checks it
   * against the shadow (2.7.8/D1, 2.7.8/D2, 2.7.8.2/2: a failed check is
   * reported and breaks the queue; used ring `flags` the device should not
   * set are only logged, 2.7.10.2/1, 2.7.10.2/2) and frees the chain with
   * the `detachChain` part; then `updateUsedEvent` moves `used_event` (with
   * `VIRTIO_F_EVENT_IDX`; without it the part stores nothing).
   *
   * @returns The token and `len`, or `null` when nothing is pending or the
   *   queue is broken or freed.
   * @throws {ConformanceError} When the conformance log is strict and a check fails.
   */
  getBuf(): UsedBuffer<T> | null {
    const ring = this.ring;
    if (ring.broken !== null || this.#freed) return null;
    if (this.#fused) {
      const fused = fusedGetBuf(ring, this.#freeTable);
      if (fused !== NOT_HANDLED) return fused;
    }
    const used = this.parts.getBuf(ring, this.#detach);
    if (used !== null) this.parts.updateUsedEvent(ring);
    return used;
  }

  /** Whether used entries are pending (the `moreUsed` part; false when broken or freed). */
  hasUsed(): boolean {
    const ring = this.ring;
    if (ring.broken !== null || this.#freed) return false;
    return this.parts.moreUsed(ring);
  }

  /**
   * Asks the device not to send used buffer notifications (the
   * `disableCallbacks` part, §2.7.7). Advisory only: a notification may
   * still come.
   */
  disableCallbacks(): void {
    if (this.#freed) return;
    this.parts.disableCallbacks(this.ring);
  }

  /**
   * Asks for used buffer notifications again and looks at the used `idx`
   * once more (the `enableCallbacks` part, §2.7.7), so that an entry that
   * arrived while callbacks were off is not missed.
   *
   * @returns `false` if used entries are pending (reap them); `true` otherwise,
   *   and always when the queue is broken or freed.
   */
  enableCallbacks(): boolean {
    if (this.ring.broken !== null || this.#freed) return true;
    return this.parts.enableCallbacks(this.ring);
  }

  /**
   * Reaps every used entry the device has returned, with the `drainUsed`
   * part over this queue's own `getBuf`, `disableCallbacks` and
   * `enableCallbacks`: notifications off while `onUsed` runs for each
   * entry, then on again and a last look at the used ring, round again if
   * an entry arrived meanwhile (§2.7.14, 2.7.14/D1). Does nothing once the
   * queue is freed; ends at once on a broken queue.
   *
   * @param onUsed What the driver does with one entry (token and `len`);
   *   it must not throw, and it may add and publish chains.
   * @throws {ConformanceError} When the conformance log is strict and an entry breaks a rule.
   */
  drainUsed(onUsed: (used: UsedBuffer<T>) => void): void {
    if (this.#freed) return;
    this.parts.drainUsed(this, onUsed);
  }

  /**
   * Takes back every chain not reaped (published or not), frees their
   * descriptors and indirect tables (the `detachChain` part), and returns
   * their tokens in head order. Call it once the device no longer uses the
   * queue (after a device reset or a queue reset, §2.6.1); ring indices are
   * not rewound, so build a new queue to use the device again.
   *
   * @returns The tokens of the chains that never came back.
   */
  detach(): T[] {
    const ring = this.ring;
    const tokens: T[] = [];
    for (let head = 0; head < ring.size; head++) {
      if (ring.state[head] === HEAD_FREE) continue;
      tokens.push(this.parts.detachChain(ring, head, this.#freeTable));
    }
    ring.added = 0;
    ring.published = 0;
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
      this.#allocator.free(this.addresses.descAddr);
      this.#allocator.free(this.addresses.availAddr);
      this.#allocator.free(this.addresses.usedAddr);
    }
  }

  /**
   * A picture of the ring as the driver sees it: descriptor table, both
   * rings, the free list, the chains in flight (see {@linkcode SplitRingSnapshot}).
   */
  inspect(): SplitRingSnapshot {
    return inspectRing(this.ring);
  }

  /** Text form for the REPL: the ring display. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#freed ? " (freed)" : "";
    return this.inspect().format() + state;
  }

  /** Rich form for Jupyter: the ring display. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return this.inspect().display();
  }
}

/**
 * A {@linkcode DriverQueueFactory} that builds {@linkcode SplitQueueDriver}s
 * running on `parts` (each missing part is the reference one), over areas
 * the caller allocated and zeroed: what the lab machine hands the driver
 * transport to run a learner's driver-side ring.
 *
 * @param parts Replacement parts.
 */
export function createSplitQueueDriverFactory(
  parts?: Partial<SplitRingDriverParts>,
): DriverQueueFactory {
  return <T>(config: DriverQueueConfig): SplitQueueDriver<T> =>
    new SplitQueueDriver<T>({ ...config, parts });
}

/** Builds a reference {@linkcode SplitQueueDriver} over parts the caller allocated and zeroed. */
export const splitQueueDriverFactory: DriverQueueFactory = createSplitQueueDriverFactory();
