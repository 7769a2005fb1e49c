/**
 * The driver side of virtio-mmio (virtio v1.2 §4.2.3, §3.1.1): what a guest
 * kernel's `virtio_mmio` driver does through the registers of one window.
 *
 * The steps are separate functions because each is lesson material:
 * {@linkcode probeWindow} (lesson 1), {@linkcode resetDevice},
 * {@linkcode beginInitialization} and {@linkcode failDevice} (lesson 2),
 * {@linkcode readDeviceFeatures}, {@linkcode writeDriverFeatures} and
 * {@linkcode negotiateFeatures} (lesson 3). {@linkcode MmioDriverTransport}
 * strings them together into the whole bring-up, queue setup, notifications,
 * interrupt handling and configuration access, and takes a learner's versions
 * of the steps in place of these.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceLog, ConformanceReporter } from "../conformance/log.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import {
  featureMask,
  formatFeatures,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_SR_IOV,
  VIRTIO_F_VERSION_1,
} from "../virtio/features.ts";
import { deviceIdName } from "../virtio/device_ids.ts";
import type { DriverQueue, DriverQueueFactory } from "../virtqueue/types.ts";
import { SplitQueueDriver, splitQueueDriverFactory } from "../virtqueue/driver_queue.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_LEGACY,
  VIRTIO_MMIO_VERSION_MODERN,
} from "./mmio_registers.ts";
import type { AccessWidth, RegisterWindow } from "./types.ts";
import type { QueueSetupOptions, VirtioDriver, VirtioDriverContext } from "../virtio/driver.ts";
import { FeatureSet, StatusByte } from "./inspect.ts";

// ------------------------------------------------------------------ lesson 1

/** What {@linkcode probeWindow} found in a window. */
export type ProbeResult =
  | {
    /** A modern virtio device to initialize. */
    readonly kind: "device";
    /** `DeviceID`, nonzero. */
    readonly deviceId: number;
    /** `VendorID`. */
    readonly vendorId: number;
    /** `Version`, 2. */
    readonly version: number;
  }
  | {
    /** An empty slot (DeviceID 0): ignore it silently (4.2.2.2/6). */
    readonly kind: "empty";
  }
  | {
    /** Not a device this driver may use: ignore it (4.2.2.2/4, 4.2.2.2/5). */
    readonly kind: "rejected";
    /** Why: `"4.2.2.2/4"` (bad magic), `"4.2.2.2/5"` (version not 2), or `""` when probing itself failed. */
    readonly requirement: RequirementId | "";
    /** One sentence naming the value read. */
    readonly reason: string;
    /** `MagicValue` as read. */
    readonly magic: number;
    /** `Version` as read (0 when not read because the magic was wrong). */
    readonly version: number;
  };

/**
 * Looks at an MMIO window the way §4.2.3.1.1 says a driver starts: read and
 * check `MagicValue` and `Version` first; only if both are valid read
 * `DeviceID`, and if it is 0 stop there without touching anything else and
 * without reporting an error (4.2.2.2/6, 4.2.3.1.1/2). Otherwise read
 * `VendorID` too.
 *
 * @param window The window's registers.
 * @returns A device to initialize, an empty slot, or a rejected window.
 * @example
 * ```ts ignore
 * const found = probeWindow(bus.window(0x1e000));
 * if (found.kind === "device") console.log(found.deviceId); // 2 for a block device
 * ```
 */
export function probeWindow(window: RegisterWindow): ProbeResult {
  const magic = window.read32(VIRTIO_MMIO_MAGIC_VALUE) >>> 0;
  if (magic !== VIRTIO_MMIO_MAGIC) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/4",
      reason: `MagicValue reads 0x${magic.toString(16).padStart(8, "0")}, not 0x74726976 ("virt")`,
      magic,
      version: 0,
    };
  }
  const version = window.read32(VIRTIO_MMIO_VERSION) >>> 0;
  if (version !== VIRTIO_MMIO_VERSION_MODERN) {
    return {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: version === VIRTIO_MMIO_VERSION_LEGACY
        ? "Version reads 1: a legacy device, and this driver speaks only version 2"
        : `Version reads ${version}, not 2`,
      magic,
      version,
    };
  }
  const deviceId = window.read32(VIRTIO_MMIO_DEVICE_ID) >>> 0;
  if (deviceId === 0) return { kind: "empty" };
  const vendorId = window.read32(VIRTIO_MMIO_VENDOR_ID) >>> 0;
  return { kind: "device", deviceId, vendorId, version };
}

