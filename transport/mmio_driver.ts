/**
 * The driver side of virtio-mmio (virtio v1.2 §4.2.3, §3.1.1): what a guest
 * kernel's `virtio_mmio` driver does through the registers of one window.
 *
 * {@linkcode MmioDriverTransport} strings the transport's steps together:
 * probe, the bring-up of §3.1.1 (through the driver core's
 * `initializeDevice`), queue setup and teardown, notifications, interrupt
 * handling and configuration access. Each step is a part (see `parts.ts`),
 * called through the merged parts table, so other versions of any of them can
 * stand in. The first steps themselves ({@linkcode probeWindow},
 * {@linkcode beginInitialization}, {@linkcode negotiateFeatures}, ...) live in
 * `driver_init.ts` and are re-exported here.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceLog, ConformanceReporter } from "../conformance/log.ts";
import { VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_NEEDS_RESET } from "../virtio/status.ts";
import {
  featureMask,
  formatFeatures,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_SR_IOV,
  VIRTIO_F_VERSION_1,
} from "../virtio/features.ts";
import { deviceIdName } from "../virtio/device_ids.ts";
import type { DriverQueue, DriverQueueFactory, SplitQueueAddresses } from "../virtqueue/types.ts";
import { splitQueueDriverFactory } from "../virtqueue/driver_queue.ts";
import { hex8 } from "./mmio_registers.ts";
import * as registers from "./mmio_registers.ts";
import type { AccessWidth, RegisterWindow } from "./types.ts";
import type { QueueSetupOptions, VirtioDriver, VirtioDriverContext } from "../virtio/driver.ts";
import { FeatureSet, StatusByte } from "./inspect.ts";
import {
  DeviceResetError,
  FeatureNegotiationError,
  type ProbeResult,
  readDeviceFeatures,
  resetDevice,
} from "./driver_init.ts";
import { type QueueAreaAllocator, QueueSetupError } from "./driver_queues.ts";
import type { InterruptHandlers } from "./driver_interrupt.ts";
import { allocateQueueAreas } from "../virtqueue/driver/areas.ts";
import { allocatePackedQueueAreas } from "../virtqueue/packed/layout.ts";
import { readConfigField, writeConfigField } from "./driver_config.ts";
import {
  type DriverCoreParts,
  type MmioDriverParts,
  REFERENCE_DRIVER_CORE_PARTS,
  REFERENCE_MMIO_DRIVER_PARTS,
} from "./parts.ts";

// The constants the hot paths use, as module-local constants: V8 folds a
// module's own constants into optimized code, but reads an imported binding
// from its module cell, and checks it, at every use (docs/ARCHITECTURE.md,
// "Performance").
const {
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VERSION_LEGACY,
} = registers;

export {
  addStatus,
  beginInitialization,
  DeviceResetError,
  failDevice,
  FeatureNegotiationError,
  negotiateFeatures,
  type ProbeResult,
  probeWindow,
  readDeviceFeatures,
  resetDevice,
  writeDriverFeatures,
} from "./driver_init.ts";
export { type MmioDriverParts, REFERENCE_MMIO_DRIVER_PARTS };

/**
 * The reference allocation of a queue's areas (the split ring's
 * `allocateQueueAreas`: aligned 16/2/4, zeroed, with the event fields).
 */
const allocateReferenceQueueAreas: QueueAreaAllocator = (allocator, size) =>
  allocateQueueAreas(allocator, size);

