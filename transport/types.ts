/**
 * The contracts around the virtio-mmio transport (virtio v1.2 §4.2):
 *
 * - what a device model implements so that the transport can expose it
 *   ({@linkcode VirtioDevice}) and what the transport gives it back
 *   ({@linkcode DeviceHost});
 * - what the MMIO bus maps and how interrupts leave a window
 *   ({@linkcode MmioRegion}, {@linkcode InterruptLine});
 * - what the driver side sees of a window ({@linkcode RegisterWindow}) and of
 *   a bound device ({@linkcode VirtioDriverContext}), and what a device-type
 *   driver implements ({@linkcode VirtioDriver}).
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceReporter, Violation } from "../spec/conformance.ts";
import type { DeviceQueue, DriverQueue } from "../virtqueue/types.ts";

/** Width of one MMIO access, in bytes. */
export type AccessWidth = 1 | 2 | 4;

/**
 * One field of a device's configuration space (the structure at offset 0x100
 * of an MMIO window, §4.2.2), used for the access-width rule of §4.2.2.2/3 and
 * the feature rule of §2.5.1/1.
 */
export interface ConfigField {
  /** The field's name in the spec, e.g. `"capacity"`. */
  readonly name: string;
  /** Offset from the start of configuration space, in bytes. */
  readonly offset: number;
  /** Size of the field, in bytes. */
  readonly size: 1 | 2 | 4 | 8;
  /** Feature bit that must be offered for the field to exist; absent if always present. */
  readonly feature?: number;
  /** Whether the driver may write the field (e.g. `emerg_wr`, `writeback`). */
  readonly writable?: boolean;
  /**
   * Whether the driver may write it at any time, even during feature
   * negotiation or before the device is configured (`emerg_wr`, §5.3.5.1/1);
   * other writable fields must wait for FEATURES_OK (§3.1.1/2).
   */
  readonly anytime?: boolean;
}

/** A shared memory region a device exposes (§2.10, `SHMSel`/`SHMLen`/`SHMBase`). */
export interface ShmRegion {
  /** The region id written to `SHMSel`. */
  readonly id: number;
  /** Guest-physical base address. */
  readonly base: bigint;
  /** Length in bytes. */
  readonly length: bigint;
}

/**
 * A virtio device model: device type, features, queues and configuration
 * space, independent of the transport. Implemented by the reference console
 * and block devices, and by a learner's device.
 */
export interface VirtioDevice {
  /** Human name such as `"virtio-blk"`. */
  readonly name: string;
  /** Virtio device ID (§5), e.g. `VIRTIO_ID_BLOCK` (2). */
  readonly deviceId: number;
  /** Subsystem vendor ID reported in `VendorID`. */
  readonly vendorId: number;
  /** The features this device offers, device-specific and reserved bits, as a 64-bit word. */
  readonly deviceFeatures: bigint;
  /** Names of the device-specific feature bits, by bit number (for display). */
  readonly featureNames: Readonly<Record<number, string>>;
  /** `QueueNumMax` for each queue index; the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Configuration space fields, for access checks and display. */
  readonly configLayout: readonly ConfigField[];
  /** Size of configuration space, in bytes. */
  readonly configSize: number;
  /** Shared memory regions, if any. */
  readonly shmRegions?: readonly ShmRegion[];

