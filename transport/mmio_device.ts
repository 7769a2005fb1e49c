/**
 * The device side of virtio-mmio (virtio v1.2 §4.2): a register file that
 * exposes one {@linkcode VirtioDevice} model in an MMIO window, as a VMM such
 * as QEMU does.
 *
 * It implements the complete modern (version 2) interface: identification,
 * 64-bit feature negotiation through the `*Sel` registers, the status state
 * machine, per-queue configuration guarded as §4.2.2.2 says, `QueueReady`,
 * `QueueNotify` dispatch, `InterruptStatus`/`InterruptACK`, `ConfigGeneration`,
 * configuration space at 0x100 with the access widths of §4.2.2.2/3, shared
 * memory regions and `QueueReset`.
 *
 * Every rule the driver breaks is logged with its requirement id; the access
 * is then answered as QEMU answers it (reads return 0, writes are ignored),
 * or, where the device cannot go on, DEVICE_NEEDS_RESET is set (§2.1.2).
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import type { GuestMemory } from "../memory/guest_memory.ts";
import type { ConformanceLog, ConformanceReporter, Violation } from "../conformance/log.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import {
  featureNames,
  featureWord,
  formatFeatures,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  withFeatureWord,
} from "../virtio/features.ts";
import type { DeviceQueue, DeviceQueueFactory } from "../virtqueue/types.ts";
import { splitQueueDeviceFactory } from "../virtqueue/device_queue.ts";
import {
  checkRegisterAccess,
  findRegister,
  hex3,
  readIdentification,
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
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_RESET,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_SHM_BASE_HIGH,
  VIRTIO_MMIO_SHM_BASE_LOW,
  VIRTIO_MMIO_SHM_LEN_HIGH,
  VIRTIO_MMIO_SHM_LEN_LOW,
  VIRTIO_MMIO_SHM_SEL,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_WINDOW_SIZE,
} from "./mmio_registers.ts";
import { checkDriverFeatures, nextDeviceStatus } from "./device_status.ts";
import type { AccessWidth, InterruptLine, MmioRegion } from "./types.ts";
import type { DeviceHost, VirtioDevice } from "../virtio/device.ts";
import { MmioRegisterSnapshot } from "./inspect.ts";

/**
 * The replaceable pieces of the device-side transport: each is lesson
 * material, and a learner's function with the same signature can stand in
 * for the reference one.
 */
export interface MmioDeviceParts {
  /** May the driver make this access to a control register? (lesson 1) */
  readonly checkRegisterAccess: typeof checkRegisterAccess;
  /** Values of MagicValue, Version, DeviceID, VendorID. (lesson 1) */
  readonly readIdentification: typeof readIdentification;
  /** What a write to Status means. (lesson 2) */
  readonly nextDeviceStatus: typeof nextDeviceStatus;
  /** Does the device accept the driver's features at FEATURES_OK? (lesson 3) */
  readonly checkDriverFeatures: typeof checkDriverFeatures;
}

/** The reference implementations of {@linkcode MmioDeviceParts}. */
export const REFERENCE_MMIO_DEVICE_PARTS: MmioDeviceParts = Object.freeze({
  checkRegisterAccess,
  readIdentification,
  nextDeviceStatus,
  checkDriverFeatures,
});

/** Options for {@linkcode MmioDeviceTransport}. */
export interface MmioDeviceTransportOptions {
  /** Guest RAM the device reads and writes buffers in. */
  readonly memory: GuestMemory;
  /** The conformance log violations go to. */
  readonly log: ConformanceLog;
  /** Name used in the log, e.g. `"virtio-blk@0x1e000"` (default: the device's name). */
  readonly name?: string;
  /** Learner replacements for some of the reference parts. */
  readonly parts?: Partial<MmioDeviceParts>;
  /** Builds device-side queues (default: the reference split queue). */
  readonly queueFactory?: DeviceQueueFactory;
}

/** Per-queue counters kept by the transport. */
export interface TransportQueueStats {
  /** Available buffer notifications (`QueueNotify` writes) for this queue. */
  notifications: number;
  /** Used buffer notifications the device sent for this queue. */
  interrupts: number;
}

/** Driver-visible registers of one queue, as written (§4.2.2). */
interface QueueRegisters {
  num: number;
  ready: boolean;
  descLow: number;
  descHigh: number;
  driverLow: number;
  driverHigh: number;
  deviceLow: number;
  deviceHigh: number;
  live: DeviceQueue | null;
  stats: TransportQueueStats;
  /** QueueReset was written and not read back yet (4.2.2.2/14). */
  resetUnconfirmed: boolean;
  /** QueueReady was set to 0 and not read back yet (4.2.2.2/11). */
  stopUnconfirmed: boolean;
  /** The queue was reset through QueueReset and not enabled since (2.6.1.2.2/1). */
  wasReset: boolean;
}

