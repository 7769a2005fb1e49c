/**
 * The device half of a split virtqueue (virtio v1.2 §2.7), hardened the way
 * QEMU's and Linux vhost's virtqueue code is: every chain popped from the
 * available ring is walked and validated before a device model sees it, and
 * a driver that breaks a rule gets a reported violation and a broken queue,
 * never an exception out of the device.
 *
 * {@linkcode SplitQueueDevice} keeps its state in a plain
 * {@linkcode SplitDeviceRing} record and does every step of the ring through
 * a table of parts ({@linkcode SplitRingDeviceParts}), so any step can be
 * replaced by a learner's function. What the class adds is the device
 * model's view: which chains the model holds, whether it pushes them back
 * correctly, counters, and turning a ring part outside RAM into a violation.
 *
 * The device never writes the descriptor table (2.7.5.1/2) nor the
 * available ring.
 *
 * @module
 */

import type { Violation } from "../conformance/log.ts";
import {
  isReferenceParts,
  mergeParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  type SplitRingDeviceParts,
} from "./parts.ts";
import { createSplitDeviceRing, ringAccessFailed, type SplitDeviceRing } from "./device/ring.ts";
import { inspectRing, type SplitRingSnapshot } from "./inspect.ts";
import { fusedNeedsInterrupt, fusedPop, fusedPush, NOT_HANDLED } from "./device/fast_path.ts";
import { availRingSize, descTableSize, usedRingSize } from "./layout.ts";
import { isPlainGuestMemory } from "../memory/guest_memory.ts";
import type {
  DescriptorChain,
  DeviceQueue,
  DeviceQueueFactory,
  DeviceQueueStats,
  SplitQueueConfig,
} from "./types.ts";

const STAT_CHAINS = 0;
const STAT_BYTES_READ = 1;
const STAT_BYTES_WRITTEN = 2;
const STAT_USED = 3;

/** Options for {@linkcode SplitQueueDevice} beyond the queue's configuration. */
export interface SplitQueueDeviceOptions {
  /** Learner replacements for some of the reference parts. */
  readonly parts?: Partial<SplitRingDeviceParts>;
  /** Start the ring at this 16-bit index (see `createSplitDeviceRing`); default 0. */
  readonly startIdx?: number;
}

/**
 * The device half of a split virtqueue (§2.7).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { GuestAllocator } from "../memory/allocator.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { SplitQueueDriver } from "./driver_queue.ts";
 * import { SplitQueueDevice } from "./device_queue.ts";
 *
 * const memory = new GuestMemory(1 << 20);
 * const allocator = new GuestAllocator(memory);
 * const log = new ConformanceLog();
 * const common = { memory, index: 0, size: 8, eventIdx: true, indirect: true };
 * const driver = SplitQueueDriver.create<string>({ ...common, allocator, reporter: log.scoped("driver") });
 * const device = new SplitQueueDevice({ ...common, ...driver.addresses, reporter: log.scoped("device") });
 *
 * const buf = allocator.alloc(512);
 * driver.add([], [{ addr: buf, len: 512 }], "read 512");
 * driver.kickPrepare();
 * const chain = device.pop()!;
 * assert.equal(chain.writableLength, 512);
 * device.push(chain.head, 512);
 * assert.equal(device.needsInterrupt(), true);
 * assert.deepEqual(driver.getBuf(), { token: "read 512", len: 512 });
 * ```
 */
export class SplitQueueDevice implements DeviceQueue {
  // `declare`: the constructor's store is each field's first, so V8 keeps
  // it in the form of its value (see GuestMemory), not of `undefined`.

  /** Queue index within the device. */
  declare readonly index: number;
  /** Queue Size, in descriptors. */
  declare readonly size: number;
  /** The ring's state: what the parts read and update. */
  declare readonly ring: SplitDeviceRing;
  /** The parts in use (reference ones unless replaced). */
  declare readonly parts: SplitRingDeviceParts;

  /**
   * The counters of {@linkcode stats}, by the indices below: doubles in a
   * typed array, because byte counts pass 2^31 soon, and a counter field
   * holding a double costs the hot path more than an element does.
   */
  readonly #stats = new Float64Array(4);
  /**
   * Whether the fused reference steps (`device/fast_path.ts`) may run: every
   * part is the reference one, the memory is a plain `GuestMemory`, and the
   * three areas lie inside RAM.
   */
  readonly #fused: boolean = false;

