/**
 * The driver half of a packed virtqueue (virtio v1.2 §2.8) behind the same
 * `DriverQueue` contract as the split ring's `SplitQueueDriver`, so the
 * device drivers and the MMIO transport use either one unchanged.
 *
 * {@linkcode PackedQueueDriver} keeps its state in a plain
 * {@linkcode PackedDriverRing} and does every step through its parts table
 * ({@linkcode PackedRingDriverParts}); what the class adds is policy (when to
 * use an indirect table), the allocator and the lifecycle.
 *
 * One difference from the split ring: a buffer is visible to the device as
 * soon as {@linkcode PackedQueueDriver.add} stores its first descriptor's
 * flags (there is no separate index to publish); {@linkcode
 * PackedQueueDriver.kickPrepare} only decides whether to notify.
 *
 * @module
 */

import type { Violation } from "../../conformance/log.ts";
import type { GuestAllocator } from "../../memory/allocator.ts";
import { GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { drainUsed } from "../driver/drain.ts";
import {
  type AddOptions,
  type BufferSegment,
  type DriverQueue,
  type DriverQueueConfig,
  type DriverQueueFactory,
  type SplitQueueAddresses,
  type UsedBuffer,
  VirtqueueBrokenError,
} from "../types.ts";
import { createPackedDriverRing, type PackedDriverRing } from "./driver_ring.ts";
import { allocatePackedQueueAreas } from "./layout.ts";
import { mergeParts } from "../parts.ts";
import { type PackedRingDriverParts, REFERENCE_PACKED_RING_DRIVER_PARTS } from "./parts.ts";
import { PVIRTQ_DESC_ALIGN, PVIRTQ_DESC_SIZE } from "./constants.ts";
import { formatPackedRing } from "./inspect.ts";

/** What {@linkcode PackedQueueDriver} takes: a queue's configuration, and optionally its parts. */
export interface PackedQueueDriverConfig extends DriverQueueConfig {
  /** Learner replacements for some of the reference parts. */
  readonly parts?: Partial<PackedRingDriverParts>;
}

/**
 * The driver half of a packed virtqueue (§2.8).
 *
 * @typeParam T The token type callers attach to buffers.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { PackedQueueDriver } from "./driver_queue.ts";
 *
 * const memory = new GuestMemory(1 << 20);
 * const allocator = new GuestAllocator(memory);
 * const vq = PackedQueueDriver.create<string>({
 *   memory, allocator, index: 0, size: 8, eventIdx: false, indirect: false,
 *   reporter: new ConformanceLog().scoped("queue 0"),
 * });
 * vq.add([{ addr: allocator.alloc(16), len: 16 }], [{ addr: allocator.alloc(1), len: 1 }], "req");
 * assert.equal(vq.kickPrepare(), true);
 * assert.equal(vq.numFree, 6);
 * ```
 */
export class PackedQueueDriver<T = unknown> implements DriverQueue<T> {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Descriptor Ring (`descAddr`), Driver Event Suppression (`availAddr`), Device Event Suppression (`usedAddr`). */
  readonly addresses: SplitQueueAddresses;
  /** The ring's state. */
  readonly ring: PackedDriverRing<T>;
  /** The parts in use. */
  readonly parts: PackedRingDriverParts;
  readonly #allocator: GuestAllocator | undefined;
  readonly #ownsAreas: boolean;
  #freed = false;
  readonly #freeTable: (table: number) => void;
  readonly #detach: (id: number) => T;

  /**
   * Builds the driver half over areas the caller allocated and zeroed.
   *
   * @param config Memory, addresses, size, negotiated features, reporter,
   *   the allocator for indirect tables, and optionally replacement parts.
   * @param ownsAreas Whether {@linkcode free} also returns the three areas to the allocator.
   * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
   * @throws {RangeError} If an area is misaligned or not inside RAM.
   * @throws {TypeError} If a replacement is not a function, or `ownsAreas` without an allocator.
   */
  constructor(config: PackedQueueDriverConfig, ownsAreas = false) {
    if (ownsAreas && !config.allocator) {
      throw new TypeError("A queue that owns its areas needs config.allocator to free them");
    }
    this.parts = mergeParts(REFERENCE_PACKED_RING_DRIVER_PARTS, config.parts);
    this.ring = createPackedDriverRing<T>(config);
    this.index = config.index;
    this.size = config.size;
    this.addresses = Object.freeze({
      descAddr: config.descAddr,
      availAddr: config.availAddr,
      usedAddr: config.usedAddr,
    });
    this.#allocator = config.allocator;
    this.#ownsAreas = ownsAreas;
    const allocator = config.allocator;
    const index = config.index;
    this.#freeTable = (table) => {
      if (!allocator) throw new TypeError(`Queue ${index} has no allocator to free table ${table}`);
      allocator.free(table);
    };
    const ring = this.ring;
    const detachBuf = this.parts.detachBufPacked;
    const freeTable = this.#freeTable;
    this.#detach = (id) => detachBuf(ring, id, freeTable);
  }

  /**
   * Allocates the areas (`allocatePackedQueueAreas`) and builds a queue that owns them.
   *
   * @param config The queue's settings without addresses, the allocator, optionally parts.
   * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
   * @throws {GuestOutOfMemoryError} If the areas do not fit.
   */
  static create<T = unknown>(
    config: Omit<PackedQueueDriverConfig, "descAddr" | "availAddr" | "usedAddr"> & {
      readonly allocator: GuestAllocator;
    },
  ): PackedQueueDriver<T> {
    const areas = allocatePackedQueueAreas(config.allocator, config.size);
    try {
      return new PackedQueueDriver<T>({ ...config, ...areas }, true);
    } catch (e) {
      for (const a of [areas.descAddr, areas.availAddr, areas.usedAddr]) config.allocator.free(a);
      throw e;
    }
  }

  /** Free ring slots. */
  get numFree(): number {
    return this.ring.numFree;
  }

  /** Buffers made available and not reaped. */
  get inFlight(): number {
    return this.ring.inFlight;
  }

  /** The violation by the device that broke this queue, or `null`. */
  get broken(): Violation | null {
    return this.ring.broken;
  }

  /**
   * Makes a buffer available: through an indirect table in one ring slot
   * (the `addIndirectPacked` part) when `VIRTIO_F_INDIRECT_DESC` was
   * negotiated, an allocator is there and the buffer has 2 or more elements
   * (`options.indirect: "auto"`, falling back to direct descriptors when the
   * table cannot be allocated), else one descriptor per element (the
   * `addPacked` part). The device can see it at once.
   *
   * @param readable Device-readable elements, in order.
   * @param writable Device-writable elements, in order.
   * @param token Returned by {@linkcode getBuf}.
   * @param options Indirect table policy.
   * @throws {VirtqueueBrokenError} When the device broke the queue.
   * @throws {VirtqueueFullError} When too few ring slots are free.
   * @throws {VirtqueueChainError} When the buffer breaks a rule of §2.8 (see the parts).
   * @throws {TypeError} If `indirect: "always"` is asked of a queue without an allocator.
   * @throws {Error} If the queue was freed.
   */
  add(
    readable: readonly BufferSegment[],
    writable: readonly BufferSegment[],
    token: T,
    options?: AddOptions,
  ): void {
    const ring = this.ring;
    if (ring.broken !== null) throw new VirtqueueBrokenError(ring.broken);
    if (this.#freed) throw new Error(`Queue ${this.index} was freed and cannot be used`);
    const policy = options?.indirect ?? "auto";
    const total = readable.length + writable.length;
    const allocator = this.#allocator;
    if (policy === "always" || (policy === "auto" && ring.indirect && allocator && total >= 2)) {
      if (!allocator) {
        throw new TypeError(`Queue ${this.index} has no allocator for an indirect table`);
      }
      let table: number;
      try {
        table = allocator.alloc(Math.max(total, 1) * PVIRTQ_DESC_SIZE, PVIRTQ_DESC_ALIGN);
      } catch (e) {
        if (policy === "always" || !(e instanceof GuestOutOfMemoryError)) throw e;
        this.parts.addPacked(ring, readable, writable, token);
        return;
      }
      try {
        this.parts.addIndirectPacked(ring, readable, writable, token, table);
      } catch (e) {
        allocator.free(table);
        throw e;
      }
      return;
    }
    this.parts.addPacked(ring, readable, writable, token);
  }

  /**
   * Decides whether the device wants an available buffer notification for
   * the buffers added since the last call (the `needsKickPacked` part).
   *
   * @returns `true` if the caller should notify the device.
   */
  kickPrepare(): boolean {
    if (this.ring.broken !== null || this.#freed) return false;
    return this.parts.needsKickPacked(this.ring);
  }

  /**
   * Reaps the next used descriptor (the `getBufPacked` part, freeing the id
   * with `detachBufPacked`), then moves the driver's event offset (the
   * `updateDriverEventPacked` part, with `VIRTIO_F_EVENT_IDX`).
   *
   * @returns The token and `len`, or `null` when nothing is pending or the queue is broken or freed.
   * @throws {ConformanceError} When the conformance log is strict and a check fails.
   */
  getBuf(): UsedBuffer<T> | null {
    const ring = this.ring;
    if (ring.broken !== null || this.#freed) return null;
    const used = this.parts.getBufPacked(ring, this.#detach);
    if (used !== null) this.parts.updateDriverEventPacked(ring);
    return used;
  }

  /** Whether a used descriptor is pending (false when broken or freed). */
  hasUsed(): boolean {
    if (this.ring.broken !== null || this.#freed) return false;
    return this.parts.moreUsedPacked(this.ring);
  }

  /** Asks the device for no used buffer notifications (the `disableCallbacksPacked` part). */
  disableCallbacks(): void {
    if (this.#freed) return;
    this.parts.disableCallbacksPacked(this.ring);
  }

  /**
   * Asks for used buffer notifications again (the `enableCallbacksPacked` part).
   *
   * @returns `false` if used descriptors are pending; `true` otherwise, and when broken or freed.
   */
  enableCallbacks(): boolean {
    if (this.ring.broken !== null || this.#freed) return true;
    return this.parts.enableCallbacksPacked(this.ring);
  }

  /**
   * Reaps every used descriptor with notifications off, then on again and
   * a last look (§2.8.22, 2.8.22/D2), round again if one arrived meanwhile.
   *
   * @param onUsed What the driver does with one buffer; it must not throw.
   */
  drainUsed(onUsed: (used: UsedBuffer<T>) => void): void {
    if (this.#freed) return;
    drainUsed(this, onUsed);
  }

  /**
   * Takes back every buffer not reaped (after a device or queue reset),
   * freeing ids and indirect tables, in Buffer ID order.
   *
   * @returns The tokens of the buffers that never came back.
   */
  detach(): T[] {
    const ring = this.ring;
    const tokens: T[] = [];
    for (let id = 0; id < ring.size; id++) {
      if (ring.inUse[id] === 0) continue;
      tokens.push(this.parts.detachBufPacked(ring, id, this.#freeTable));
    }
    ring.numAdded = 0;
    return tokens;
  }

  /** Releases the queue (and its areas, if it owns them); calling it twice does nothing. */
  free(): void {
    if (this.#freed) return;
    this.detach();
    this.#freed = true;
    if (this.#ownsAreas && this.#allocator) {
      for (
        const a of [this.addresses.descAddr, this.addresses.availAddr, this.addresses.usedAddr]
      ) {
        this.#allocator.free(a);
      }
    }
  }

  /** Text form for the REPL: the ring display. */
  [Symbol.for("Deno.customInspect")](): string {
    return formatPackedRing(this.ring) + (this.#freed ? " (freed)" : "");
  }
}

/**
 * A {@linkcode DriverQueueFactory} building {@linkcode PackedQueueDriver}s on
 * `parts` (each missing part the reference one), over areas the caller
 * allocated and zeroed (`allocatePackedQueueAreas`).
 *
 * @param parts Replacement parts.
 */
export function createPackedQueueDriverFactory(
  parts?: Partial<PackedRingDriverParts>,
): DriverQueueFactory {
  return <T>(config: DriverQueueConfig): PackedQueueDriver<T> =>
    new PackedQueueDriver<T>({ ...config, parts });
}

/** Builds a reference {@linkcode PackedQueueDriver} over areas the caller allocated and zeroed. */
export const packedQueueDriverFactory: DriverQueueFactory = createPackedQueueDriverFactory();
