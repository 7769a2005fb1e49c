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
 * memory regions and `QueueReset`. Built with `version: 1` it is a legacy
 * device instead (§4.2.4): `GuestPageSize`, `QueueAlign` and `QueuePFN` in
 * place of `QueueReady` and the six area registers, one contiguous region
 * per queue, 32 feature bits, no FEATURES_OK and no `ConfigGeneration`.
 *
 * The class holds the state and applies decisions; every decision is a part
 * (see `parts.ts`): access rules, identification, status transitions, feature
 * acceptance, queue registers and their area check, notification targets,
 * interrupt bits, configuration access and changes. Every rule the driver
 * breaks is logged with its requirement id; the access is then answered as
 * QEMU answers it (reads return 0, writes are ignored), or, where the device
 * cannot go on, DEVICE_NEEDS_RESET is set (§2.1.2).
 *
 * @module
 */

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
  featureMask,
  featureWord,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  withFeatureWord,
} from "../virtio/features.ts";
import type { DeviceQueue, DeviceQueueFactory } from "../virtqueue/types.ts";
import { splitQueueDeviceFactory } from "../virtqueue/device_queue.ts";
import {
  checkRegisterAccess,
  type DeviceIdentity,
  findRegister,
  hex3,
  readIdentification,
} from "./mmio_registers.ts";
import * as registers from "./mmio_registers.ts";
import { type MmioDeviceParts, REFERENCE_MMIO_DEVICE_PARTS } from "./parts.ts";
import { INITIAL_QUEUE_REGISTERS, join64, type QueueRegisters } from "./queue_registers.ts";
import {
  INITIAL_LEGACY_QUEUE_REGISTERS,
  type LegacyQueueRegisters,
  legacyQueueView,
} from "./legacy_registers.ts";
import { packedQueueAreaProblem } from "./packed_queue_registers.ts";
import type { ConfigSpaceView } from "./config_space.ts";
import type { AccessWidth, InterruptLine, MmioRegion, RuleProblem } from "./types.ts";
import type { DeviceHost, VirtioDevice } from "../virtio/device.ts";
import { MmioRegisterSnapshot } from "./inspect.ts";

// The register offsets as module-local constants: the register file switches
// on them for every access, and V8 folds a module's own constants into
// optimized code but reads an imported binding from its module cell, and
// checks it, at every use (docs/ARCHITECTURE.md, "Performance").
const {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_GUEST_PAGE_SIZE,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_PFN,
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
} = registers;

export { type MmioDeviceParts, REFERENCE_MMIO_DEVICE_PARTS };

/** Options for {@linkcode MmioDeviceTransport}. */
export interface MmioDeviceTransportOptions {
  /** Guest RAM the device reads and writes buffers in. */
  readonly memory: GuestMemory;
  /** The conformance log violations go to. */
  readonly log: ConformanceLog;
  /** Name used in the log, e.g. `"virtio-blk@0x1e000"` (default: the device's name). */
  readonly name?: string;
  /** Other implementations of some of the parts (the reference supplies the rest). */
  readonly parts?: Partial<MmioDeviceParts>;
  /** Builds device-side queues (default: the reference split queue). */
  readonly queueFactory?: DeviceQueueFactory;
  /**
   * Builds device-side queues when `VIRTIO_F_RING_PACKED` is negotiated
   * (§2.8). When given, the transport offers `VIRTIO_F_RING_PACKED` with
   * the device model's features (within {@linkcode featureMask}), checks a
   * queue's areas with the packed layout, and builds its queues with this
   * factory once the driver accepted it; without it, only split rings.
   */
  readonly packedQueueFactory?: DeviceQueueFactory;
  /**
   * The feature bits the device may offer (default: all). `DeviceFeatures`
   * reads and the FEATURES_OK check both see `device.deviceFeatures &
   * featureMask`, so a machine can withhold `VIRTIO_F_INDIRECT_DESC`,
   * `VIRTIO_F_EVENT_IDX` or `VIRTIO_F_RING_RESET` from a driver not ready for
   * them. Keep `VIRTIO_F_VERSION_1` in it: a modern device offers it (6.2/1).
   * A legacy device offers only the low 32 bits of it (4.2.4/D5).
   */
  readonly featureMask?: bigint;
  /**
   * The interface to expose: 2, the modern one (default), or 1, the legacy
   * interface of §4.2.4 (`Version` reads 1).
   */
  readonly version?: 1 | 2;
}

