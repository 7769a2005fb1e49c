/**
 * The contracts of the split virtqueue (virtio v1.2 §2.7): what the driver
 * half and the device half offer to the layers above. The reference
 * implementations are `SplitQueueDriver` and `SplitQueueDevice`; a learner's
 * queue plugs into the lab machine by implementing the same interfaces and
 * being handed to it through the factories below.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceReporter, Violation } from "../conformance/log.ts";

/** A guest-physical buffer: `len` bytes at `addr`. */
export interface BufferSegment {
  /** Guest-physical address of the first byte. */
  readonly addr: number;
  /** Length in bytes. */
  readonly len: number;
}

/**
 * Where the three parts of a split virtqueue live in guest memory (§2.7): the
 * descriptor table (Descriptor Area), the available ring (Driver Area) and the
 * used ring (Device Area). These are the values a driver writes to
 * `QueueDesc*`, `QueueDriver*` and `QueueDevice*` (§4.2.2).
 */
export interface SplitQueueAddresses {
  /** Descriptor Area: the descriptor table, 16-byte aligned. */
  readonly descAddr: number;
  /** Driver Area: the available ring, 2-byte aligned. */
  readonly availAddr: number;
  /** Device Area: the used ring, 4-byte aligned. */
  readonly usedAddr: number;
}

/** Everything either half needs to know about one queue. */
export interface SplitQueueConfig extends SplitQueueAddresses {
  /** The shared guest RAM. */
  readonly memory: GuestMemory;
  /** Queue index within its device (0 for a console's receiveq). */
  readonly index: number;
  /** Queue Size: number of descriptors, a power of two from 1 to 32768. */
  readonly size: number;
  /** Whether `VIRTIO_F_EVENT_IDX` was negotiated (`used_event`/`avail_event` in use). */
  readonly eventIdx: boolean;
  /** Whether `VIRTIO_F_INDIRECT_DESC` was negotiated. */
  readonly indirect: boolean;
  /** Where violations of the other side are reported (already scoped to this queue). */
  readonly reporter: ConformanceReporter;
}

/**
 * One descriptor chain as the device sees it after validation (§2.7.4,
 * §2.7.5): device-readable segments first, then device-writable ones, with
 * indirect tables already flattened.
 */
export interface DescriptorChain {
  /** Index of the head descriptor: the id to return in the used ring. */
  readonly head: number;
  /** Device-readable buffers, in chain order. */
  readonly readable: readonly BufferSegment[];
  /** Device-writable buffers, in chain order. */
  readonly writable: readonly BufferSegment[];
  /** Sum of the readable lengths, in bytes. */
  readonly readableLength: number;
  /** Sum of the writable lengths, in bytes. */
  readonly writableLength: number;
  /** Number of descriptors walked, including any indirect table's entries. */
  readonly descriptorCount: number;
  /** Whether the chain used an indirect descriptor table. */
  readonly indirect: boolean;
}

/**
 * A device's byte-stream copies over a chain's buffers (§2.7.4): the same
 * shapes as `readChain` and `writeChain` in `virtqueue/chain.ts`.
 */
export interface ChainStreamParts {
  /**
   * Copies up to `dest.length` bytes of the stream `segments` form, from
   * byte `offset` on, into `dest`; returns the bytes copied.
   */
  readonly readChain: (
    memory: GuestMemory,
    segments: readonly BufferSegment[],
    dest: Uint8Array,
    offset?: number,
  ) => number;
  /**
   * Copies `src` into the stream `segments` form, from byte `offset` on, as
   * far as the stream goes; returns the bytes written.
   */
  readonly writeChain: (
    memory: GuestMemory,
    segments: readonly BufferSegment[],
    src: Uint8Array,
    offset?: number,
  ) => number;
}