  /**
   * Builds the device half over the parts the driver configured. Nothing is
   * read or written until the first call (unless `options.startIdx` is given).
   *
   * @param config Memory, the three part addresses, Queue Size, negotiated
   *   features, and the reporter for driver violations.
   * @param onBroken Called once, with the violation, when the queue breaks;
   *   the transport sets DEVICE_NEEDS_RESET there.
   * @param options Replacement parts and starting index.
   * @throws {QueueSizeError} If `size` is not a power of two from 1 to 32768
   *   (the transport refuses such a `QueueNum` before building a queue).
   * @throws {RangeError} If `options.startIdx` is not a 16-bit index.
   */
  constructor(
    config: SplitQueueConfig,
    onBroken: (violation: Violation) => void = () => {},
    options: SplitQueueDeviceOptions = {},
  ) {
    this.ring = createSplitDeviceRing(config, { onBroken, startIdx: options.startIdx });
    this.parts = mergeParts(REFERENCE_SPLIT_RING_DEVICE_PARTS, options.parts);
    this.index = config.index;
    this.size = config.size;
    const { memory, size, eventIdx } = config;
    this.#fused = isReferenceParts(this.parts, REFERENCE_SPLIT_RING_DEVICE_PARTS) &&
      isPlainGuestMemory(memory) &&
      memory.contains(config.descAddr, descTableSize(size)) &&
      memory.contains(config.availAddr, availRingSize(size, eventIdx)) &&
      memory.contains(config.usedAddr, usedRingSize(size, eventIdx));
  }

  /** The stream copies the device models use on this queue's chains: its `readChain` and `writeChain` parts. */
  get streams(): SplitRingDeviceParts {
    return this.parts;
  }

  /** The violation that broke this queue, or `null` while it is healthy. */
  get broken(): Violation | null {
    return this.ring.broken;
  }

  /** Counters since the queue was created (a fresh snapshot on every read). */
  get stats(): DeviceQueueStats {
    return {
      chains: this.#stats[STAT_CHAINS],
      bytesRead: this.#stats[STAT_BYTES_READ],
      bytesWritten: this.#stats[STAT_BYTES_WRITTEN],
      used: this.#stats[STAT_USED],
    };
  }

  /** The device's `last_avail_idx`: index of the next available ring entry to pop (16-bit). */
  get lastAvailIdx(): number {
    return this.ring.lastAvail;
  }

  /** The used `idx` as last written (16-bit). */
  get usedIdx(): number {
    return this.ring.usedIdx;
  }

  /**
   * Whether this queue runs its common cases through the fused reference
   * steps (`virtqueue/device/fast_path.ts`): `true` while every part is the
   * reference one and the memory is a plain `GuestMemory`. It changes no
   * behaviour, only speed.
   */
  get fastPath(): boolean {
    return this.#fused;
  }

  /** Chains popped and not pushed yet. */
  get inFlight(): number {
    return this.ring.inFlight;
  }

  /**
   * Whether the available ring holds chains not popped yet (`availableCount`
   * above 0); false when broken. A driver that moved `idx` too far or
   * backwards breaks the queue here already.
   */
  hasAvailable(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    try {
      return this.parts.availableCount(ring) > 0;
    } catch (e) {
      ringAccessFailed(ring, e);
      return false;
    }
  }

  /**
   * Takes the next chain from the available ring and validates it: the
   * parts `availableCount`, `availHead`, `updateAvailEvent` (which stores
   * only with `VIRTIO_F_EVENT_IDX`), `walkChain` and, for a chain that ends in an
   * indirect descriptor, `readIndirectTable`, in that order. A rule the
   * driver broke is reported with its id and breaks the queue (see those
   * parts for the list); a ring or table outside RAM is 2.7.5/D2. Bad
   * available ring `flags` are only logged (2.7.7.1/1, 2.7.7.1/2).
   *
   * The chain object belongs to the queue and stays valid until its head is
   * pushed: the reference walk refills one record per head (its lists and
   * segments too), so a device model that needs a chain after pushing it
   * copies what it needs first.
   *
   * @returns The chain, or `null` when none is available or the queue is broken.
   * @throws {ConformanceError} When the conformance log is strict and a rule is broken.
   */
  pop(): DescriptorChain | null {
    const ring = this.ring;
    if (ring.broken !== null) return null;
    if (this.#fused) {
      const chain = fusedPop(ring);
      if (chain !== NOT_HANDLED) {
        if (chain !== null) this.#popped(chain);
        return chain;
      }
    }
    const parts = this.parts;
    try {
      if (parts.availableCount(ring) === 0) return null;
      const head = parts.availHead(ring);
      if (head < 0) return null;
      parts.updateAvailEvent(ring);
      let chain = parts.walkChain(ring, head);
      if (chain !== null && chain.indirect) chain = parts.readIndirectTable(ring, chain);
      if (chain === null) return null;
      this.#popped(chain);
      return chain;
    } catch (e) {
      ringAccessFailed(ring, e);
      return null;
    }
  }