/** Options for {@linkcode MmioDriverTransport}. */
export interface MmioDriverTransportOptions {
  /** The window's registers, as the bus exposes them. */
  readonly window: RegisterWindow;
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** Allocator for rings and indirect tables. */
  readonly allocator: GuestAllocator;
  /** The conformance log (the driver reports device violations there). */
  readonly log: ConformanceLog;
  /** Name used in the log (default `"virtio-mmio@0x…"`). */
  readonly name?: string;
  /** Other implementations of some transport steps (the reference supplies the rest). */
  readonly parts?: Partial<MmioDriverParts>;
  /** Other implementations of driver core steps (`initializeDevice`). */
  readonly coreParts?: Partial<DriverCoreParts>;
  /** Allocates a queue's three areas (default: the split ring's reference allocation). */
  readonly allocateQueueAreas?: QueueAreaAllocator;
  /** Builds driver-side queues (default: the reference split queue). */
  readonly queueFactory?: DriverQueueFactory;
  /**
   * Builds driver-side queues when `VIRTIO_F_RING_PACKED` is negotiated
   * (§2.8). When given, the driver accepts `VIRTIO_F_RING_PACKED` if the
   * device offers it, and then allocates each queue's areas with
   * {@linkcode allocatePackedQueueAreas} and builds its queue with this
   * factory; without it, only split rings.
   */
  readonly packedQueueFactory?: DriverQueueFactory;
  /** Allocates a packed queue's three areas (default: `allocatePackedQueueAreas` of `virtqueue/packed/`). */
  readonly allocatePackedQueueAreas?: QueueAreaAllocator;
  /** Upper bound on queue sizes the driver chooses (default 256 descriptors). */
  readonly maxQueueSize?: number;
  /**
   * Drive legacy (Version 1) windows too, as a transitional driver does
   * (default `false`: only Version 2). The window is then probed with the
   * `probeTransitionalWindow` part, and a version 1 device is brought up
   * through the legacy steps of §4.2.4: `negotiateLegacyFeatures`,
   * `setupLegacyQueue`, `stopLegacyQueue`, and configuration reads without
   * `ConfigGeneration`, which a legacy device does not have.
   */
  readonly legacy?: boolean;
}

interface LiveQueue {
  readonly queue: DriverQueue<unknown>;
  readonly onUsed: () => void;
  readonly areas: SplitQueueAddresses;
  /** A legacy queue: one region, starting at `areas.descAddr`. */
  readonly legacy: boolean;
}

/** A legacy device has no `ConfigGeneration` (Linux `vm_generation` returns 0): one read is consistent. */
const readConfigOnce = <R>(_window: RegisterWindow, read: () => R): R => read();

/** Where a bound device stands, for `devices` in the lab shell. */
export type DriverState = "probed" | "empty" | "rejected" | "live" | "failed" | "needs-reset";

/**
 * The driver side of one virtio-mmio window: probe, bring-up, queues,
 * notifications, interrupts and configuration access. It is the
 * {@linkcode VirtioDriverContext} a device-type driver is given.
 */