/** Counters a device-side queue keeps (for `stats` in the lab shell). */
export interface DeviceQueueStats {
  /** Chains popped from the available ring. */
  readonly chains: number;
  /** Bytes in the readable parts of popped chains. */
  readonly bytesRead: number;
  /** Bytes reported as written in used entries (`len`). */
  readonly bytesWritten: number;
  /** Used entries pushed. */
  readonly used: number;
}

/**
 * The device half of a split virtqueue.
 *
 * A malformed chain never throws out of {@linkcode pop} (unless the
 * conformance log is strict): it is reported with its requirement id, the
 * queue becomes {@linkcode broken} and stops returning chains, and the
 * `onBroken` callback given to the factory lets the transport set
 * DEVICE_NEEDS_RESET.
 */
export interface DeviceQueue {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** The violation that broke this queue, or `null` while it is healthy. */
  readonly broken: Violation | null;
  /** Counters since the queue was created. */
  readonly stats: DeviceQueueStats;

  /**
   * Whether the available ring holds chains not popped yet (false when
   * broken). An available `idx` no driver could have written (more than
   * Queue Size ahead, or moved back) breaks the queue here already.
   */
  hasAvailable(): boolean;
  /**
   * Takes the next chain from the available ring and validates it.
   *
   * The chain object belongs to the queue and stays valid until its head is
   * pushed: a queue may reuse it, with its segment lists and segments, for
   * the next chain at the same head. A device model that needs any of it
   * after {@linkcode push} copies it first.
   *
   * @returns The chain, or `null` when none is available or the queue is broken.
   */
  pop(): DescriptorChain | null;
  /**
   * Returns a chain to the driver through the used ring: writes the used
   * element (`id = head`, `len`), then advances the used `idx` (§2.7.8).
   *
   * @param head The chain's head index, as popped.
   * @param len Bytes written into the chain's writable buffers.
   */
  push(head: number, len: number): void;
  /**
   * Whether the driver wants a used buffer notification for the entries pushed
   * since the last call (`VIRTQ_AVAIL_F_NO_INTERRUPT` or `used_event`, §2.7.7);
   * calling it consumes those entries.
   */
  needsInterrupt(): boolean;
  /** Asks the driver not to send available buffer notifications (§2.7.10). */
  disableNotifications(): void;
  /**
   * Asks for available buffer notifications again (§2.7.10).
   *
   * @returns `true` if chains became available meanwhile: pop again, or one is missed.
   */
  enableNotifications(): boolean;
  /**
   * How this queue's device copies bytes in and out of the chains it pops,
   * as one stream per direction (§2.7.4: `readChain` over a chain's
   * `readable` list, `writeChain` over its `writable` list). The device
   * models pass these to their parts, so the copy code is the queue's own
   * replaceable part.
   */
  readonly streams: ChainStreamParts;
}

/** Builds a device-side queue; the transport calls it when a queue goes live. */
export type DeviceQueueFactory = (
  config: SplitQueueConfig,
  onBroken: (violation: Violation) => void,
) => DeviceQueue;

/** A chain the device has returned, as the driver reaps it. */
export interface UsedBuffer<T> {
  /** The token given to {@linkcode DriverQueue.add}. */
  readonly token: T;
  /** Bytes the device says it wrote into the writable buffers. */
  readonly len: number;
}

/** Options for adding a chain on the driver side. */
export interface AddOptions {
  /** Use an indirect table: `"auto"` (default: when negotiated and the chain has 2+ segments), `"always"`, `"never"`. */
  readonly indirect?: "auto" | "always" | "never";
}

/**
 * The driver half of a split virtqueue. It keeps a private shadow of what it
 * posted and never trusts what the device writes beyond the used ring.
 */
export interface DriverQueue<T = unknown> {
  /** Queue index within the device. */
  readonly index: number;
  /** Queue Size, in descriptors. */
  readonly size: number;
  /** Where the parts live, for `QueueDesc*`/`QueueDriver*`/`QueueDevice*`. */
  readonly addresses: SplitQueueAddresses;
  /** Free descriptors in the table. */
  readonly numFree: number;
  /** Chains posted and not reaped yet. */
  readonly inFlight: number;
  /** The violation by the device that broke this queue, or `null`. */
  readonly broken: Violation | null;

