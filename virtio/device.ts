/**
 * The device side's contract with a transport (virtio v1.2 §2, §4): what a
 * device model implements so that any transport can expose it
 * ({@linkcode VirtioDevice}), and what the transport gives it back
 * ({@linkcode DeviceHost}). Nothing here is MMIO-specific: a PCI transport
 * would expose the same models.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { ConformanceReporter, Violation } from "../conformance/log.ts";
import type { DeviceQueue } from "../virtqueue/types.ts";

/** Width of one register or configuration-space access, in bytes. */
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