function freshQueue(
  stats: TransportQueueStats = { notifications: 0, interrupts: 0 },
): QueueRegisters {
  return {
    num: 0,
    ready: false,
    descLow: 0,
    descHigh: 0,
    driverLow: 0,
    driverHigh: 0,
    deviceLow: 0,
    deviceHigh: 0,
    live: null,
    stats,
    resetUnconfirmed: false,
    stopUnconfirmed: false,
    wasReset: false,
  };
}

const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;

/**
 * A virtio-mmio register file (modern interface, version 2) exposing one
 * device model.
 *
 * @example
 * ```ts ignore
 * const transport = new MmioDeviceTransport(blockDevice, { memory, log });
 * bus.map(0x1e000, transport, { irq: 42, name: "virtio_block" });
 * ```
 */
export class MmioDeviceTransport implements MmioRegion {
  /** Window size: 0x200 bytes, as in §4.2.1. */
  readonly size: number = VIRTIO_MMIO_WINDOW_SIZE;
  /** The device model behind the window. */
  readonly device: VirtioDevice;
  /** Name used in the log. */
  readonly name: string;
  /** The parts in use (reference ones unless replaced). */
  readonly parts: MmioDeviceParts;
  readonly #memory: GuestMemory;
  readonly #reporter: ConformanceReporter;
  readonly #queueFactory: DeviceQueueFactory;
  #line: InterruptLine | null = null;

  #status = 0;
  #active = false;
  #deviceFeaturesSel = 0;
  #driverFeaturesSel = 0;
  #deviceFeaturesSelWritten = false;
  #driverFeaturesSelWritten = false;
  #driverFeatures = 0n;
  #negotiated = 0n;
  #queueSel = 0;
  #queues: QueueRegisters[];
  #interruptStatus = 0;
  #configGeneration = 0;
  #shmSel = 0;
  #identified = { magic: false, version: false, checked: false };
  #needsResetReason = "";
  #configInterrupts = 0;

