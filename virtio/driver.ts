/**
 * The driver side's contract with a transport (virtio v1.2 §3, §4): what a
 * device-type driver implements ({@linkcode VirtioDriver}), what it sees of a
 * bound device ({@linkcode VirtioDriverContext}, like Linux's
 * `struct virtio_device` with its `virtio_config_ops`), and how it is
 * registered with the driver core by device ID ({@linkcode DriverRegistration}).
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceReporter } from "../conformance/log.ts";
import type { DriverQueue } from "../virtqueue/types.ts";
import type { AccessWidth } from "./device.ts";

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
  /**
   * The driver core has reset the device to recover it (after
   * DEVICE_NEEDS_RESET or FAILED, §2.1.1) and will run `probe` and `ready`
   * again on the same context (Linux: `reset_prepare`, then `reset_done`).
   * Settle every request the device will never complete, with an error that
   * says why, and free the queues' buffers: the device no longer touches
   * them. A driver without it cannot be recovered.
   */
  resetPrepare?(): void;
}

/** A driver the core can bind, by device ID. */
export interface DriverRegistration {
  /** The device ID it binds to. */
  readonly deviceId: number;
  /** Such as `"virtio_blk"`. */
  readonly name: string;
  /** Makes a fresh driver instance for one device. */
  create(): VirtioDriver;
}