export class MmioDriverTransport implements VirtioDriverContext {
  /** The window's registers. */
  readonly window: RegisterWindow;
  /** Name used in the log. */
  readonly name: string;
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** Allocator for rings and buffers. */
  readonly allocator: GuestAllocator;
  /** Where device violations seen by the driver go. */
  readonly reporter: ConformanceReporter;
  /** The transport steps in use. */
  readonly parts: MmioDriverParts;
  /** The driver core steps in use. */
  readonly core: DriverCoreParts;
  readonly #allocateQueueAreas: QueueAreaAllocator;
  readonly #queueFactory: DriverQueueFactory;
  readonly #packedQueueFactory: DriverQueueFactory | undefined;
  readonly #allocatePackedQueueAreas: QueueAreaAllocator;
  readonly #maxQueueSize: number;
  readonly #acceptLegacy: boolean;
  #probe: ProbeResult | null = null;
  #features = 0n;
  #offered = 0n;
  #driver: VirtioDriver | null = null;
  #state: DriverState = "probed";
  #failure = "";
  readonly #queues = new Map<number, LiveQueue>();
  /**
   * What `handleInterrupt` dispatches to: made once, not per interrupt. Each
   * handler keeps what it threw in {@linkcode #handlerErrors} instead of
   * throwing into the part.
   */
  readonly #interruptHandlers: InterruptHandlers = {
    configChanged: () => {
      try {
        this.#configChanged();
      } catch (error) {
        (this.#handlerErrors ??= []).push(error);
      }
    },
    usedBuffers: () => {
      try {
        this.#usedBuffers();
      } catch (error) {
        (this.#handlerErrors ??= []).push(error);
      }
    },
  };
  #handlerErrors: unknown[] | null = null;
  #interrupts = 0;
  #spuriousInterrupts = 0;

  /**
   * Wraps one window; nothing is read until {@linkcode probe} or {@linkcode initialize}.
   *
   * @param options Window, memory, allocator, log, parts, queue factory.
   */
  constructor(options: MmioDriverTransportOptions) {
    this.window = options.window;
    this.name = options.name ?? `virtio-mmio@0x${options.window.base.toString(16)}`;
    this.memory = options.memory;
    this.allocator = options.allocator;
    this.reporter = options.log.scoped(`${this.name} driver`);
    this.parts = { ...REFERENCE_MMIO_DRIVER_PARTS, ...options.parts };
    this.core = { ...REFERENCE_DRIVER_CORE_PARTS, ...options.coreParts };
    this.#allocateQueueAreas = options.allocateQueueAreas ?? allocateReferenceQueueAreas;
    this.#queueFactory = options.queueFactory ?? splitQueueDriverFactory;
    this.#packedQueueFactory = options.packedQueueFactory;
    this.#allocatePackedQueueAreas = options.allocatePackedQueueAreas ?? allocatePackedQueueAreas;
    this.#maxQueueSize = options.maxQueueSize ?? 256;
    this.#acceptLegacy = options.legacy ?? false;
  }

  /** Whether the window holds a legacy (Version 1) device this transport drives through §4.2.4. */
  get legacy(): boolean {
    const found = this.probed;
    return found.kind === "device" && found.version === VIRTIO_MMIO_VERSION_LEGACY;
  }

  /** What probing found (probes on first use). */
  get probed(): ProbeResult {
    return this.#probe ?? this.probe();
  }

  /** `DeviceID` (0 unless a device was found). */
  get deviceId(): number {
    return this.probed.kind === "device" ? this.probed.deviceId : 0;
  }

  /** `VendorID` (0 unless a device was found). */
  get vendorId(): number {
    return this.probed.kind === "device" ? this.probed.vendorId : 0;
  }

  /** The negotiated features. */
  get features(): bigint {
    return this.#features;
  }

  /** The features the device offered at negotiation. */
  get offered(): bigint {
    return this.#offered;
  }

  /** The bound driver, if any. */
  get driver(): VirtioDriver | null {
    return this.#driver;
  }

  /** Where this device stands. */
  get state(): DriverState {
    return this.#state;
  }

  /** Whether the device set DEVICE_NEEDS_RESET (2.1.1/4: rely on nothing it does until reset). */
  get needsReset(): boolean {
    return this.#state === "needs-reset";
  }

  /** Why initialization failed or the device needs a reset, or `""`. */
  get failure(): string {
    return this.#failure;
  }

  /** Interrupts handled (spurious ones included). */
  get interrupts(): number {
    return this.#interrupts;
  }

  /** Interrupts that found no event pending (`InterruptStatus` read 0): nothing was acknowledged. */
  get spuriousInterrupts(): number {
    return this.#spuriousInterrupts;
  }

  /** The status byte as the driver reads it now. */
  get status(): StatusByte {
    return new StatusByte(this.window.read32(VIRTIO_MMIO_STATUS));
  }

  /** The live queues by index. */
  get queues(): ReadonlyMap<number, DriverQueue<unknown>> {
    return new Map([...this.#queues].map(([i, q]) => [i, q.queue]));
  }

  /**
   * Identifies what is in the window (§4.2.3.1.1) and logs what the device
   * got wrong. An empty slot is not reported (4.2.2.2/6).
   */
  probe(): ProbeResult {
    let found: ProbeResult;
    try {
      found = this.#acceptLegacy
        ? this.parts.probeTransitionalWindow(this.window)
        : this.parts.probeWindow(this.window);
    } catch (error) {
      // Remember the failure, so that looking at the result later (`probed`,
      // a machine's device list) does not run a failing probe again.
      const reason = `probe failed: ${error instanceof Error ? error.message : String(error)}`;
      this.#probe = { kind: "rejected", requirement: "", reason, magic: 0, version: 0 };
      this.#state = "rejected";
      this.#failure = reason;
      throw error;
    }
    this.#probe = found;
    if (found.kind === "empty") this.#state = "empty";
    if (found.kind === "rejected") {
      this.#state = "rejected";
      this.#failure = found.reason;
      if (found.requirement === "4.2.2.2/4") {
        this.reporter.report(
          "4.2.2.1/1",
          found.reason,
          { magic: hex8(found.magic) },
          "device ignored",
        );
      } else if (found.version !== VIRTIO_MMIO_VERSION_LEGACY) {
        this.reporter.report(
          "4.2.2.1/2",
          found.reason,
          { version: found.version },
          "device ignored",
        );
      }
    }
    return found;
  }

  /**
   * Brings the device up and binds `driver` to it: the driver core's
   * `initializeDevice` runs §3.1.1 (reset, ACKNOWLEDGE, DRIVER, feature
   * negotiation, `driver.probe` to set up queues and read configuration,
   * DRIVER_OK) over this transport's steps, then `driver.ready` runs. On
   * failure the queues set up so far are stopped and freed, FAILED is set
   * where the spec asks for it, and `driver.remove` runs, so that a request
   * made meanwhile settles instead of waiting for a device that never went
   * live.
   *
   * @param driver The device-type driver.
   * @throws {Error} If the window holds no device or one of another type, or
   *   any step fails.
   */
  async initialize(driver: VirtioDriver): Promise<void> {
    const found = this.probed;
    if (found.kind !== "device") {
      throw new Error(`${this.name}: no device to initialize (${found.kind})`);
    }
    if (found.deviceId !== driver.deviceId) {
      throw new Error(
        `${this.name}: driver ${driver.name} is for ${deviceIdName(driver.deviceId)}, ` +
          `the window holds ${deviceIdName(found.deviceId)}`,
      );
    }
    if (this.#queues.size > 0) {
      // Initialized before: the reset ahead stops every queue (4.2.2.1/5),
      // after which their areas can go.
      resetDevice(this.window);
      this.#releaseQueues();
    }
    // The ring layout is the transport's business, not the device driver's:
    // with a packed queue factory, the packed ring is accepted if offered (6.1/5).
    const ring = this.#packedQueueFactory ? featureMask(VIRTIO_F_RING_PACKED) : 0n;
    await this.#bringUp(driver, driver.supportedFeatures | ring);
  }

  /**
   * §3.1.1 through the core's `initializeDevice`, offering `supported`, then
   * `driver.ready`. On failure the queues this attempt set up are stopped
   * and freed, FAILED is set, and the driver is told to let go of its
   * requests (`remove`), so that none waits for a device that will not run.
   */
  async #bringUp(driver: VirtioDriver, supported: bigint): Promise<bigint> {
    const legacy = this.legacy;
    // A legacy device is brought up with the same §3.1.1 sequence, its
    // feature step the legacy one (no FEATURES_OK, §3.1.2).
    const steps = legacy
      ? { ...this.parts, negotiateFeatures: this.parts.negotiateLegacyFeatures }
      : this.parts;
    try {
      this.#features = await this.core.initializeDevice(this.window, {
        supportedFeatures: supported,
        setup: async (features) => {
          this.#features = features;
          this.#checkOffered(legacy);
          this.#driver = driver;
          await driver.probe(this);
        },
      }, steps);
      this.#state = "live";
      this.#failure = "";
      await driver.ready?.();
      return this.#features;
    } catch (error) {
      if (
        !legacy && error instanceof FeatureNegotiationError &&
        !hasFeature(error.offered, VIRTIO_F_VERSION_1)
      ) {
        // A Version 2 window is a modern device, and modern devices offer
        // VIRTIO_F_VERSION_1 (6.2/1); the driver may give up (6.1/2).
        this.reporter.report(
          "6.2/1",
          `Modern (Version 2) device does not offer VIRTIO_F_VERSION_1 (offered ${
            formatFeatures(error.offered)
          })`,
          { offered: error.offered },
          "set FAILED",
        );
      }
      this.#reportBringUpFailure(error);
      // Undo only what was done: the queues this attempt set up.
      this.#deleteQueues();
      this.fail(error instanceof Error ? error.message : String(error));
      try {
        driver.remove?.();
      } catch {
        // The bring-up's error is the one worth reporting.
      }
      throw error;
    }
  }