  /**
   * Builds the register file in its reset state and attaches the device model.
   *
   * @param device The device model to expose; its `attach` is called here.
   * @param options Memory, log, name, replaced parts, queue factory.
   */
  constructor(device: VirtioDevice, options: MmioDeviceTransportOptions) {
    this.device = device;
    this.name = options.name ?? device.name;
    this.parts = { ...REFERENCE_MMIO_DEVICE_PARTS, ...options.parts };
    this.#memory = options.memory;
    this.#reporter = options.log.scoped(this.name);
    this.#queueFactory = options.queueFactory ?? splitQueueDeviceFactory;
    this.#queues = device.queueMaxSizes.map(() => freshQueue());
    device.attach(this.#host());
  }

  /** Connects the window's interrupt line (called by the bus). */
  connectInterrupt(line: InterruptLine): void {
    this.#line = line;
    line.set(this.#interruptStatus !== 0);
  }

  /** The device status byte (§2.1). */
  get status(): number {
    return this.#status;
  }

  /** The negotiated features (0 before FEATURES_OK). */
  get negotiatedFeatures(): bigint {
    return this.#negotiated;
  }

  /** Whether DRIVER_OK is set and the device has not asked for a reset. */
  get active(): boolean {
    return this.#active;
  }

  /** The pending `InterruptStatus` bits. */
  get interruptStatus(): number {
    return this.#interruptStatus;
  }

  /** The current `ConfigGeneration`. */
  get configGeneration(): number {
    return this.#configGeneration;
  }

  /** Why DEVICE_NEEDS_RESET was set, or `""`. */
  get needsResetReason(): string {
    return this.#needsResetReason;
  }

  /** Per-queue notification and interrupt counters. */
  queueStats(): readonly TransportQueueStats[] {
    return this.#queues.map((q) => ({ ...q.stats }));
  }

  /** Configuration change notifications sent. */
  get configInterrupts(): number {
    return this.#configInterrupts;
  }

  /**
   * The live device-side queue at an index (also what the device model sees).
   *
   * @param index Queue index.
   * @returns The queue, or `null` if it is not live.
   */
  liveQueue(index: number): DeviceQueue | null {
    const q = this.#queues[index];
    if (!q || !this.#active || !q.live || q.live.broken) return null;
    return q.live;
  }

  /**
   * A side-effect-free snapshot of every register and queue, for the REPL
   * and notebooks (rich display in Jupyter).
   */
  inspect(): MmioRegisterSnapshot {
    return new MmioRegisterSnapshot({
      name: this.name,
      magic: this.parts.readIdentification(VIRTIO_MMIO_MAGIC_VALUE, this.#identity()) ?? 0,
      version: this.parts.readIdentification(VIRTIO_MMIO_VERSION, this.#identity()) ?? 0,
      deviceId: this.device.deviceId,
      vendorId: this.device.vendorId,
      deviceFeatures: this.device.deviceFeatures,
      driverFeatures: this.#driverFeatures,
      negotiatedFeatures: this.#negotiated,
      featureNames: this.device.featureNames,
      status: this.#status,
      interruptStatus: this.#interruptStatus,
      configGeneration: this.#configGeneration,
      queueSel: this.#queueSel,
      queues: this.#queues.map((q, index) => ({
        index,
        numMax: this.device.queueMaxSizes[index],
        num: q.num,
        ready: q.ready,
        desc: join64(q.descLow, q.descHigh),
        driver: join64(q.driverLow, q.driverHigh),
        device: join64(q.deviceLow, q.deviceHigh),
        live: q.live !== null,
        broken: q.live?.broken?.id ?? null,
        notifications: q.stats.notifications,
        interrupts: q.stats.interrupts,
      })),
    });
  }

  // ---------------------------------------------------------------- access

  /**
   * A driver read of the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @returns The register value; 0 for an access that breaks §4.2.2.2.
   */
  read(offset: number, width: AccessWidth): number {
    if (offset >= VIRTIO_MMIO_CONFIG) {
      return this.#configAccess(offset - VIRTIO_MMIO_CONFIG, width, "read", 0);
    }
    const check = this.parts.checkRegisterAccess(offset, width, "read", 2);
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width },
        "read returned 0",
      );
      return 0;
    }
    const ident = this.parts.readIdentification(offset, this.#identity());
    if (ident !== undefined) {
      if (offset === VIRTIO_MMIO_MAGIC_VALUE) this.#identified.magic = true;
      if (offset === VIRTIO_MMIO_VERSION) this.#identified.version = true;
      return ident >>> 0;
    }
    const q = this.#queues[this.#queueSel];
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES:
        if (!this.#deviceFeaturesSelWritten) {
          this.#reporter.report(
            "4.2.2.2/7",
            "Read of DeviceFeatures before any write to DeviceFeaturesSel",
            { sel: this.#deviceFeaturesSel },
            "answered for the current selector",
          );
          this.#deviceFeaturesSelWritten = true; // report once per reset
        }
        return featureWord(this.device.deviceFeatures, this.#deviceFeaturesSel);
      case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return q ? this.device.queueMaxSizes[this.#queueSel] : 0;
      case VIRTIO_MMIO_QUEUE_READY:
        if (q) q.stopUnconfirmed = false;
        return q?.ready ? 1 : 0;
      case VIRTIO_MMIO_INTERRUPT_STATUS:
        return this.#interruptStatus;
      case VIRTIO_MMIO_STATUS:
        return this.#status;
      case VIRTIO_MMIO_SHM_LEN_LOW:
      case VIRTIO_MMIO_SHM_LEN_HIGH:
      case VIRTIO_MMIO_SHM_BASE_LOW:
      case VIRTIO_MMIO_SHM_BASE_HIGH: {
        const region = this.device.shmRegions?.find((r) => r.id === this.#shmSel);
        const isLen = offset === VIRTIO_MMIO_SHM_LEN_LOW || offset === VIRTIO_MMIO_SHM_LEN_HIGH;
        const value = region ? (isLen ? region.length : region.base) : ALL_ONES_64;
        const high = offset === VIRTIO_MMIO_SHM_LEN_HIGH || offset === VIRTIO_MMIO_SHM_BASE_HIGH;
        return Number((high ? value >> 32n : value) & 0xffff_ffffn);
      }
      case VIRTIO_MMIO_QUEUE_RESET:
        // Queue resets complete synchronously, so the driver always reads 0:
        // never 1 for a reset in progress (4.2.2.1/11), 0 after a device
        // reset and after QueueReady (4.2.2.1/8, 4.2.2.1/9), and 0 with
        // QueueReady 0 once done (4.2.2.1/12).
        if (q) q.resetUnconfirmed = false;
        return 0;
      case VIRTIO_MMIO_CONFIG_GENERATION:
        return this.#configGeneration >>> 0;
      default:
        // checkRegisterAccess let through a register this file does not
        // implement: only possible with a learner's checkRegisterAccess.
        return 0;
    }
  }

  /**
   * A driver write to the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @param value The value written (the low `width` bytes count).
   */
  write(offset: number, width: AccessWidth, value: number): void {
    value = width === 4 ? value >>> 0 : value & ((1 << (width * 8)) - 1);
    if (offset >= VIRTIO_MMIO_CONFIG) {
      this.#configAccess(offset - VIRTIO_MMIO_CONFIG, width, "write", value);
      return;
    }
    const check = this.parts.checkRegisterAccess(offset, width, "write", 2);
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width, value },
        "write ignored",
      );
      return;
    }
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        this.#deviceFeaturesSel = value;
        this.#deviceFeaturesSelWritten = true;
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        this.#driverFeaturesSel = value;
        this.#driverFeaturesSelWritten = true;
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES:
        return this.#writeDriverFeatures(value);
      case VIRTIO_MMIO_QUEUE_SEL:
        this.#queueSel = value;
        return;
      case VIRTIO_MMIO_QUEUE_NUM:
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
      case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      case VIRTIO_MMIO_QUEUE_USED_LOW:
      case VIRTIO_MMIO_QUEUE_USED_HIGH:
        return this.#writeQueueConfig(offset, value);
      case VIRTIO_MMIO_QUEUE_READY:
        return this.#writeQueueReady(value);
      case VIRTIO_MMIO_QUEUE_NOTIFY:
        return this.#queueNotify(value);
      case VIRTIO_MMIO_INTERRUPT_ACK:
        return this.#interruptAck(value);
      case VIRTIO_MMIO_STATUS:
        return this.#writeStatus(value);
      case VIRTIO_MMIO_SHM_SEL:
        this.#shmSel = value;
        return;
      case VIRTIO_MMIO_QUEUE_RESET:
        return this.#writeQueueReset(value);
      default:
        return;
    }
  }

  // ------------------------------------------------------------- features

  #writeDriverFeatures(value: number): void {
    if (!this.#driverFeaturesSelWritten) {
      this.#reporter.report(
        "4.2.2.2/8",
        "Write to DriverFeatures before any write to DriverFeaturesSel",
        { sel: this.#driverFeaturesSel, value },
        "applied to the current selector",
      );
      this.#driverFeaturesSelWritten = true;
    }
    if (this.#status & VIRTIO_CONFIG_S_FEATURES_OK) {
      this.#reporter.report(
        "3.1.1/3",
        `Write to DriverFeatures (word ${this.#driverFeaturesSel}) after FEATURES_OK`,
        { sel: this.#driverFeaturesSel, value },
        "write ignored",
      );
      return;
    }
    if ((this.#status & VIRTIO_CONFIG_S_DRIVER) === 0) {
      this.#reporter.report(
        "3.1.1/1",
        `Write to DriverFeatures before the DRIVER status bit (status ${
          formatStatus(this.#status)
        })`,
        { sel: this.#driverFeaturesSel, value },
      );
    }
    if (this.#driverFeaturesSel > 1) {
      // Bits 64 and up do not exist; a nonzero value there accepts features
      // that were never offered.
      if (value !== 0) {
        this.#reporter.report(
          "2.2.1/1",
          `Driver accepted bits in feature word ${this.#driverFeaturesSel}, beyond the 64 defined`,
          { sel: this.#driverFeaturesSel, value },
          "write ignored",
        );
      }
      return;
    }
    this.#driverFeatures = withFeatureWord(this.#driverFeatures, this.#driverFeaturesSel, value);
  }

  // --------------------------------------------------------------- status

  #writeStatus(value: number): void {
    if (value !== 0 && !this.#identified.checked) {
      this.#identified.checked = true;
      if (!this.#identified.magic || !this.#identified.version) {
        const missing = [
          !this.#identified.magic && "MagicValue",
          !this.#identified.version && "Version",
        ]
          .filter(Boolean).join(" and ");
        this.#reporter.report(
          "4.2.3.1.1/1",
          `Driver started initialization without reading ${missing}`,
          { status: value },
        );
      }
    }
    const before = this.#status;
    const t = this.parts.nextDeviceStatus(before, value);
    for (const v of t.violations) {
      this.#reporter.report(v.id, v.message, { status: before, written: value });
    }
    if (t.reset) {
      this.#reset();
      return;
    }
    let status = t.status & 0xff;
    if (t.negotiate && (status & VIRTIO_CONFIG_S_FEATURES_OK)) {
      const verdict = this.parts.checkDriverFeatures(
        this.device.deviceFeatures,
        this.#driverFeatures,
        this.device.featureNames,
      );
      let refusal: string | null = null;
      if (!verdict.ok) {
        this.#reporter.report(
          verdict.requirement,
          verdict.reason,
          { offered: this.device.deviceFeatures, accepted: this.#driverFeatures },
          "FEATURES_OK refused",
        );
        refusal = verdict.reason;
      } else {
        refusal = this.device.checkFeatures?.(verdict.features) ?? null;
      }
      if (refusal === null && verdict.ok) {
        this.#negotiated = verdict.features;
      } else {
        status &= ~VIRTIO_CONFIG_S_FEATURES_OK; // §2.2.2/2: do not set FEATURES_OK
      }
    }
    // DEVICE_NEEDS_RESET is the device's own bit: a write cannot change it.
    status = (status & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (before & VIRTIO_CONFIG_S_NEEDS_RESET);
    this.#status = status;
    const driverOkAdded = (status & ~before & VIRTIO_CONFIG_S_DRIVER_OK) !== 0;
    if (driverOkAdded) {
      if ((status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
        this.#needsReset("DRIVER_OK was set without FEATURES_OK: no feature set was negotiated");
      } else if (
        (status & VIRTIO_CONFIG_S_FAILED) === 0 && (status & VIRTIO_CONFIG_S_NEEDS_RESET) === 0
      ) {
        this.#activate();
      }
    }
    if ((status & VIRTIO_CONFIG_S_FAILED) !== 0 && this.#active) {
      // The driver gave up: stop processing queues until it resets us.
      this.#active = false;
    }
  }

  #activate(): void {
    for (let index = 0; index < this.#queues.length; index++) {
      const q = this.#queues[index];
      if (q.ready && !q.live) q.live = this.#makeQueue(index, q);
    }
    this.#active = true;
    this.device.activate();
  }

  /**
   * Device reset (§2.4): status back to 0 (2.4.1/1); InterruptStatus and
   * every QueueReady cleared (4.2.2.1/5); no queue touched or notification
   * sent until the driver initializes the device again (2.4.1/2).
   */
  #reset(): void {
    this.device.reset();
    this.#queues = this.#queues.map((q) => freshQueue(q.stats));
    this.#status = 0;
    this.#active = false;
    this.#deviceFeaturesSel = 0;
    this.#driverFeaturesSel = 0;
    this.#deviceFeaturesSelWritten = false;
    this.#driverFeaturesSelWritten = false;
    this.#driverFeatures = 0n;
    this.#negotiated = 0n;
    this.#queueSel = 0;
    this.#shmSel = 0;
    this.#needsResetReason = "";
    this.#setInterrupt(0);
  }

  #needsReset(reason: Violation | string): void {
    // §2.1.2/3: an error only a reset cures is announced with DEVICE_NEEDS_RESET.
    if (this.#status & VIRTIO_CONFIG_S_NEEDS_RESET) return;
    this.#needsResetReason = typeof reason === "string"
      ? reason
      : `§${reason.id}: ${reason.message}`;
    this.#status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    this.#active = false;
    if (this.#status & VIRTIO_CONFIG_S_DRIVER_OK) {
      // §2.1.2/2: tell an active driver through a configuration change notification.
      this.#configInterrupts++;
      this.#setInterrupt(this.#interruptStatus | VIRTIO_MMIO_INT_CONFIG);
    }
  }

  // --------------------------------------------------------------- queues

  /**
   * The queue `QueueSel` points at, or `null` for a queue the device does not
   * have: QueueNumMax reads 0 there, and a driver that configures it anyway
   * changes nothing (QEMU ignores such writes too).
   */
  #selectedQueue(): QueueRegisters | null {
    return this.#queues[this.#queueSel] ?? null;
  }

  #writeQueueConfig(offset: number, value: number): void {
    const name = registerName(offset);
    const q = this.#selectedQueue();
    if (!q) return;
    this.#checkConfirmed(q, name);
    if (q.ready) {
      this.#reporter.report(
        "4.2.2.2/10",
        `Write to ${name} of queue ${this.#queueSel} while QueueReady is 1`,
        { queue: this.#queueSel, offset: hex3(offset), value },
        "write ignored",
      );
      return;
    }
    switch (offset) {
      case VIRTIO_MMIO_QUEUE_NUM: {
        const max = this.device.queueMaxSizes[this.#queueSel];
        if (value > max) {
          this.#reporter.report(
            "4.2.2.2/9",
            `QueueNum ${value} for queue ${this.#queueSel} exceeds QueueNumMax ${max}`,
            { queue: this.#queueSel, num: value, max },
            "write ignored",
          );
          return;
        }
        if (value === 0 || (value & (value - 1)) !== 0) {
          this.#reporter.report(
            "2.7/D1",
            `QueueNum ${value} for queue ${this.#queueSel} is not a power of two`,
            { queue: this.#queueSel, num: value },
            "write ignored",
          );
          return;
        }
        q.num = value;
        return;
      }
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
        q.descLow = value;
        return;
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        q.descHigh = value;
        return;
      case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
        q.driverLow = value;
        return;
      case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
        q.driverHigh = value;
        return;
      case VIRTIO_MMIO_QUEUE_USED_LOW:
        q.deviceLow = value;
        return;
      case VIRTIO_MMIO_QUEUE_USED_HIGH:
        q.deviceHigh = value;
        return;
    }
  }

  #writeQueueReady(value: number): void {
    const index = this.#queueSel;
    const q = this.#selectedQueue();
    if (!q) return;
    if (value === 0) {
      // Stop using the queue: the device must not touch it any more (4.2.2.1/7).
      // The driver must read QueueReady back before reusing it (4.2.2.2/11).
      q.ready = false;
      q.live = null;
      q.stopUnconfirmed = true;
      return;
    }
    if (q.ready) return;
    this.#checkConfirmed(q, "QueueReady");
    const problem = this.#queueProblem(q);
    if (problem) {
      this.#reporter.report(problem.id, problem.message, problem.values, "QueueReady stays 0");
      return;
    }
    q.ready = true;
    if (this.#active) q.live = this.#makeQueue(index, q);
  }

  /**
   * A driver that reconfigures a queue it just stopped or reset must first
   * read the register back: QueueReady after writing 0 (4.2.2.2/11), and
   * QueueReset after writing 1, until it reads 0 (4.2.2.2/14, 2.6.1.1.2/1).
   * Each lapse is reported once.
   */
  #checkConfirmed(q: QueueRegisters, register: string): void {
    const index = this.#queueSel;
    if (q.resetUnconfirmed) {
      q.resetUnconfirmed = false;
      this.#reporter.report(
        "4.2.2.2/14",
        `Write to ${register} of queue ${index} after QueueReset without reading QueueReset back ` +
          "to see the reset complete",
        { queue: index },
      );
    }
    if (q.stopUnconfirmed) {
      q.stopUnconfirmed = false;
      this.#reporter.report(
        "4.2.2.2/11",
        `Write to ${register} of queue ${index} after stopping it without reading QueueReady back`,
        { queue: index },
      );
    }
  }

  #queueProblem(
    q: QueueRegisters,
  ): { id: RequirementId; message: string; values: Record<string, number | string> } | null {
    const index = this.#queueSel;
    if (q.num === 0) {
      // After a queue reset every setting is back to its default, so the
      // driver must set the queue up again as at first discovery (2.6.1.2.2/1).
      return q.wasReset
        ? {
          id: "2.6.1.2.2/1",
          message:
            `QueueReady set for queue ${index} after a queue reset without setting it up again (no QueueNum)`,
          values: { queue: index },
        }
        : {
          id: "4.2.3.2/D1",
          message: `QueueReady set for queue ${index} before a valid QueueNum was written`,
          values: { queue: index },
        };
    }
    const parts: [string, number, number, number][] = [
      ["Descriptor Area", join64(q.descLow, q.descHigh), 16, 16 * q.num],
      ["Driver Area", join64(q.driverLow, q.driverHigh), 2, 6 + 2 * q.num],
      ["Device Area", join64(q.deviceLow, q.deviceHigh), 4, 6 + 8 * q.num],
    ];
    for (const [part, address, align, length] of parts) {
      if (Number.isFinite(address) && address % align !== 0) {
        return {
          id: "2.7.1/1",
          message: `${part} of queue ${index} at 0x${
            address.toString(16)
          } is not ${align}-byte aligned`,
          values: { queue: index, address: `0x${address.toString(16)}`, align },
        };
      }
      if (!this.#memory.contains(address, length)) {
        return {
          id: "2.7.5/D2",
          message: `${part} of queue ${index} (${length} bytes at 0x${
            address.toString(16)
          }) is not in guest RAM`,
          values: { queue: index, address: `0x${address.toString(16)}`, length },
        };
      }
    }
    return null;
  }

  #makeQueue(index: number, q: QueueRegisters): DeviceQueue {
    const reporter = this.#reporter.scoped(`queue ${index}`);
    return this.#queueFactory(
      {
        memory: this.#memory,
        index,
        size: q.num,
        descAddr: join64(q.descLow, q.descHigh),
        availAddr: join64(q.driverLow, q.driverHigh),
        usedAddr: join64(q.deviceLow, q.deviceHigh),
        eventIdx: hasFeature(this.#negotiated, VIRTIO_F_EVENT_IDX),
        indirect: hasFeature(this.#negotiated, VIRTIO_F_INDIRECT_DESC),
        reporter,
      },
      (violation) => this.#needsReset(violation),
    );
  }

  #writeQueueReset(value: number): void {
    if (value !== 1 || !hasFeature(this.#negotiated, VIRTIO_F_RING_RESET)) return;
    const index = this.#queueSel;
    const q = this.#selectedQueue();
    if (!q) return;
    // 4.2.2.1/10: reset the queue. The device model drops its work on it, and
    // a fresh register set means no request of the old queue is executed or
    // notified (2.6.1.1.1/1): back to the default state, available and used
    // state included (2.6.1.1.1/2). Re-enabling uses whatever the driver
    // writes next (2.6.1.2.1/1), checked as at first setup (2.6.1.2.2/1).
    this.device.queueReset?.(index);
    this.#queues[index] = { ...freshQueue(q.stats), resetUnconfirmed: true, wasReset: true };
  }

  #queueNotify(value: number): void {
    const index = value & 0xffff;
    const q = this.#queues[index];
    if (q) q.stats.notifications++;
    if ((this.#status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) {
      this.#reporter.report(
        "3.1.1/6",
        `Notification for queue ${index} before DRIVER_OK (status ${formatStatus(this.#status)})`,
        { queue: index },
        "ignored",
      );
      return;
    }
    if (!this.#active) return; // FAILED or DEVICE_NEEDS_RESET: the driver must reset first.
    if (!q || !q.ready || !q.live) {
      this.#reporter.report(
        "4.2.3.3/D1",
        q
          ? `Notification for queue ${index}, which is not ready`
          : `Notification for queue ${index}, which does not exist`,
        { queue: index, queues: this.#queues.length },
        "ignored",
      );
      return;
    }
    if (q.live.broken) return;
    this.device.queueNotify(index);
  }

  // ------------------------------------------------------------ interrupts

  #interruptAck(value: number): void {
    if ((value & ~VIRTIO_MMIO_INT_MASK) !== 0) {
      this.#reporter.report(
        "4.2.2.2/13",
        `InterruptACK ${hex8(value)} sets undefined bits ${hex8(value & ~VIRTIO_MMIO_INT_MASK)}`,
        { value },
        "undefined bits ignored",
      );
    }
    this.#setInterrupt(this.#interruptStatus & ~value);
  }

  /**
   * Sets `InterruptStatus`: a bit stays set from its event until the driver
   * acknowledges it, and no other bit is ever set (4.2.2.1/3, 4.2.2.1/4).
   */
  #setInterrupt(status: number): void {
    this.#interruptStatus = status & VIRTIO_MMIO_INT_MASK;
    this.#line?.set(this.#interruptStatus !== 0);
  }

  // ----------------------------------------------------------------- config

  #configAccess(offset: number, width: AccessWidth, kind: "read" | "write", value: number): number {
    const size = this.device.configSize;
    const where = `config offset ${hex3(offset)}`;
    if (offset + width > size) {
      this.#reporter.report(
        "4.2.2.2/1",
        `${
          width * 8
        }-bit ${kind} at ${where}, beyond the device's ${size}-byte configuration space`,
        { offset: hex3(VIRTIO_MMIO_CONFIG + offset), width },
        kind === "read" ? "read returned 0" : "write ignored",
      );
      return 0;
    }
    const field = this.device.configLayout.find((f) =>
      offset >= f.offset && offset < f.offset + f.size
    );
    if (field) {
      const required = field.size <= 2 ? field.size : 4;
      if (
        width !== required || offset % required !== 0 || offset + width > field.offset + field.size
      ) {
        this.#reporter.report(
          "4.2.2.2/3",
          `${width * 8}-bit ${kind} of ${field.size * 8}-bit field ${field.name} at ${where}; ` +
            `it takes ${required * 8}-bit aligned accesses`,
          { offset: hex3(VIRTIO_MMIO_CONFIG + offset), width, field: field.name },
        );
      }
      if (field.feature !== undefined && !hasFeature(this.device.deviceFeatures, field.feature)) {
        const name = featureNames(1n << BigInt(field.feature), this.device.featureNames)[0];
        this.#reporter.report(
          "2.5.1/1",
          `${
            kind === "read" ? "Read" : "Write"
          } of ${field.name}, which exists only with ${name}, not offered`,
          { field: field.name, offered: formatFeatures(this.device.deviceFeatures) },
        );
      }
    }
    // Reads are served at any time, before FEATURES_OK too (2.5.2/1).
    if (kind === "read") return this.device.readConfig(offset, width) >>> 0;
    if (!field?.writable) return 0; // read-only field: the write changes nothing
    const negotiating = (this.#status & VIRTIO_CONFIG_S_DRIVER) !== 0 &&
      (this.#status & VIRTIO_CONFIG_S_FEATURES_OK) === 0;
    if (negotiating && !field.anytime) {
      this.#reporter.report(
        "3.1.1/2",
        `Write to ${field.name} during feature negotiation (status ${formatStatus(this.#status)})`,
        { field: field.name, value },
      );
    }
    this.device.writeConfig(offset, width, value);
    return 0;
  }

  // -------------------------------------------------------------- the host

  #identity() {
    return { deviceId: this.device.deviceId, vendorId: this.device.vendorId, version: 2 as const };
  }

  #host(): DeviceHost {
    const features = () => this.#negotiated;
    const active = () => this.#active;
    return {
      memory: this.#memory,
      reporter: this.#reporter,
      get features() {
        return features();
      },
      get active() {
        return active();
      },
      queue: (index) => this.liveQueue(index),
      usedBuffers: (index) => {
        const q = this.#queues[index];
        // §2.4.1/2 and §2.1.2/1: no notifications unless live.
        if (!this.#active || !q?.live) return;
        if (q.live.needsInterrupt()) {
          q.stats.interrupts++;
          this.#setInterrupt(this.#interruptStatus | VIRTIO_MMIO_INT_VRING);
        }
      },
      configChanged: () => {
        // Any change may be seen half-done by a driver mid-read: a new
        // generation every time (4.2.2.1/6).
        this.#configGeneration = (this.#configGeneration + 1) >>> 0;
        if (this.#status & VIRTIO_CONFIG_S_DRIVER_OK) {
          this.#configInterrupts++;
          this.#setInterrupt(this.#interruptStatus | VIRTIO_MMIO_INT_CONFIG);
        }
      },
      needsReset: (reason) => this.#needsReset(reason),
    };
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.inspect().format();
  }

  /** Rich form for Jupyter. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const snapshot = this.inspect() as unknown as Record<symbol, () => Record<string, string>>;
    return snapshot[Symbol.for("Jupyter.display")]();
  }
}

/**
 * An empty virtio-mmio slot: DeviceID 0, "a placeholder with no device"
 * (§4.2.2). A driver reads MagicValue, Version and DeviceID, sees 0 and must
 * touch nothing else (4.2.3.1.1/2); anything else it does is logged.
 */