// ------------------------------------------------------------------ lesson 2

/** The device did not finish a reset: Status never read back 0 (2.4.1/1, 2.4.2/1). */
export class DeviceResetError extends Error {
  /** The last status read. */
  readonly status: number;
  /** Reads made before giving up. */
  readonly polls: number;

  /**
   * Records how the reset failed.
   *
   * @param status The last status read.
   * @param polls Reads made before giving up.
   */
  constructor(status: number, polls: number) {
    super(
      `Device reset did not complete: Status still reads ${
        formatStatus(status)
      } after ${polls} reads`,
    );
    this.name = "DeviceResetError";
    this.status = status;
    this.polls = polls;
  }
}

/**
 * Resets the device (§2.4): writes 0 to `Status`, then reads `Status` until it
 * is 0, which is when the driver may consider the reset done (2.4.2/1).
 *
 * @param window The window's registers.
 * @param maxPolls How many reads to make before giving up (default 1000).
 * @throws {DeviceResetError} If Status never reads 0.
 */
export function resetDevice(window: RegisterWindow, maxPolls = 1000): void {
  window.write32(VIRTIO_MMIO_STATUS, 0);
  let status = 0;
  for (let poll = 1; poll <= maxPolls; poll++) {
    status = window.read32(VIRTIO_MMIO_STATUS);
    if (status === 0) return;
  }
  throw new DeviceResetError(status, maxPolls);
}

/**
 * Sets status bits without clearing any (2.1.1/2): reads `Status`, ORs the
 * bits in and writes the result.
 *
 * @param window The window's registers.
 * @param bits The `VIRTIO_CONFIG_S_*` bits to add.
 * @returns The value written.
 */
export function addStatus(window: RegisterWindow, bits: number): number {
  const status = (window.read32(VIRTIO_MMIO_STATUS) | bits) & 0xff;
  window.write32(VIRTIO_MMIO_STATUS, status);
  return status;
}

/**
 * The first steps of §3.1.1: reset the device, then set ACKNOWLEDGE ("I have
 * seen you"), then DRIVER ("I know how to drive you"), one write each, never
 * clearing a bit.
 *
 * @param window The window's registers.
 * @throws {DeviceResetError} If the reset does not complete.
 */
export function beginInitialization(window: RegisterWindow): void {
  resetDevice(window);
  addStatus(window, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  addStatus(window, VIRTIO_CONFIG_S_DRIVER);
}

/**
 * Gives up on the device: sets FAILED (§3.1.1/4), keeping the other bits. The
 * driver must reset the device before trying again (2.1.1/3).
 *
 * @param window The window's registers.
 */
export function failDevice(window: RegisterWindow): void {
  addStatus(window, VIRTIO_CONFIG_S_FAILED);
}

// ------------------------------------------------------------------ lesson 3

/** Feature negotiation failed; FAILED has been set on the device. */
export class FeatureNegotiationError extends Error {
  /** What the device offered. */
  readonly offered: bigint;
  /** What the driver accepted (0 if it never got that far). */
  readonly accepted: bigint;

  /**
   * Records what was offered and accepted when negotiation failed.
   *
   * @param message What went wrong.
   * @param offered What the device offered.
   * @param accepted What the driver accepted.
   */
  constructor(message: string, offered: bigint, accepted: bigint) {
    super(message);
    this.name = "FeatureNegotiationError";
    this.offered = offered;
    this.accepted = accepted;
  }
}

/**
 * Reads all 64 device feature bits: selects word 0 through
 * `DeviceFeaturesSel` before reading `DeviceFeatures` (4.2.2.2/7), then word 1.
 *
 * @param window The window's registers.
 * @returns The offered feature word.
 */
export function readDeviceFeatures(window: RegisterWindow): bigint {
  window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  const low = window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0;
  window.write32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  const high = window.read32(VIRTIO_MMIO_DEVICE_FEATURES) >>> 0;
  return (BigInt(high) << 32n) | BigInt(low);
}

/**
 * Writes all 64 accepted feature bits: selects word 0 through
 * `DriverFeaturesSel` before writing `DriverFeatures` (4.2.2.2/8), then word 1.
 *
 * @param window The window's registers.
 * @param features The accepted feature word.
 */
export function writeDriverFeatures(window: RegisterWindow, features: bigint): void {
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES, Number(features & 0xffff_ffffn));
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  window.write32(VIRTIO_MMIO_DRIVER_FEATURES, Number((features >> 32n) & 0xffff_ffffn));
}