  /** What {@linkcode pop} records of a chain it hands out. */
  #popped(chain: DescriptorChain): void {
    const ring = this.ring;
    const head = chain.head;
    ring.inUse[head] = 1;
    ring.writable[head] = chain.writableLength;
    ring.inFlight++;
    const stats = this.#stats;
    stats[STAT_CHAINS]++;
    stats[STAT_BYTES_READ] += chain.readableLength;
  }

  /**
   * Returns a chain to the driver through the `pushUsed` part: the used
   * element (`id = head`, `len`), then the used `idx`, so `len` is in place
   * before the driver can see the entry (2.7.8.2/1). Does nothing once the
   * queue is broken.
   *
   * @param head The chain's head index, as popped.
   * @param len Bytes written to the chain's writable buffers, from the first
   *   one on (2.7.8.2/2): at most its `writableLength`.
   * @throws {RangeError} If `head` was not popped (or was pushed already), or
   *   `len` is not an integer from 0 to the chain's writable length: a bug in
   *   the device model, not in the driver.
   */
  push(head: number, len: number): void {
    const ring = this.ring;
    if (ring.broken !== null) return;
    // `(head >>> 0) === head`: a whole number from 0 up, so inUse[head] is an element.
    if (!((head >>> 0) === head && head < ring.size && ring.inUse[head] !== 0)) {
      notPopped(ring, head);
    }
    if (!(Number.isInteger(len) && len >= 0 && len <= ring.writable[head])) {
      badUsedLength(ring, head, len);
    }
    try {
      if (this.#fused) fusedPush(ring, head, len);
      else this.parts.pushUsed(ring, head, len);
    } catch (e) {
      ringAccessFailed(ring, e);
      return;
    }
    ring.inUse[head] = 0;
    ring.inFlight--;
    const stats = this.#stats;
    stats[STAT_USED]++;
    stats[STAT_BYTES_WRITTEN] += len;
  }

  /**
   * Whether the driver wants a used buffer notification for the entries
   * pushed since the last call, which this call consumes (the
   * `needsInterrupt` part: `VIRTQ_AVAIL_F_NO_INTERRUPT`, or `used_event`
   * with `VIRTIO_F_EVENT_IDX`, §2.7.7.2).
   *
   * @returns `true` if the transport should raise the used buffer interrupt;
   *   `false` when nothing was pushed, the driver suppressed it, or the queue
   *   is broken.
   */
  needsInterrupt(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    if (this.#fused) {
      const wanted = fusedNeedsInterrupt(ring);
      if (wanted !== null) return wanted;
    }
    try {
      return this.parts.needsInterrupt(ring);
    } catch (e) {
      ringAccessFailed(ring, e);
      return false;
    }
  }

  /**
   * Asks the driver not to send available buffer notifications (the
   * `disableNotifications` part, §2.7.10). Advisory only: the driver may
   * still notify (2.7.10.2/3).
   */
  disableNotifications(): void {
    const ring = this.ring;
    if (ring.broken !== null) return;
    try {
      this.parts.disableNotifications(ring);
    } catch (e) {
      ringAccessFailed(ring, e);
    }
  }

  /**
   * Asks for available buffer notifications again, then looks at the
   * available `idx` once more (the `enableNotifications` part, §2.7.10).
   *
   * @returns `true` if chains became available meanwhile (pop them, or they
   *   wait for a notification that will not come); `false` otherwise and when
   *   the queue is broken.
   */
  enableNotifications(): boolean {
    const ring = this.ring;
    if (ring.broken !== null) return false;
    try {
      return this.parts.enableNotifications(ring);
    } catch (e) {
      ringAccessFailed(ring, e);
      return false;
    }
  }

  /**
   * A picture of the ring as the device sees it: descriptor table, both
   * rings, the chains in flight (see {@linkcode SplitRingSnapshot}).
   */
  inspect(): SplitRingSnapshot {
    return inspectRing(this.ring);
  }

  /** Text form for the REPL: the ring display. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.inspect().format();
  }

  /** Rich form for Jupyter: the ring display. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return this.inspect().display();
  }
}

/** The device model pushed a head it does not hold: its bug, not the driver's. */
function notPopped(ring: SplitDeviceRing, head: number): never {
  throw new RangeError(
    `Push of descriptor ${head} on queue ${ring.index}, which is not the head of a chain ` +
      "popped and not yet pushed",
  );
}

/** The device model reported more bytes than the chain can take (or not a byte count). */
function badUsedLength(ring: SplitDeviceRing, head: number, len: number): never {
  throw new RangeError(
    `Used length ${len} for chain ${head} on queue ${ring.index} is not an integer from 0 ` +
      `to its ${ring.writable[head]} writable byte(s) (§2.7.8.2/2)`,
  );
}

/**
 * A {@linkcode DeviceQueueFactory} that builds {@linkcode SplitQueueDevice}s
 * running on `parts` (each missing part is the reference one): what the lab
 * machine hands the transport to run a learner's device-side ring.
 *
 * @param parts Replacement parts.
 */
export function createSplitQueueDeviceFactory(
  parts?: Partial<SplitRingDeviceParts>,
): DeviceQueueFactory {
  return (config: SplitQueueConfig, onBroken: (violation: Violation) => void) =>
    new SplitQueueDevice(config, onBroken, { parts });
}

/** Builds a reference {@linkcode SplitQueueDevice}; the transport calls it when a queue goes live. */
export const splitQueueDeviceFactory: DeviceQueueFactory = createSplitQueueDeviceFactory();