export class EmptyMmioSlot implements MmioRegion {
  /** Window size, 0x200 bytes. */
  readonly size: number = VIRTIO_MMIO_WINDOW_SIZE;
  /** Name used in the log. */
  readonly name: string;
  readonly #reporter: ConformanceReporter;

  /**
   * Creates an empty slot that logs misuse to `log`.
   *
   * @param log The conformance log.
   * @param name Name used in the log, e.g. `"virtio-mmio@0x1e400"`.
   */
  constructor(log: ConformanceLog, name: string) {
    this.name = name;
    this.#reporter = log.scoped(name);
  }

  /** Reads: the identification registers answer; anything else is logged and reads 0. */
  read(offset: number, width: AccessWidth): number {
    const check = checkRegisterAccess(offset, width, "read");
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width },
        "read returned 0",
      );
      return 0;
    }
    if (
      offset === VIRTIO_MMIO_MAGIC_VALUE || offset === VIRTIO_MMIO_VERSION ||
      offset === VIRTIO_MMIO_DEVICE_ID
    ) {
      return readIdentification(offset, { deviceId: 0, vendorId: 0 }) ?? 0;
    }
    this.#reporter.report(
      "4.2.3.1.1/2",
      `Read of ${registerName(offset)} in an empty slot (DeviceID 0)`,
      { offset: hex3(offset) },
      "read returned 0",
    );
    return 0;
  }

  /** Writes: never allowed in an empty slot; logged and ignored. */
  write(offset: number, width: AccessWidth, value: number): void {
    const check = checkRegisterAccess(offset, width, "write");
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width, value },
        "write ignored",
      );
      return;
    }
    this.#reporter.report(
      "4.2.3.1.1/2",
      `Write to ${registerName(offset)} in an empty slot (DeviceID 0)`,
      { offset: hex3(offset), value },
      "write ignored",
    );
  }
}

/** Joins two 32-bit halves into an address (exact up to 2^53; `Infinity` above). */
function join64(low: number, high: number): number {
  return high >= 0x20_0000 ? Infinity : high * 0x1_0000_0000 + (low >>> 0);
}

function hex8(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}

/** The spec's name of the modern register at `offset`, or its hex offset. */
function registerName(offset: number): string {
  return findRegister(offset, 2)?.name ?? hex3(offset);
}