/**
 * Feature negotiation (§2.2, §3.1.1 steps 4-6, chapter 6), after DRIVER is set:
 *
 * 1. read the offered features;
 * 2. a device without `VIRTIO_F_VERSION_1` is legacy-only: give up (6.1/2);
 * 3. accept what is both offered and supported, and always `VIRTIO_F_VERSION_1`
 *    (6.1/1); never a bit that was not offered (2.2.1/1);
 * 4. write the accepted bits, set FEATURES_OK, and read `Status` back: if the
 *    device cleared FEATURES_OK it refused this subset (§3.1.1).
 *
 * On failure FAILED is set before throwing (§3.1.1/4).
 *
 * @param window The window's registers.
 * @param supported The features the driver understands.
 * @returns The negotiated features.
 * @throws {FeatureNegotiationError} If the device is legacy-only or refuses FEATURES_OK.
 */
export function negotiateFeatures(window: RegisterWindow, supported: bigint): bigint {
  const offered = readDeviceFeatures(window);
  if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
    failDevice(window);
    throw new FeatureNegotiationError(
      `Device does not offer VIRTIO_F_VERSION_1 (offered ${
        formatFeatures(offered)
      }); it is legacy-only`,
      offered,
      0n,
    );
  }
  const accepted = offered & (supported | featureMask(VIRTIO_F_VERSION_1));
  writeDriverFeatures(window, accepted);
  addStatus(window, VIRTIO_CONFIG_S_FEATURES_OK);
  const status = window.read32(VIRTIO_MMIO_STATUS);
  if ((status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
    failDevice(window);
    throw new FeatureNegotiationError(
      `Device refused features ${formatFeatures(accepted)}: FEATURES_OK did not stick ` +
        `(status ${formatStatus(status)})`,
      offered,
      accepted,
    );
  }
  return accepted;
}

// ------------------------------------------------------- the whole transport

/** The replaceable steps of the driver-side transport (lesson material). */
export interface MmioDriverParts {
  /** Identify what is in a window. (lesson 1) */
  readonly probeWindow: typeof probeWindow;
  /** Reset, ACKNOWLEDGE, DRIVER. (lesson 2) */
  readonly beginInitialization: typeof beginInitialization;
  /** Set FAILED. (lesson 2) */
  readonly failDevice: typeof failDevice;
  /** Features in, FEATURES_OK, read back. (lesson 3) */
  readonly negotiateFeatures: typeof negotiateFeatures;
}

/** The reference implementations of {@linkcode MmioDriverParts}. */
export const REFERENCE_MMIO_DRIVER_PARTS: MmioDriverParts = Object.freeze({
  probeWindow,
  beginInitialization,
  failDevice,
  negotiateFeatures,
});

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
  /** Learner replacements for some steps. */
  readonly parts?: Partial<MmioDriverParts>;
  /** Builds driver-side queues (default: the reference split queue). */
  readonly queueFactory?: DriverQueueFactory;
  /** Upper bound on queue sizes the driver chooses (default 256 descriptors). */
  readonly maxQueueSize?: number;
}

