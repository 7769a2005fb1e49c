/**
 * The device half of a packed virtqueue (virtio v1.2 §2.8) behind the same
 * `DeviceQueue` contract as the split ring's `SplitQueueDevice`, so the
 * device models and the MMIO transport use either one unchanged: a popped
 * chain's `head` is its Buffer ID, which `push` takes back.
 *
 * {@linkcode PackedQueueDevice} keeps its state in a plain
 * {@linkcode PackedDeviceRing} and does every step through its parts table
 * ({@linkcode PackedRingDeviceParts}); the class adds the device model's
 * view (which buffers it holds, whether it pushes them back correctly),
 * counters, and turning a ring part outside RAM into a violation.
 *
 * @module
 */

import type { Violation } from "../../conformance/log.ts";
import { readChain, writeChain } from "../chain.ts";
import type {
  ChainStreamParts,
  DescriptorChain,
  DeviceQueue,
  DeviceQueueFactory,
  DeviceQueueStats,
  SplitQueueConfig,
} from "../types.ts";
import {
  createPackedDeviceRing,
  type PackedDeviceRing,
  packedRingAccessFailed,
} from "./device_ring.ts";
import { mergeParts } from "../parts.ts";
import { type PackedRingDeviceParts, REFERENCE_PACKED_RING_DEVICE_PARTS } from "./parts.ts";
import { formatPackedRing } from "./inspect.ts";

/** The byte-stream copies over a popped buffer's elements (the reference ones of `virtqueue/chain.ts`). */
const STREAMS: ChainStreamParts = Object.freeze({ readChain, writeChain });

/**
 * The device half of a packed virtqueue (§2.8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../../memory/guest_memory.ts";
 * import { GuestAllocator } from "../../memory/allocator.ts";
 * import { ConformanceLog } from "../../conformance/log.ts";
 * import { PackedQueueDriver } from "./driver_queue.ts";
 * import { PackedQueueDevice } from "./device_queue.ts";
 *
 * const memory = new GuestMemory(1 << 20);
 * const allocator = new GuestAllocator(memory);
 * const log = new ConformanceLog();
 * const common = { memory, index: 0, size: 8, eventIdx: true, indirect: true };
 * const driver = PackedQueueDriver.create<string>({ ...common, allocator, reporter: log.scoped("driver") });
 * const device = new PackedQueueDevice({ ...common, ...driver.addresses, reporter: log.scoped("device") });
 *
 * driver.add([], [{ addr: allocator.alloc(512), len: 512 }], "read 512");
 * driver.kickPrepare();
 * const chain = device.pop()!;
 * assert.equal(chain.writableLength, 512);
 * device.push(chain.head, 512);
 * assert.equal(device.needsInterrupt(), true);
 * assert.deepEqual(driver.getBuf(), { token: "read 512", len: 512 });
 * ```
 */
export class PackedQueueDevice implements DeviceQueue {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** The ring's state. */
  readonly ring: PackedDeviceRing;
  /** The parts in use. */
  readonly parts: PackedRingDeviceParts;
  readonly #stats = new Float64Array(4);
  readonly #streams: ChainStreamParts;

  /**
   * Builds the device half over the areas the driver configured; reads and writes nothing yet.
   *
   * @param config Memory, the three area addresses, Queue Size, negotiated features, reporter.
   * @param onBroken Called once with the violation when the queue breaks.
   * @param options Replacement parts, and the byte-stream copies device
   *   models use on popped buffers (default: `readChain` and `writeChain` of
   *   `virtqueue/chain.ts`; they do not depend on the ring layout, so a
   *   machine hands in the same ones its split rings use).
   * @throws {PackedQueueSizeError} If `size` is not from 1 to 32768.
   */
  constructor(
    config: SplitQueueConfig,
    onBroken: (violation: Violation) => void = () => {},
    options: {
      readonly parts?: Partial<PackedRingDeviceParts>;
      readonly streams?: ChainStreamParts;
    } = {},
  ) {
    this.parts = mergeParts(REFERENCE_PACKED_RING_DEVICE_PARTS, options.parts);
    this.ring = createPackedDeviceRing(config, onBroken);
    this.index = config.index;
    this.size = config.size;
    this.#streams = options.streams ?? STREAMS;
  }

  /** The stream copies device models use on this queue's buffers. */
  get streams(): ChainStreamParts {
    return this.#streams;
  }

  /** The violation that broke this queue, or `null`. */
  get broken(): Violation | null {
    return this.ring.broken;
  }

  /** Counters since the queue was created. */
  get stats(): DeviceQueueStats {
    const s = this.#stats;
    return { chains: s[0], bytesRead: s[1], bytesWritten: s[2], used: s[3] };
  }

  /** Buffers popped and not pushed. */
  get inFlight(): number {
    return this.ring.inFlight;
  }

  /** Whether a buffer starts at `nextAvail` (the `descAvailablePacked` part); false when broken. */
  hasAvailable(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    try {
      return this.parts.descAvailablePacked(ring);
    } catch (e) {
      packedRingAccessFailed(ring, e);
      return false;
    }
  }