  /**
   * Called once by the transport that exposes this device, before any other call.
   *
   * @param host The transport's services for this device.
   */
  attach(host: DeviceHost): void;
  /**
   * Reads configuration space (little-endian).
   *
   * @param offset Byte offset inside configuration space.
   * @param width Access width in bytes.
   * @returns The unsigned value of the `width` bytes at `offset`.
   */
  readConfig(offset: number, width: AccessWidth): number;
  /**
   * Writes configuration space (little-endian); read-only fields ignore writes.
   *
   * @param offset Byte offset inside configuration space.
   * @param width Access width in bytes.
   * @param value The unsigned value written.
   */
  writeConfig(offset: number, width: AccessWidth, value: number): void;
  /**
   * Called when the driver sets FEATURES_OK: the device may refuse a feature
   * combination it cannot support (§2.2.2/2). Features never offered are
   * refused by the transport before this is called.
   *
   * @param accepted The features the driver accepted.
   * @returns `null` to accept, or a reason to refuse.
   */
  checkFeatures?(accepted: bigint): string | null;
  /** Called when the driver sets DRIVER_OK; `host.queue(i)` now returns the live queues. */
  activate(): void;
  /**
   * An available buffer notification for a queue (§2.7.13.4, `QueueNotify`).
   * Only called while the device is active and the queue is live.
   *
   * @param index Queue index.
   */
  queueNotify(index: number): void;
  /**
   * Device reset (§2.4): stop all I/O, forget negotiated state. Queues are gone
   * after this; in-flight backend work must not touch guest memory afterwards.
   */
  reset(): void;
  /**
   * A single queue was reset through `QueueReset` (§2.6.1); absent if the
   * device does not offer `VIRTIO_F_RING_RESET`.
   *
   * @param index Queue index.
   */
  queueReset?(index: number): void;
}

/** What the transport offers to the device model it exposes. */
export interface DeviceHost {
  /** Guest RAM, for reading and writing buffers. */
  readonly memory: GuestMemory;
  /** Reports driver violations seen by the device (scoped to this device). */
  readonly reporter: ConformanceReporter;
  /** The negotiated features (valid from FEATURES_OK; 0 before). */
  readonly features: bigint;
  /** Whether DRIVER_OK is set and DEVICE_NEEDS_RESET is not. */
  readonly active: boolean;
  /**
   * The live device-side queue at an index.
   *
   * @returns The queue, or `null` if it is not ready, not configured or broken.
   */
  queue(index: number): DeviceQueue | null;
  /**
   * The device pushed used entries on a queue: the transport asks the queue
   * whether the driver wants an interrupt and, if so, raises the used buffer
   * bit of `InterruptStatus` (§4.2.2, bit 0).
   *
   * @param index Queue index.
   */
  usedBuffers(index: number): void;
  /**
   * The configuration space changed: bump `ConfigGeneration` and, once the
   * driver is active, raise the configuration change bit (§4.2.2, bit 1).
   */
  configChanged(): void;
  /**
   * The device cannot go on: set DEVICE_NEEDS_RESET and, if DRIVER_OK is set,
   * send a configuration change notification (§2.1.2/2).
   *
   * @param reason The violation or a message explaining why.
   */
  needsReset(reason: Violation | string): void;
}

/** An interrupt line from a window to the interrupt controller (level-triggered). */
export interface InterruptLine {
  /** The line number (the device tree's `interrupts` value). */
  readonly irq: number;
  /**
   * Sets the level: `true` while any `InterruptStatus` bit is set.
   *
   * @param level The new level.
   */
  set(level: boolean): void;
}

/** Anything the MMIO bus can map into a window: a transport's register file. */
export interface MmioRegion {
  /** Size of the window, in bytes (0x200 for virtio-mmio). */
  readonly size: number;
  /**
   * Handles a read inside the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @returns The unsigned value read.
   */
  read(offset: number, width: AccessWidth): number;
  /**
   * Handles a write inside the window.
   *
   * @param offset Offset from the window base, in bytes.
   * @param width Access width in bytes.
   * @param value The unsigned value written.
   */
  write(offset: number, width: AccessWidth, value: number): void;
  /**
   * Connects the region's interrupt output; called by the bus when mapping.
   *
   * @param line The line to drive.
   */
  connectInterrupt?(line: InterruptLine): void;
}

/**
 * A window of MMIO space as the driver sees it: loads and stores at offsets
 * from the window base, like `readl`/`writel` on an `ioremap`ped region.
 */