interface LiveQueue {
  readonly queue: DriverQueue<unknown>;
  readonly onUsed: () => void;
  readonly areas: number[];
}

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
  /** The steps in use. */
  readonly parts: MmioDriverParts;
  readonly #queueFactory: DriverQueueFactory;
  readonly #maxQueueSize: number;
  #probe: ProbeResult | null = null;
  #features = 0n;
  #offered = 0n;
  #driver: VirtioDriver | null = null;
  #state: DriverState = "probed";
  #failure = "";
  readonly #queues = new Map<number, LiveQueue>();
  #interrupts = 0;

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
    this.#queueFactory = options.queueFactory ?? splitQueueDriverFactory;
    this.#maxQueueSize = options.maxQueueSize ?? 256;
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

  /** Interrupts handled. */
  get interrupts(): number {
    return this.#interrupts;
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
      found = this.parts.probeWindow(this.window);
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
          { magic: hex32(found.magic) },
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
   * Brings the device up (§3.1.1, §4.2.3) and binds `driver` to it: reset,
   * ACKNOWLEDGE, DRIVER, feature negotiation, `driver.probe` (queues, config),
   * DRIVER_OK, `driver.ready`: the generic sequence of §3.1 after the MMIO
   * probe (4.2.3.1.1/4), each step recorded in the status byte (2.1.1/1).
   *
   * @param driver The device-type driver.
   * @throws {Error} If the window holds no device, or any step fails; FAILED
   *   is set on the device first where the spec asks for it.
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
    try {
      this.parts.beginInitialization(this.window);
      this.#features = this.parts.negotiateFeatures(this.window, driver.supportedFeatures);
      // For display and the checks below, and after negotiation so that the
      // learner's own negotiateFeatures is the first to touch DeviceFeaturesSel.
      this.#offered = readDeviceFeatures(this.window);
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
      this.#driver = driver;
      await driver.probe(this);
      addStatus(this.window, VIRTIO_CONFIG_S_DRIVER_OK);
      const status = this.window.read32(VIRTIO_MMIO_STATUS);
      if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
        throw new Error(
          `device set DEVICE_NEEDS_RESET at DRIVER_OK (status ${formatStatus(status)})`,
        );
      }
      this.#state = "live";
      await driver.ready?.();
    } catch (error) {
      if (
        error instanceof FeatureNegotiationError && !hasFeature(error.offered, VIRTIO_F_VERSION_1)
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
      // 3.1.1/4, 3.1.1/5: give up with FAILED and go no further.
      const message = error instanceof Error ? error.message : String(error);
      if (this.#state !== "failed") this.fail(message);
      throw error;
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
    for (const live of this.#queues.values()) {
      // The device is reset, so nothing in flight will come back: release
      // the chains (and their indirect tables) before the ring areas.
      live.queue.detach?.();
      for (const area of live.areas) this.allocator.free(area);
    }
    this.#queues.clear();
    this.#state = "probed";
  }

  // ------------------------------------------------------------ queues

  /**
   * Configures and enables a virtqueue as §4.2.3.2 describes: select it,
   * check it is not in use, read `QueueNumMax`, allocate and zero the three
   * areas, write `QueueNum` and the addresses, then `QueueReady` = 1.
   *
   * @param index Queue index.
   * @param options Size (default `QueueNumMax`, capped by `maxQueueSize`) and the used callback.
   * @returns The driver half of the queue.
   * @throws {Error} If the queue does not exist, is already live, or the device refuses it.
   */
  setupQueue<T>(index: number, options: QueueSetupOptions): DriverQueue<T> {
    // Addresses handed to the device are guest-physical: no IOMMU here, and
    // VIRTIO_F_ACCESS_PLATFORM is never offered (6.1/4).
    const w = this.window;
    w.write32(VIRTIO_MMIO_QUEUE_SEL, index);
    if (w.read32(VIRTIO_MMIO_QUEUE_READY) !== 0) {
      throw new Error(`${this.name}: queue ${index} is already in use (QueueReady reads 1)`);
    }
    const max = w.read32(VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max === 0) {
      throw new Error(`${this.name}: queue ${index} does not exist (QueueNumMax reads 0)`);
    }
    let size = Math.min(options.size ?? max, max, this.#maxQueueSize);
    size = 2 ** Math.floor(Math.log2(size)); // a power of two (§2.7)
    // Aligned, zeroed parts; the used ring's flags therefore start at 0 (2.7.10.1/1).
    const { descAddr, availAddr, usedAddr } = SplitQueueDriver.allocate(this.allocator, size);
    w.write32(VIRTIO_MMIO_QUEUE_NUM, size);
    w.write32(VIRTIO_MMIO_QUEUE_DESC_LOW, low32(descAddr));
    w.write32(VIRTIO_MMIO_QUEUE_DESC_HIGH, high32(descAddr));
    w.write32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, low32(availAddr));
    w.write32(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, high32(availAddr));
    w.write32(VIRTIO_MMIO_QUEUE_USED_LOW, low32(usedAddr));
    w.write32(VIRTIO_MMIO_QUEUE_USED_HIGH, high32(usedAddr));
    w.write32(VIRTIO_MMIO_QUEUE_READY, 1);
    if (w.read32(VIRTIO_MMIO_QUEUE_READY) !== 1) {
      for (const area of [descAddr, availAddr, usedAddr]) this.allocator.free(area);
      throw new Error(`${this.name}: device did not accept queue ${index} (QueueReady reads 0)`);
    }
    const queue = this.#queueFactory<T>({
      memory: this.memory,
      allocator: this.allocator,
      index,
      size,
      descAddr,
      availAddr,
      usedAddr,
      eventIdx: hasFeature(this.#features, VIRTIO_F_EVENT_IDX),
      indirect: hasFeature(this.#features, VIRTIO_F_INDIRECT_DESC),
      reporter: this.reporter.scoped(`queue ${index}`),
    });
    this.#queues.set(index, {
      queue: queue as DriverQueue<unknown>,
      onUsed: options.onUsed,
      areas: [descAddr, availAddr, usedAddr],
    });
    return queue;
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
   * The interrupt handler (§4.2.3.4): reads `InterruptStatus` (4.2.3.4.1/1),
   * acknowledges exactly the defined bits it read (4.2.3.4.1/3, 4.2.2.2/13),
   * then treats a used buffer notification as one for every live queue
   * (4.2.3.4.1/2) and a configuration change as such (including
   * DEVICE_NEEDS_RESET, §2.1.2/2).
   *
   * The acknowledgement is written before the handling, as Linux does: events
   * that the handling itself causes (a refilled receive queue the device fills
   * at once) then raise the line again instead of being acknowledged unseen.
   */
  handleInterrupt(): void {
    this.#interrupts++;
    const status = this.window.read32(VIRTIO_MMIO_INTERRUPT_STATUS);
    const undefinedBits = status & ~VIRTIO_MMIO_INT_MASK;
    if (undefinedBits !== 0) {
      this.reporter.report(
        "4.2.2.1/4",
        `InterruptStatus reads ${hex32(status)} with undefined bits ${hex32(undefinedBits)} set`,
        { status: hex32(status) },
        "undefined bits ignored",
      );
    }
    const handled = status & VIRTIO_MMIO_INT_MASK;
    if (handled === 0) return; // spurious (shared line, or nothing pending)
    this.window.write32(VIRTIO_MMIO_INTERRUPT_ACK, handled);
    if (handled & VIRTIO_MMIO_INT_CONFIG) {
      const deviceStatus = this.window.read32(VIRTIO_MMIO_STATUS);
      if (deviceStatus & VIRTIO_CONFIG_S_NEEDS_RESET) {
        // 2.1.1/4: stop relying on the device until it is reset.
        this.#state = "needs-reset";
        this.#failure = "the device set DEVICE_NEEDS_RESET";
      }
      this.#driver?.configChanged?.();
    }
    if (handled & VIRTIO_MMIO_INT_VRING) {
      for (const live of this.#queues.values()) live.onUsed();
    }
  }

  // ------------------------------------------------------------ config

  /** Reads a 1-, 2- or 4-byte configuration field with an access of that width. */
  readConfig(offset: number, width: AccessWidth): number {
    const at = VIRTIO_MMIO_CONFIG + offset;
    return width === 4
      ? this.window.read32(at)
      : width === 2
      ? this.window.read16(at)
      : this.window.read8(at);
  }

  /** Reads a 64-bit field as two 32-bit accesses, low word first (4.2.2.2/3). */
  readConfig64(offset: number): bigint {
    const low = this.readConfig(offset, 4) >>> 0;
    const high = this.readConfig(offset + 4, 4) >>> 0;
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** Writes a 1-, 2- or 4-byte configuration field. */
  writeConfig(offset: number, width: AccessWidth, value: number): void {
    const at = VIRTIO_MMIO_CONFIG + offset;
    if (width === 4) this.window.write32(at, value);
    else if (width === 2) this.window.write16(at, value);
    else this.window.write8(at, value);
  }

  /**
   * Reads configuration fields consistently (§2.5.1): repeats `read` until
   * `ConfigGeneration` is the same before and after.
   *
   * @param read Reads the fields.
   * @param maxTries Attempts before giving up (default 100).
   * @returns The consistent result.
   * @throws {Error} If the generation never settles.
   */
  readConfigConsistent<R>(read: () => R, maxTries = 100): R {
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const before = this.window.read32(VIRTIO_MMIO_CONFIG_GENERATION);
      const result = read();
      const after = this.window.read32(VIRTIO_MMIO_CONFIG_GENERATION);
      if (before === after) return result;
    }
    throw new Error(`${this.name}: ConfigGeneration kept changing over ${maxTries} attempts`);
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    const found = this.probed;
    const what = found.kind === "device" ? deviceIdName(found.deviceId) : found.kind;
    return `MmioDriverTransport ${this.name}: ${what}, ${this.#state}` +
      `${this.#failure ? ` (${this.#failure})` : ""}, features ${new FeatureSet(this.#features)}`;
  }
}

function low32(address: number): number {
  return address % 0x1_0000_0000;
}

function high32(address: number): number {
  return Math.floor(address / 0x1_0000_0000);
}

function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}