  /**
   * Takes the next buffer and validates it: the parts `descAvailablePacked`,
   * `walkPackedChain`, `readIndirectTablePacked` for an indirect one, then
   * `updateDeviceEventPacked`. A rule the driver broke is reported and
   * breaks the queue; a ring outside RAM is 2.8.4/D1.
   *
   * The record stays valid until its Buffer ID is pushed.
   *
   * @returns The buffer (`head` = its Buffer ID), or `null` when none is available or the queue is broken.
   * @throws {ConformanceError} When the conformance log is strict and a rule is broken.
   */
  pop(): DescriptorChain | null {
    const ring = this.ring;
    if (ring.broken !== null) return null;
    const parts = this.parts;
    try {
      if (!parts.descAvailablePacked(ring)) return null;
      let chain = parts.walkPackedChain(ring);
      if (chain !== null && chain.indirect) chain = parts.readIndirectTablePacked(ring, chain);
      if (chain === null) return null;
      parts.updateDeviceEventPacked(ring);
      chain.inUse = true;
      ring.inFlight++;
      this.#stats[0]++;
      this.#stats[1] += chain.readableLength;
      return chain;
    } catch (e) {
      packedRingAccessFailed(ring, e);
      return null;
    }
  }

  /**
   * Returns a buffer through the `pushUsedPacked` part: a used descriptor
   * at `nextUsed` with the Buffer ID and `len`, flags last. Does nothing
   * once the queue is broken.
   *
   * @param head The Buffer ID, as popped.
   * @param len Bytes written to the buffer's device-writable elements: at most its `writableLength`.
   * @throws {RangeError} If `head` is not popped (or pushed already), or `len` is
   *   not an integer from 0 to the buffer's writable length: a device model's bug.
   */
  push(head: number, len: number): void {
    const ring = this.ring;
    if (ring.broken !== null) return;
    const rec = ring.chains.get(head);
    if (rec === undefined || !rec.inUse) {
      throw new RangeError(
        `Push of Buffer ID ${head} on queue ${ring.index}, which is not popped and unpushed`,
      );
    }
    if (!(Number.isInteger(len) && len >= 0 && len <= rec.writableLength)) {
      throw new RangeError(
        `Used length ${len} for Buffer ID ${head} on queue ${ring.index} is not an integer from ` +
          `0 to its ${rec.writableLength} writable byte(s) (§2.8.4/D2)`,
      );
    }
    try {
      this.parts.pushUsedPacked(ring, head, len);
    } catch (e) {
      packedRingAccessFailed(ring, e);
      return;
    }
    rec.inUse = false;
    ring.inFlight--;
    this.#stats[3]++;
    this.#stats[2] += len;
  }

  /**
   * Whether the driver wants a used buffer notification for the buffers
   * pushed since the last call (the `needsInterruptPacked` part).
   *
   * @returns `true` if the transport should raise the used buffer interrupt.
   */
  needsInterrupt(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    try {
      return this.parts.needsInterruptPacked(ring);
    } catch (e) {
      packedRingAccessFailed(ring, e);
      return false;
    }
  }

  /** Asks the driver for no available buffer notifications (the `disableNotificationsPacked` part). */
  disableNotifications(): void {
    const ring = this.ring;
    if (ring.broken !== null) return;
    try {
      this.parts.disableNotificationsPacked(ring);
    } catch (e) {
      packedRingAccessFailed(ring, e);
    }
  }

  /**
   * Asks for available buffer notifications again (the `enableNotificationsPacked` part).
   *
   * @returns `true` if a buffer became available meanwhile.
   */
  enableNotifications(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    try {
      return this.parts.enableNotificationsPacked(ring);
    } catch (e) {
      packedRingAccessFailed(ring, e);
      return false;
    }
  }

  /** Text form for the REPL: the ring display. */
  [Symbol.for("Deno.customInspect")](): string {
    return formatPackedRing(this.ring);
  }
}

/**
 * A {@linkcode DeviceQueueFactory} building {@linkcode PackedQueueDevice}s on
 * `parts`: what the lab machine hands the transport when `VIRTIO_F_RING_PACKED`
 * is negotiated.
 *
 * @param parts Replacement parts.
 * @param streams The byte-stream copies for device models (default: the reference ones).
 */
export function createPackedQueueDeviceFactory(
  parts?: Partial<PackedRingDeviceParts>,
  streams?: ChainStreamParts,
): DeviceQueueFactory {
  const copies = streams ? Object.freeze({ ...streams }) : STREAMS;
  return (config: SplitQueueConfig, onBroken: (violation: Violation) => void) =>
    new PackedQueueDevice(config, onBroken, { parts, streams: copies });
}

/** Builds a reference {@linkcode PackedQueueDevice}. */
export const packedQueueDeviceFactory: DeviceQueueFactory = createPackedQueueDeviceFactory();