/** Per-queue counters kept by the transport. */
export interface TransportQueueStats {
  /** Available buffer notifications (`QueueNotify` writes) for this queue. */
  notifications: number;
  /** Used buffer notifications the device sent for this queue. */
  interrupts: number;
}

const ALL_ONES_64 = 0xffff_ffff_ffff_ffffn;
/** The feature bits a legacy device can offer: word 0 (4.2.4/D5). */
const LEGACY_FEATURE_BITS = 0xffff_ffffn;

/**
 * A virtio-mmio register file (modern interface, version 2) exposing one
 * device model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MmioDeviceTransport } from "./mmio_device.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { MemoryBlockBackend, VirtioBlockDevice } from "../devices/mod.ts";
 * const log = new ConformanceLog();
 * const blockDevice = new VirtioBlockDevice(new MemoryBlockBackend(64 * 512));
 * const memory = new GuestMemory(1 << 20);
 * const transport = new MmioDeviceTransport(blockDevice, { memory, log });
 * assert.equal(transport.read(0x000, 4), 0x74726976); // MagicValue
 * assert.equal(transport.read(0x004, 4), 2); // Version 2: a modern device
 * transport.write(0x070, 4, 1); // Status = ACKNOWLEDGE
 * assert.equal(transport.read(0x070, 4), 1);
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
  /** The feature bits the device may offer (see {@linkcode MmioDeviceTransportOptions.featureMask}). */
  readonly featureMask: bigint;
  /** The interface exposed: 2 (modern) or 1 (legacy, §4.2.4). */
  readonly version: 1 | 2;
  readonly #memory: GuestMemory;
  readonly #reporter: ConformanceReporter;
  readonly #queueFactory: DeviceQueueFactory;
  readonly #packedQueueFactory: DeviceQueueFactory | undefined;
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
  /** Each queue's registers as written, by index. */
  #queueRegisters: QueueRegisters[];
  /**
   * Legacy only: each queue's `QueueNum`, `QueueAlign` and `QueuePFN` as
   * written, by index; `#queueRegisters` then holds the queue they place.
   */
  #legacyQueues: LegacyQueueRegisters[];
  /**
   * Legacy only: `GuestPageSize` as written, in bytes (0: never written). A
   * device reset keeps it, as QEMU does: Linux writes it once, at probe,
   * before the reset that starts initialization.
   */
  #guestPageSize = 0;
  /** Each queue's device half while it is in use, by index. */
  #live: (DeviceQueue | null)[];
  readonly #stats: TransportQueueStats[];
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
   * @param options Memory, log, name, replaced parts, queue factory, feature mask.
   */
  constructor(device: VirtioDevice, options: MmioDeviceTransportOptions) {
    this.device = device;
    this.name = options.name ?? device.name;
    this.parts = { ...REFERENCE_MMIO_DEVICE_PARTS, ...options.parts };
    this.version = options.version ?? 2;
    this.featureMask = (options.featureMask ?? ALL_ONES_64) &
      (this.version === 1 ? LEGACY_FEATURE_BITS : ALL_ONES_64);
    this.#memory = options.memory;
    this.#reporter = options.log.scoped(this.name);
    this.#queueFactory = options.queueFactory ?? splitQueueDeviceFactory;
    this.#packedQueueFactory = options.packedQueueFactory;
    this.#queueRegisters = device.queueMaxSizes.map(() => INITIAL_QUEUE_REGISTERS);
    this.#legacyQueues = device.queueMaxSizes.map(() => INITIAL_LEGACY_QUEUE_REGISTERS);
    this.#live = device.queueMaxSizes.map(() => null);
    this.#stats = device.queueMaxSizes.map(() => ({ notifications: 0, interrupts: 0 }));
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

  /**
   * The features the driver sees offered: the device model's, with `VIRTIO_F_RING_PACKED`
   * when the transport has a packed queue factory, within {@linkcode featureMask}.
   */
  get offeredFeatures(): bigint {
    const ring = this.#packedQueueFactory ? featureMask(VIRTIO_F_RING_PACKED) : 0n;
    return (this.device.deviceFeatures | ring) & this.featureMask;
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
    return this.#stats.map((s) => ({ ...s }));
  }

  /** Configuration change notifications sent. */
  get configInterrupts(): number {
    return this.#configInterrupts;
  }

  /**
   * What the driver has written to one queue's registers (a plain record).
   *
   * @param index Queue index.
   * @returns The registers, or `undefined` for a queue the device does not have.
   */
  queueRegisters(index: number): QueueRegisters | undefined {
    return this.#queueRegisters[index];
  }

  /**
   * Legacy only: what the driver has written to one queue's `QueueNum`,
   * `QueueAlign` and `QueuePFN` (a plain record).
   *
   * @param index Queue index.
   * @returns The registers, or `undefined` for a modern device or a queue it does not have.
   */
  legacyQueueRegisters(index: number): LegacyQueueRegisters | undefined {
    return this.version === 1 ? this.#legacyQueues[index] : undefined;
  }

  /** Legacy only: `GuestPageSize` as written, in bytes (0 if never written, and always for a modern device). */
  get guestPageSize(): number {
    return this.#guestPageSize;
  }

  /**
   * The live device-side queue at an index (also what the device model sees).
   *
   * @param index Queue index.
   * @returns The queue, or `null` if it is not ready, not live or broken.
   */
  liveQueue(index: number): DeviceQueue | null {
    const live = this.#live[index];
    if (!live || !this.#active || !this.#queueRegisters[index]?.ready || live.broken) return null;
    return live;
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
      deviceFeatures: this.offeredFeatures,
      driverFeatures: this.#driverFeatures,
      negotiatedFeatures: this.#negotiated,
      featureNames: this.device.featureNames,
      status: this.#status,
      interruptStatus: this.#interruptStatus,
      configGeneration: this.#configGeneration,
      queueSel: this.#queueSel,
      queues: this.#queueRegisters.map((q, index) => ({
        index,
        numMax: this.device.queueMaxSizes[index],
        num: q.num,
        ready: q.ready,
        desc: Number(join64(q.descLow, q.descHigh)),
        driver: Number(join64(q.driverLow, q.driverHigh)),
        device: Number(join64(q.deviceLow, q.deviceHigh)),
        live: this.#live[index] !== null,
        broken: this.#live[index]?.broken?.id ?? null,
        notifications: this.#stats[index].notifications,
        interrupts: this.#stats[index].interrupts,
        ...(this.version === 1
          ? {
            legacy: { align: this.#legacyQueues[index].align, pfn: this.#legacyQueues[index].pfn },
          }
          : {}),
      })),
      ...(this.version === 1 ? { guestPageSize: this.#guestPageSize } : {}),
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
      const at = offset - VIRTIO_MMIO_CONFIG;
      return this.#configAccess(at, width, "read") ? this.device.readConfig(at, width) >>> 0 : 0;
    }
    const check = this.parts.checkRegisterAccess(offset, width, "read", this.version);
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width, register: check.register?.name ?? null },
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
    const index = this.#queueSel;
    const q = this.#queueRegisters[index];
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
        return featureWord(this.offeredFeatures, this.#deviceFeaturesSel);
      case VIRTIO_MMIO_QUEUE_NUM_MAX:
        if (this.version === 1 && this.#legacyQueues[index]?.pfn) {
          this.#reporter.report(
            "4.2.4/D3",
            `Read of QueueNumMax while queue ${index} is in use (QueuePFN set)`,
            { queue: index },
            "answered",
          );
        }
        return q ? this.device.queueMaxSizes[index] : 0;
      case VIRTIO_MMIO_QUEUE_PFN:
        // What the queue uses; 0 when it is not in use (4.2.4/D6).
        return this.#legacyQueues[index]?.pfn ?? 0;
      case VIRTIO_MMIO_QUEUE_READY:
        // The read-back a stop asks for (4.2.2.2/11).
        if (q?.stopUnconfirmed) this.#queueRegisters[index] = { ...q, stopUnconfirmed: false };
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
        // QueueReady 0 once done (4.2.2.1/12). Reading it is the read-back a
        // queue reset asks for (4.2.2.2/14).
        if (q?.resetUnconfirmed) this.#queueRegisters[index] = { ...q, resetUnconfirmed: false };
        return 0;
      case VIRTIO_MMIO_CONFIG_GENERATION:
        return this.#configGeneration >>> 0;
      default:
        // checkRegisterAccess let through a register this file does not
        // implement: only possible with another checkRegisterAccess.
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
      const at = offset - VIRTIO_MMIO_CONFIG;
      if (this.#configAccess(at, width, "write")) this.device.writeConfig(at, width, value);
      return;
    }
    const check = this.parts.checkRegisterAccess(offset, width, "write", this.version);
    if (!check.ok) {
      this.#reporter.report(
        check.requirement,
        check.reason,
        { offset: hex3(offset), width, value, register: check.register?.name ?? null },
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
      case VIRTIO_MMIO_GUEST_PAGE_SIZE:
        this.#guestPageSize = value;
        return;
      case VIRTIO_MMIO_QUEUE_ALIGN:
      case VIRTIO_MMIO_QUEUE_PFN:
        return this.#writeLegacyQueueRegister(offset, value);
      case VIRTIO_MMIO_QUEUE_NUM:
        if (this.version === 1) return this.#writeLegacyQueueRegister(offset, value);
        return this.#writeQueueRegister(offset, value);
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
      case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
      case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
      case VIRTIO_MMIO_QUEUE_USED_LOW:
      case VIRTIO_MMIO_QUEUE_USED_HIGH:
      case VIRTIO_MMIO_QUEUE_READY:
      case VIRTIO_MMIO_QUEUE_RESET:
        return this.#writeQueueRegister(offset, value);
      case VIRTIO_MMIO_QUEUE_NOTIFY:
        return this.#queueNotify(value);
      case VIRTIO_MMIO_INTERRUPT_ACK: {
        const ack = this.parts.acknowledgeInterrupt(this.#interruptStatus, value);
        if (ack.problem) this.#report(ack.problem);
        this.#setInterruptStatus(ack.interruptStatus);
        return;
      }
      case VIRTIO_MMIO_STATUS:
        return this.#writeStatus(value);
      case VIRTIO_MMIO_SHM_SEL:
        this.#shmSel = value;
        return;
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
    if (this.version === 1) return this.#writeLegacyDriverFeatures(value);
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

  /**
   * `DriverFeatures` (the legacy `GuestFeatures`) on a legacy device: word 0
   * only, and only before the device goes live, where features become final
   * (4.2.4/D4).
   */
  #writeLegacyDriverFeatures(value: number): void {
    if (this.#status & VIRTIO_CONFIG_S_DRIVER_OK) {
      this.#reporter.report(
        "4.2.4/D4",
        `Write to DriverFeatures (word ${this.#driverFeaturesSel}) after DRIVER_OK, when a legacy device's features are final`,
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
    if (this.#driverFeaturesSel !== 0) {
      if (value !== 0) {
        this.#reporter.report(
          "4.2.4/D4",
          `Driver accepted bits in feature word ${this.#driverFeaturesSel} of a legacy device, which has 32 feature bits`,
          { sel: this.#driverFeaturesSel, value },
          "write ignored",
        );
      }
      return;
    }
    this.#driverFeatures = BigInt(value >>> 0);
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
    const t = this.version === 1
      ? this.parts.nextLegacyDeviceStatus(before, value)
      : this.parts.nextDeviceStatus(before, value);
    for (const v of t.violations) {
      this.#reporter.report(v.id, v.message, { status: before, written: value });
    }
    if (t.reset) {
      this.#reset();
      return;
    }
    let status = t.status & 0xff;
    if (t.negotiate && (status & VIRTIO_CONFIG_S_FEATURES_OK)) {
      const offered = this.offeredFeatures;
      const verdict = this.parts.checkDriverFeatures(
        offered,
        this.#driverFeatures,
        this.device.featureNames,
      );
      let refusal: string | null;
      if (!verdict.ok) {
        this.#reporter.report(
          verdict.requirement,
          verdict.reason,
          { offered, accepted: this.#driverFeatures },
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
    if (this.version === 1) {
      if (t.activate && (status & VIRTIO_CONFIG_S_NEEDS_RESET) === 0) this.#activateLegacy();
    } else if (driverOkAdded && (status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      this.#needsReset("DRIVER_OK was set without FEATURES_OK: no feature set was negotiated");
    } else if (
      // The transition says whether this write takes the device live; the
      // device adds what the transition could not know: whether FEATURES_OK
      // survived the feature check just made, and its own DEVICE_NEEDS_RESET.
      t.activate && (status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 &&
      (status & VIRTIO_CONFIG_S_NEEDS_RESET) === 0
    ) {
      this.#activate();
    }
    if ((status & VIRTIO_CONFIG_S_FAILED) !== 0 && this.#active) {
      // The driver gave up: stop processing queues until it resets us.
      this.#active = false;
    }
  }

  /**
   * DRIVER_OK on a legacy device: the features written so far become final
   * (there was no FEATURES_OK to refuse them at, §3.1.2), then the device goes
   * live. Features it never offered, or a set the device model refuses,
   * leave it needing a reset instead.
   */
  #activateLegacy(): void {
    const offered = this.offeredFeatures;
    const verdict = this.parts.checkDriverFeatures(
      offered,
      this.#driverFeatures,
      this.device.featureNames,
    );
    if (!verdict.ok) {
      this.#reporter.report(
        verdict.requirement,
        verdict.reason,
        { offered, accepted: this.#driverFeatures },
        "device not started",
      );
      this.#needsReset(verdict.reason);
      return;
    }
    const refusal = this.device.checkFeatures?.(verdict.features) ?? null;
    if (refusal !== null) {
      this.#needsReset(`the device cannot run with the features written: ${refusal}`);
      return;
    }
    this.#negotiated = verdict.features;
    this.#activate();
  }

  #activate(): void {
    this.#active = true;
    for (let index = 0; index < this.#queueRegisters.length; index++) {
      if (this.#queueRegisters[index].ready && !this.#live[index]) this.#goLive(index);
    }
    if (this.#active) this.device.activate();
  }

  /**
   * Device reset (§2.4): status back to 0 (2.4.1/1); InterruptStatus and
   * every QueueReady cleared (4.2.2.1/5); no queue touched or notification
   * sent until the driver initializes the device again (2.4.1/2).
   */
  #reset(): void {
    this.device.reset();
    this.#queueRegisters = this.#queueRegisters.map(() => INITIAL_QUEUE_REGISTERS);
    // A legacy reset sets every QueuePFN to 0 (§4.2.4, 4.2.4/D6).
    this.#legacyQueues = this.#legacyQueues.map(() => INITIAL_LEGACY_QUEUE_REGISTERS);
    this.#live = this.#live.map(() => null);
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
    this.#setInterruptStatus(0);
  }

  /**
   * The device asks for a reset, as a device model does when it cannot go on
   * (a queue it finds broken, a request it cannot complete), or a test or
   * fuzzer breaking the device on purpose: `markNeedsReset` decides the new
   * status and whether to notify; the register file stops using every queue
   * (2.1.2/1) and raises the configuration change interrupt when told to
   * (2.1.2/2). Asking again before the driver resets the device changes
   * nothing.
   *
   * @param reason Why, for {@linkcode needsResetReason}: a sentence, or the violation found.
   */
  markNeedsReset(reason: Violation | string): void {
    this.#needsReset(reason);
  }

  #needsReset(reason: Violation | string): void {
    // §2.1.2/3: an error only a reset cures is announced with DEVICE_NEEDS_RESET.
    const transition = this.parts.markNeedsReset(this.#status);
    const first = (this.#status & VIRTIO_CONFIG_S_NEEDS_RESET) === 0 &&
      (transition.status & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0;
    this.#status = transition.status & 0xff;
    if (first) {
      this.#needsResetReason = typeof reason === "string"
        ? reason
        : `§${reason.id}: ${reason.message}`;
    }
    // Whatever the part decided, a device that asked for a reset (or was
    // asked to, and did not set the bit) processes nothing more until the
    // driver resets it.
    this.#active = false;
    if (!transition.notify) return;
    // §2.1.2/2: tell an active driver through a configuration change
    // notification (raiseInterrupt sends nothing before DRIVER_OK). Device
    // models ask for a reset where nothing can take an error (a promise
    // reaction), so a raiseInterrupt part that throws here leaves the driver
    // to find DEVICE_NEEDS_RESET in Status, and the reason says so.
    try {
      if (this.#raise(VIRTIO_MMIO_INT_CONFIG)) this.#configInterrupts++;
    } catch (error) {
      this.#needsResetReason += `; the configuration change notification failed: ${
        error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }`;
    }
  }

  // --------------------------------------------------------------- queues

  /**
   * A write to one of the selected queue's registers: `writeQueueRegister`
   * decides, with `queueAreaProblem` as its check when QueueReady is set
   * (`resetQueue` decides a write to QueueReset), and the register file
   * applies the outcome. A queue the device does not have
   * (QueueNumMax reads 0 there) changes nothing; QEMU ignores such writes too.
   */
  #writeQueueRegister(offset: number, value: number): void {
    const index = this.#queueSel;
    const registers = this.#queueRegisters[index];
    if (!registers) return;
    const max = this.device.queueMaxSizes[index];
    const context = {
      queue: index,
      max,
      ram: this.#memory,
      eventIdx: hasFeature(this.#negotiated, VIRTIO_F_EVENT_IDX),
    };
    const ringReset = hasFeature(this.#negotiated, VIRTIO_F_RING_RESET);
    // A packed ring's areas have other sizes and alignments (§2.8.10.1).
    const areaProblem = hasFeature(this.#negotiated, VIRTIO_F_RING_PACKED)
      ? (r: QueueRegisters) => packedQueueAreaProblem(r, context)
      : (r: QueueRegisters) => this.parts.queueAreaProblem(r, context);
    const outcome = offset === VIRTIO_MMIO_QUEUE_RESET
      ? this.parts.resetQueue(registers, { queue: index, value, ringReset })
      : this.parts.writeQueueRegister(
        registers,
        { queue: index, offset, value, max, ringReset },
        areaProblem,
      );
    for (const problem of outcome.problems) this.#report(problem);
    this.#queueRegisters[index] = outcome.registers;
    if (outcome.stopped || outcome.reset) {
      // Stop using the queue: the device must not touch it any more (4.2.2.1/7).
      this.#live[index] = null;
    }
    if (outcome.reset) {
      // 4.2.2.1/10: the device model drops its work on the queue, so no
      // request of the old queue is executed or notified (2.6.1.1.1/1).
      this.device.queueReset?.(index);
    }
    if (outcome.enabled && this.#active) this.#goLive(index);
  }

  /**
   * A write to one of the selected legacy queue's registers (`QueueNum`,
   * `QueueAlign`, `QueuePFN`): `writeLegacyQueueRegister` decides, with
   * `queueAreaProblem` as its check for the region a new `QueuePFN` places
   * (the event fields counted: the legacy layout always reserves them), and
   * the register file applies the outcome.
   */
  #writeLegacyQueueRegister(offset: number, value: number): void {
    const index = this.#queueSel;
    const registers = this.#legacyQueues[index];
    if (!registers) return;
    const max = this.device.queueMaxSizes[index];
    const context = { queue: index, max, ram: this.#memory, eventIdx: true };
    const outcome = this.parts.writeLegacyQueueRegister(
      registers,
      { queue: index, offset, value, max, guestPageSize: this.#guestPageSize },
      (r) => this.parts.queueAreaProblem(r, context),
    );
    for (const problem of outcome.problems) this.#report(problem);
    this.#legacyQueues[index] = outcome.registers;
    this.#queueRegisters[index] = legacyQueueView(outcome.registers);
    if (outcome.stopped) this.#live[index] = null;
    if (outcome.enabled && this.#active) this.#goLive(index);
  }

  /**
   * Builds the device half of a queue from its registers. A queue factory
   * that refuses them (possible only when another area check let bad areas
   * through) leaves the queue dead and the device needing a reset, rather
   * than throwing into the driver's register write.
   */
  #goLive(index: number): void {
    const q = this.#queueRegisters[index];
    const reporter = this.#reporter.scoped(`queue ${index}`);
    try {
      const factory = hasFeature(this.#negotiated, VIRTIO_F_RING_PACKED)
        ? this.#packedQueueFactory ?? this.#queueFactory
        : this.#queueFactory;
      this.#live[index] = factory(
        {
          memory: this.#memory,
          index,
          size: q.num,
          descAddr: Number(join64(q.descLow, q.descHigh)),
          availAddr: Number(join64(q.driverLow, q.driverHigh)),
          usedAddr: Number(join64(q.deviceLow, q.deviceHigh)),
          eventIdx: hasFeature(this.#negotiated, VIRTIO_F_EVENT_IDX),
          indirect: hasFeature(this.#negotiated, VIRTIO_F_INDIRECT_DESC),
          reporter,
        },
        (violation) => this.#needsReset(violation),
      );
    } catch (error) {
      this.#live[index] = null;
      this.#needsReset(
        `queue ${index} could not be built: ${error instanceof Error ? error.message : error}`,
      );
    }
  }

  #queueNotify(value: number): void {
    // One record per transport, brought up to date before each call: the
    // part reads it during the call and keeps nothing.
    const context = this.#notifyContext;
    context.status = this.#status;
    context.active = this.#active;
    context.queues = this.#queueRegisters;
    const target = this.parts.queueNotifyTarget(value, context);
    const stats = this.#stats[target.queue];
    if (stats) stats.notifications++;
    if (target.problem) this.#report(target.problem);
    if (!target.deliver) return;
    // A broken queue is silent until reset; so is one that is not live.
    if (this.liveQueue(target.queue)) this.device.queueNotify(target.queue);
  }

  // ------------------------------------------------------------ interrupts

  /**
   * Raises an event through `raiseInterrupt` and drives the line.
   *
   * @returns Whether a notification was sent.
   */
  #raise(event: number): boolean {
    const raised = this.parts.raiseInterrupt(this.#interruptStatus, event, this.#status);
    this.#setInterruptStatus(raised.interruptStatus);
    return raised.sent;
  }

  /** Stores `InterruptStatus`; the line is high while any bit is set. */
  #setInterruptStatus(status: number): void {
    this.#interruptStatus = status >>> 0;
    this.#line?.set(this.#interruptStatus !== 0);
  }

  // ----------------------------------------------------------------- config

  /**
   * Checks a configuration access with `checkConfigAccess` and logs its problems.
   *
   * @returns Whether to pass the access to the device model.
   */
  #configAccess(offset: number, width: AccessWidth, kind: "read" | "write"): boolean {
    const space: ConfigSpaceView = {
      size: this.device.configSize,
      layout: this.device.configLayout,
      offered: this.offeredFeatures,
      featureNames: this.device.featureNames,
      status: this.#status,
    };
    const verdict = this.parts.checkConfigAccess(offset, width, kind, space);
    for (const problem of verdict.problems) this.#report(problem);
    return verdict.serve;
  }

  // -------------------------------------------------------------- the host

  #report(problem: RuleProblem): void {
    this.#reporter.report(problem.id, problem.message, problem.values, problem.action);
  }

  /** What `queueNotifyTarget` is shown of the device (see `#queueNotify`). */
  readonly #notifyContext: { status: number; active: boolean; queues: QueueRegisters[] } = {
    status: 0,
    active: false,
    queues: [],
  };

  /** What `readIdentification` is asked about, made once per device: every register read passes it. */
  #identityRecord: DeviceIdentity | null = null;

  #identity(): DeviceIdentity {
    return this.#identityRecord ??= Object.freeze({
      deviceId: this.device.deviceId,
      vendorId: this.device.vendorId,
      version: this.version,
    });
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
        // §2.4.1/2 and §2.1.2/1: no notifications unless live.
        const live = this.liveQueue(index);
        if (!live) return;
        if (live.needsInterrupt() && this.#raise(VIRTIO_MMIO_INT_VRING)) {
          this.#stats[index].interrupts++;
        }
      },
      configChanged: () => {
        const change = this.parts.configChanged(this.#configGeneration, this.#status);
        this.#configGeneration = change.configGeneration;
        if (change.notify && this.#raise(VIRTIO_MMIO_INT_CONFIG)) this.#configInterrupts++;
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
  /** The interface version the slot reports: 2, or 1 in a legacy machine. */
  readonly version: 1 | 2;
  readonly #reporter: ConformanceReporter;

  /**
   * Creates an empty slot that logs misuse to `log`.
   *
   * @param log The conformance log.
   * @param name Name used in the log, e.g. `"virtio-mmio@0x1e400"`.
   * @param version The `Version` it reads: 2 (default) or 1 (legacy).
   */
  constructor(log: ConformanceLog, name: string, version: 1 | 2 = 2) {
    this.name = name;
    this.version = version;
    this.#reporter = log.scoped(name);
  }

  /** Reads: the identification registers answer; anything else is logged and reads 0. */
  read(offset: number, width: AccessWidth): number {
    const check = checkRegisterAccess(offset, width, "read", this.version);
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
      return readIdentification(offset, { deviceId: 0, vendorId: 0, version: this.version }) ?? 0;
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
    const check = checkRegisterAccess(offset, width, "write", this.version);
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

/** The spec's name of the modern register at `offset`, or its hex offset. */
function registerName(offset: number): string {
  return findRegister(offset, 2)?.name ?? hex3(offset);
}