export interface RegisterWindow {
  /** Guest-physical base address of the window. */
  readonly base: number;
  /** Size of the window, in bytes. */
  readonly size: number;
  /** 32-bit load at `offset`. */
  read32(offset: number): number;
  /** 32-bit store at `offset`. */
  write32(offset: number, value: number): void;
  /** 16-bit load at `offset`. */
  read16(offset: number): number;
  /** 16-bit store at `offset`. */
  write16(offset: number, value: number): void;
  /** 8-bit load at `offset`. */
  read8(offset: number): number;
  /** 8-bit store at `offset`. */
  write8(offset: number, value: number): void;
}

/** Options for setting up one driver-side queue. */
export interface QueueSetupOptions {
  /** Queue size to use; default: `QueueNumMax` (capped at 256 for memory's sake). */
  readonly size?: number;
  /** Called when a used buffer notification arrives for this queue. */
  readonly onUsed: () => void;
}

/**
 * The driver side's view of one bound device, like Linux's
 * `struct virtio_device` with its `virtio_config_ops`.
 */
export interface VirtioDriverContext {
  /** Such as `"virtio-blk@0x1e000"`. */
  readonly name: string;
  /** The device ID read from the window. */
  readonly deviceId: number;
  /** The vendor ID read from the window. */
  readonly vendorId: number;
  /** The negotiated features (valid from FEATURES_OK on). */
  readonly features: bigint;
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** The driver side's allocator for rings and buffers. */
  readonly allocator: GuestAllocator;
  /** Reports device violations seen by the driver. */
  readonly reporter: ConformanceReporter;
  /**
   * Whether the device has set DEVICE_NEEDS_RESET (seen at the last
   * configuration change interrupt): from then on the driver must not rely on
   * the device completing anything (2.1.1/4).
   */
  readonly needsReset: boolean;

  /**
   * Configures and enables a virtqueue (§4.2.3.2).
   *
   * @param index Queue index.
   * @param options Size and the used-buffer callback.
   * @returns The driver half of the queue.
   * @throws {Error} If the queue does not exist (`QueueNumMax` 0) or is already live.
   */
  setupQueue<T>(index: number, options: QueueSetupOptions): DriverQueue<T>;
  /**
   * Sends an available buffer notification (`QueueNotify`, §4.2.3.3).
   *
   * @param index Queue index.
   */
  notify(index: number): void;
  /** Reads a configuration field of 1, 2 or 4 bytes (little-endian). */
  readConfig(offset: number, width: AccessWidth): number;
  /** Reads a 64-bit configuration field as two 32-bit accesses (§4.2.2.2/3). */
  readConfig64(offset: number): bigint;
  /** Writes a configuration field of 1, 2 or 4 bytes. */
  writeConfig(offset: number, width: AccessWidth, value: number): void;
  /**
   * Runs `read` until `ConfigGeneration` is the same before and after, so the
   * fields it reads are consistent (§2.5.1).
   *
   * @param read Reads configuration fields.
   * @returns What `read` returned on the consistent pass.
   */
  readConfigConsistent<R>(read: () => R): R;
  /** Sets FAILED: the driver gives up on the device (§3.1.1/4). */
  fail(reason: string): void;
}

/** A device-type driver, bound to windows by device ID like the Linux virtio bus. */
export interface VirtioDriver {
  /** Such as `"virtio_blk"`. */
  readonly name: string;
  /** The device ID this driver binds to. */
  readonly deviceId: number;
  /** The features the driver understands; negotiation accepts `offered & supportedFeatures`. */
  readonly supportedFeatures: bigint;
  /**
   * Called after FEATURES_OK is confirmed and before DRIVER_OK: set up queues,
   * read configuration. Throwing makes the core set FAILED (§3.1.1/4).
   *
   * @param device The bound device.
   */
  probe(device: VirtioDriverContext): void | Promise<void>;
  /** Called after DRIVER_OK is set: the device is live. */
  ready?(): void | Promise<void>;
  /** A configuration change notification arrived (bit 1 of `InterruptStatus`). */
  configChanged?(): void;
  /** The device is being unbound or reset by the driver core. */
  remove?(): void;
}