  /**
   * Places a chain in the descriptor table and its head in the available ring
   * (not yet visible: see {@linkcode kickPrepare}).
   *
   * @param readable Device-readable buffers (placed first, §2.7.4.2/1).
   * @param writable Device-writable buffers.
   * @param token Returned with the used entry.
   * @throws {VirtqueueFullError} When too few descriptors are free.
   * @throws {VirtqueueBrokenError} When the queue is broken.
   */
  add(
    readable: readonly BufferSegment[],
    writable: readonly BufferSegment[],
    token: T,
    options?: AddOptions,
  ): void;
  /**
   * Publishes added chains by advancing the available `idx`, then decides
   * whether the device wants a notification (`VIRTQ_USED_F_NO_NOTIFY` or
   * `avail_event`, §2.7.10).
   *
   * @returns `true` if the caller should notify the device.
   */
  kickPrepare(): boolean;
  /**
   * Reaps one used entry, checking it against the shadow.
   *
   * @returns The entry, or `null` when none is pending (or the device broke a rule).
   */
  getBuf(): UsedBuffer<T> | null;
  /** Whether used entries are pending. */
  hasUsed(): boolean;
  /** Asks the device not to send used buffer notifications (§2.7.7). */
  disableCallbacks(): void;
  /**
   * Asks for used buffer notifications again.
   *
   * @returns `false` if used entries arrived meanwhile (reap them, or one is missed).
   */
  enableCallbacks(): boolean;
  /**
   * Reaps every used entry: used buffer notifications off, {@linkcode getBuf}
   * until nothing is pending with `onUsed` called for each entry, then
   * notifications on and the used ring checked once more, round again if an
   * entry arrived meanwhile (§2.7.14). What a driver does on a used buffer
   * notification; returns at once when the queue is broken.
   *
   * @param onUsed What to do with one entry; it must not throw.
   */
  drainUsed(onUsed: (used: UsedBuffer<T>) => void): void;
  /**
   * Takes back every chain not reaped, once the device no longer uses the
   * queue (after a device or queue reset, §2.6.1), releasing descriptors and
   * indirect tables. Optional for a learner's queue; the transport calls it
   * when present.
   *
   * @returns The tokens of the chains that never came back.
   */
  detach?(): T[];
}

/** Options for building a driver-side queue. */
export interface DriverQueueConfig extends SplitQueueConfig {
  /** Allocator for indirect tables (needed when `indirect` is true). */
  readonly allocator?: GuestAllocator;
}

/** Builds a driver-side queue over parts the caller has allocated and zeroed. */
export type DriverQueueFactory = <T>(config: DriverQueueConfig) => DriverQueue<T>;

/** No room in the descriptor table for the chain being added. */
export class VirtqueueFullError extends Error {
  /** Descriptors the chain needs. */
  readonly needed: number;
  /** Descriptors free. */
  readonly free: number;

  /**
   * Records how many descriptors were needed and free.
   *
   * @param needed Descriptors the chain needs.
   * @param free Descriptors free.
   */
  constructor(needed: number, free: number) {
    super(`Virtqueue full: chain needs ${needed} descriptor(s), ${free} free`);
    this.name = "VirtqueueFullError";
    this.needed = needed;
    this.free = free;
  }
}

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

/** The queue was broken by the other side and refuses further work until reset. */
export class VirtqueueBrokenError extends Error {
  /** The violation that broke the queue. */
  readonly violation: Violation;

  /**
   * Wraps the violation that broke the queue.
   *
   * @param violation The violation that broke the queue.
   */
  constructor(violation: Violation) {
    super(`Virtqueue is broken since §${violation.id}: ${violation.message}`);
    this.name = "VirtqueueBrokenError";
    this.violation = violation;
  }
}