  /**
   * Reports the rule a device broke when that is why the bring-up failed: a
   * reset that never read back 0 (2.4.1/1), or a queue whose QueueReady
   * still read 1 after the reset (4.2.2.1/5). Other failures are refusals
   * the spec allows (features not accepted, a queue the device does not
   * have or will not take) or the driver's own, and the error says why.
   */
  #reportBringUpFailure(error: unknown): void {
    if (error instanceof DeviceResetError) {
      this.reporter.report(
        "2.4.1/1",
        `Device reset did not complete: Status still reads 0x${
          error.status.toString(16).padStart(2, "0")
        } after ${error.polls} reads`,
        { status: error.status, polls: error.polls },
        "set FAILED",
      );
    } else if (error instanceof QueueSetupError && error.step === "QueueReady") {
      this.reporter.report(
        "4.2.2.1/5",
        `Queue ${error.queue} reads QueueReady ${error.value} after the device was reset`,
        { queue: error.queue, ready: error.value },
        "set FAILED",
      );
    }
  }

  /**
   * Recovers the device after it set DEVICE_NEEDS_RESET (or after FAILED):
   * the core's `recoverDevice` part resets it, then the bound driver's
   * `resetPrepare` settles what the device dropped and frees its buffers,
   * the old queues are released, and §3.1.1 runs again offering the
   * features negotiated before (2.2.2/3), `probe` and `ready` included.
   * Requests made meanwhile wait for the new bring-up.
   *
   * Recovery is the caller's decision, never automatic: a device that breaks
   * again at once would otherwise loop, and what broke stays observable
   * until someone asks.
   *
   * @returns `true` if the device was reset and is live again; `false` if it
   *   had asked for nothing (neither DEVICE_NEEDS_RESET nor FAILED set: nothing was touched).
   * @throws {Error} If no driver is bound, or the driver has no `resetPrepare`
   *   (nothing was touched); what the reset or the new bring-up threw (the
   *   device is then FAILED, the driver removed and every request settled).
   */
  async recover(): Promise<boolean> {
    const driver = this.#driver;
    if (!driver) throw new Error(`${this.name}: no driver is bound to recover`);
    const prepare = driver.resetPrepare;
    if (typeof prepare !== "function") {
      throw new Error(`${this.name}: driver ${driver.name} cannot be recovered (no resetPrepare)`);
    }
    const outcome = await this.core.recoverDevice(this.window, this.#features, {
      release: () => {
        try {
          prepare.call(driver);
        } finally {
          this.#releaseQueues();
        }
      },
      reinitialize: (features) => this.#bringUp(driver, features),
    });
    return outcome.recovered;
  }

  /**
   * What the device offers, read after negotiation (so that the negotiation
   * step is the first to touch DeviceFeaturesSel), for display and checks.
   */
  #checkOffered(legacy: boolean): void {
    this.#offered = readDeviceFeatures(this.window);
    if (legacy && this.#offered >> 32n !== 0n) {
      this.reporter.report(
        "4.2.4/D5",
        `A legacy device offers bits beyond word 0 (offered ${formatFeatures(this.#offered)})`,
        { offered: this.#offered },
        "bits above 31 ignored",
      );
    }
    if (hasFeature(this.#offered, VIRTIO_F_SR_IOV)) {
      this.reporter.report(
        "6.2/8",
        `An MMIO device offers VIRTIO_F_SR_IOV (offered ${
          formatFeatures(this.#offered)
        }); only PCI devices may`,
        { offered: this.#offered },
        "feature not accepted",
      );
    }
  }

  /**
   * Sets FAILED (§3.1.1/4) and records why.
   *
   * @param reason One sentence.
   */
  fail(reason: string): void {
    this.#state = "failed";
    this.#failure = reason;
    const status = this.window.read32(VIRTIO_MMIO_STATUS);
    if ((status & VIRTIO_CONFIG_S_FAILED) === 0) this.parts.failDevice(this.window);
  }

  /**
   * Resets the device and releases every queue: what a driver does when it
   * unbinds. Tokens of unfinished requests are lost.
   */
  shutdown(): void {
    this.#driver?.remove?.();
    resetDevice(this.window);
    this.#releaseQueues();
    this.#state = "probed";
  }

  /**
   * Releases every queue once the device no longer uses any (after a reset):
   * the chains (and their indirect tables) first, then the ring areas.
   */
  #releaseQueues(): void {
    for (const live of this.#queues.values()) {
      live.queue.detach?.();
      this.#freeAreas(live.areas, live.legacy);
    }
    this.#queues.clear();
  }

  /** Frees a queue's three areas, or a legacy queue's one region. */
  #freeAreas(areas: SplitQueueAddresses, legacy: boolean): void {
    if (legacy) {
      this.allocator.free(areas.descAddr);
      return;
    }
    for (const area of [areas.descAddr, areas.availAddr, areas.usedAddr]) this.allocator.free(area);
  }

  // ------------------------------------------------------------ queues

  /**
   * Configures and enables a virtqueue (§4.2.3.2) with the `setupQueue` part,
   * allocating its areas with the configured allocation step, and builds the
   * driver half of the queue over them.
   *
   * @param index Queue index.
   * @param options Size (default `QueueNumMax`, capped by `maxQueueSize`) and the used callback.
   * @returns The driver half of the queue.
   * @throws {QueueSetupError} If the queue does not exist, is in use, or the device refuses it.
   * @throws {Error} If the queue is set up already, or the queue factory throws
   *   (the queue is then stopped and its areas freed).
   */
  setupQueue<T>(index: number, options: QueueSetupOptions): DriverQueue<T> {
    if (this.#queues.has(index)) {
      throw new Error(`${this.name}: queue ${index} is set up already`);
    }
    const legacy = this.legacy;
    const packed = this.#packedQueueFactory !== undefined &&
      hasFeature(this.#features, VIRTIO_F_RING_PACKED);
    const request = { size: options.size, maxSize: this.#maxQueueSize };
    const setup = legacy
      ? this.parts.setupLegacyQueue(this.window, this.allocator, index, request)
      : this.parts.setupQueue(
        this.window,
        this.allocator,
        index,
        request,
        packed ? this.#allocatePackedQueueAreas : this.#allocateQueueAreas,
      );
    const areas = {
      descAddr: setup.descAddr,
      availAddr: setup.availAddr,
      usedAddr: setup.usedAddr,
    };
    let queue: DriverQueue<T>;
    try {
      const factory = packed ? this.#packedQueueFactory! : this.#queueFactory;
      queue = factory<T>({
        memory: this.memory,
        allocator: this.allocator,
        index,
        size: setup.size,
        ...areas,
        eventIdx: hasFeature(this.#features, VIRTIO_F_EVENT_IDX),
        indirect: hasFeature(this.#features, VIRTIO_F_INDIRECT_DESC),
        reporter: this.reporter.scoped(`queue ${index}`),
      });
    } catch (error) {
      // The device holds a live queue the driver cannot use: stop it before
      // giving its memory back.
      this.#stopQueue(index, legacy);
      this.#freeAreas(areas, legacy);
      throw error;
    }
    this.#queues.set(index, {
      queue: queue as DriverQueue<unknown>,
      onUsed: options.onUsed,
      areas,
      legacy,
    });
    return queue;
  }

  /**
   * Stops a queue and releases it (Linux `vm_del_vq`): the `stopQueue` part
   * writes 0 to `QueueReady` and waits to read 0, then the queue's unfinished
   * chains are taken back and its areas freed.
   *
   * @param index Queue index.
   * @throws {QueueStopError} If the device never stops: the areas stay
   *   allocated, since the device may still write them.
   * @throws {Error} If the queue is not set up.
   */
  deleteQueue(index: number): void {
    const live = this.#queues.get(index);
    if (!live) throw new Error(`${this.name}: queue ${index} is not set up`);
    this.#stopQueue(index, live.legacy);
    this.#queues.delete(index);
    live.queue.detach?.();
    this.#freeAreas(live.areas, live.legacy);
  }

  /** The `stopQueue` part, or `stopLegacyQueue` for a legacy queue. */
  #stopQueue(index: number, legacy: boolean): void {
    if (legacy) this.parts.stopLegacyQueue(this.window, index);
    else this.parts.stopQueue(this.window, index);
  }

  /**
   * Deletes every queue set up, each on its own: a queue that does not stop
   * keeps its areas, and the others are still released.
   */
  #deleteQueues(): void {
    for (const index of [...this.#queues.keys()]) {
      try {
        this.deleteQueue(index);
      } catch {
        // QueueStopError: the queue stays allocated and recorded.
      }
    }
  }

  /**
   * Sends an available buffer notification: writes the queue index to
   * `QueueNotify` (§4.2.3.3).
   *
   * @param index Queue index.
   */
  notify(index: number): void {
    this.window.write32(VIRTIO_MMIO_QUEUE_NOTIFY, index);
  }

  // -------------------------------------------------------- interrupts

  /**
   * The interrupt handler (§4.2.3.4): the `handleInterrupt` part reads
   * `InterruptStatus`, acknowledges what it read and dispatches; a
   * configuration change checks for DEVICE_NEEDS_RESET (§2.1.2/2) and tells
   * the driver, a used buffer notification runs every live queue's callback
   * (4.2.3.4.1/2). An exception in one callback does not keep the others from
   * running; it is thrown afterwards.
   *
   * @throws {Error} What a callback threw, after all have run.
   */
  handleInterrupt(): void {
    this.#interrupts++;
    // The handlers never throw into the part: an exception in one event's
    // handling must not keep another handler from running, whatever the
    // part does with exceptions (a configuration change that throws would
    // otherwise drop the used buffers of the same interrupt, leaving their
    // requests waiting forever). Errors are thrown once the part returns.
    this.#handlerErrors = null;
    const result = this.parts.handleInterrupt(this.window, this.#interruptHandlers);
    this.#noteInterrupt(result);
    const errors = this.#handlerErrors as unknown[] | null;
    if (errors === null) return;
    this.#handlerErrors = null;
    if (errors.length === 1) throw errors[0];
    throw new AggregateError(errors, `${this.name}: several interrupt handlers threw`);
  }

  #noteInterrupt(result: { status: number; acknowledged: number }): void {
    const undefinedBits = (result.status & ~VIRTIO_MMIO_INT_MASK) >>> 0;
    if (undefinedBits !== 0) {
      this.reporter.report(
        "4.2.2.1/4",
        `InterruptStatus reads ${hex8(result.status)} with undefined bits ${
          hex8(undefinedBits)
        } set`,
        { status: hex8(result.status) },
        "undefined bits ignored",
      );
    }
    if (result.acknowledged === 0) this.#spuriousInterrupts++;
  }

  #configChanged(): void {
    const deviceStatus = this.window.read32(VIRTIO_MMIO_STATUS);
    if (deviceStatus & VIRTIO_CONFIG_S_NEEDS_RESET) {
      // 2.1.1/4: stop relying on the device until it is reset.
      this.#state = "needs-reset";
      this.#failure = "the device set DEVICE_NEEDS_RESET";
    }
    this.#driver?.configChanged?.();
  }

  #usedBuffers(): void {
    let errors: unknown[] | null = null;
    for (const live of this.#queues.values()) {
      try {
        live.onUsed();
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors === null) return;
    if (errors.length === 1) throw errors[0];
    throw new AggregateError(errors, "Several used-buffer callbacks threw");
  }

  // ------------------------------------------------------------ config

  /** Reads a 1-, 2- or 4-byte configuration field with an access of that width. */
  readConfig(offset: number, width: AccessWidth): number {
    return readConfigField(this.window, offset, width);
  }

  /**
   * Reads a 64-bit field as two 32-bit accesses, low word first (4.2.2.2/3),
   * consistent under ConfigGeneration (the `readConfig64` part).
   *
   * @throws {ConfigGenerationError} If the generation never settles.
   */
  readConfig64(offset: number): bigint {
    return this.parts.readConfig64(
      this.window,
      offset,
      this.legacy ? readConfigOnce : this.parts.readConfigConsistent,
    );
  }

  /** Writes a 1-, 2- or 4-byte configuration field. */
  writeConfig(offset: number, width: AccessWidth, value: number): void {
    writeConfigField(this.window, offset, width, value);
  }

  /**
   * Reads configuration fields consistently (§2.5.1): the
   * `readConfigConsistent` part repeats `read` until `ConfigGeneration` is the
   * same before and after.
   *
   * @param read Reads the fields.
   * @param maxTries Attempts before giving up (default 100).
   * @returns The consistent result.
   * @throws {ConfigGenerationError} If the generation never settles.
   */
  readConfigConsistent<R>(read: () => R, maxTries = 100): R {
    if (this.legacy) return readConfigOnce(this.window, read);
    return this.parts.readConfigConsistent(this.window, read, maxTries);
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    const found = this.probed;
    const what = found.kind === "device" ? deviceIdName(found.deviceId) : found.kind;
    return `MmioDriverTransport ${this.name}: ${what}, ${this.#state}` +
      `${this.#failure ? ` (${this.#failure})` : ""}, features ${new FeatureSet(this.#features)}`;
  }
}
