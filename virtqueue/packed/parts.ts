/**
 * The replaceable parts of the packed virtqueue (virtio v1.2 §2.8), both
 * halves: each a plain function over the ring's state record
 * (`PackedDriverRing`, `PackedDeviceRing`), which `PackedQueueDriver` and
 * `PackedQueueDevice` call in sequence. A part never calls another part;
 * where a step needs another (reaping needs the id freed), the class passes
 * it in.
 *
 * @module
 */

import {
  addIndirectPacked,
  addPacked,
  detachBufPacked,
  disableCallbacksPacked,
  enableCallbacksPacked,
  getBufPacked,
  moreUsedPacked,
  needsKickPacked,
  updateDriverEventPacked,
} from "./driver_ring.ts";
import {
  descAvailablePacked,
  disableNotificationsPacked,
  enableNotificationsPacked,
  needsInterruptPacked,
  pushUsedPacked,
  readIndirectTablePacked,
  updateDeviceEventPacked,
  walkPackedChain,
} from "./device_ring.ts";

/** The driver half's parts (Linux `virtio_ring.c`, the `_packed` functions). */
export interface PackedRingDriverParts {
  /** Makes a buffer available, one descriptor per element, the first one's flags last (§2.8.21.1). */
  readonly addPacked: typeof addPacked;
  /** Makes a buffer available through an indirect table in one ring slot (§2.8.7). */
  readonly addIndirectPacked: typeof addIndirectPacked;
  /** Whether to notify the device, from the Device Event Suppression structure (§2.8.10). */
  readonly needsKickPacked: typeof needsKickPacked;
  /** Reaps the used descriptor at `nextUsed`, checked against the shadow (§2.8.22). */
  readonly getBufPacked: typeof getBufPacked;
  /** Frees a Buffer ID, its slots and its indirect table. */
  readonly detachBufPacked: typeof detachBufPacked;
  /** Moves the driver's event offset after a reap (with `VIRTIO_F_EVENT_IDX`). */
  readonly updateDriverEventPacked: typeof updateDriverEventPacked;
  /** Whether a used descriptor waits at `nextUsed`. */
  readonly moreUsedPacked: typeof moreUsedPacked;
  /** `RING_EVENT_FLAGS_DISABLE` in the Driver Event Suppression structure. */
  readonly disableCallbacksPacked: typeof disableCallbacksPacked;
  /** Used buffer notifications on again, then a last look at `nextUsed`. */
  readonly enableCallbacksPacked: typeof enableCallbacksPacked;
}

/** The device half's parts (QEMU `virtio.c`, the `packed` functions). */
export interface PackedRingDeviceParts {
  /** Whether a buffer starts at `nextAvail` (§2.8.1). */
  readonly descAvailablePacked: typeof descAvailablePacked;
  /** Reads and validates the list at `nextAvail`, finds its Buffer ID (§2.8.6, §2.8.17). */
  readonly walkPackedChain: typeof walkPackedChain;
  /** Reads the indirect table the walk stopped at (§2.8.7). */
  readonly readIndirectTablePacked: typeof readIndirectTablePacked;
  /** Moves the device's event offset after a pop (with `VIRTIO_F_EVENT_IDX`). */
  readonly updateDeviceEventPacked: typeof updateDeviceEventPacked;
  /** Writes a used descriptor at `nextUsed`, its flags last (§2.8.1, 2.8.15/3). */
  readonly pushUsedPacked: typeof pushUsedPacked;
  /** Whether to notify the driver, from the Driver Event Suppression structure (§2.8.10). */
  readonly needsInterruptPacked: typeof needsInterruptPacked;
  /** `RING_EVENT_FLAGS_DISABLE` in the Device Event Suppression structure. */
  readonly disableNotificationsPacked: typeof disableNotificationsPacked;
  /** Available buffer notifications on again, then a last look at `nextAvail`. */
  readonly enableNotificationsPacked: typeof enableNotificationsPacked;
}

/** The reference driver-side parts. */
export const REFERENCE_PACKED_RING_DRIVER_PARTS: PackedRingDriverParts = Object.freeze({
  addPacked,
  addIndirectPacked,
  needsKickPacked,
  getBufPacked,
  detachBufPacked,
  updateDriverEventPacked,
  moreUsedPacked,
  disableCallbacksPacked,
  enableCallbacksPacked,
});

/** The reference device-side parts. */
export const REFERENCE_PACKED_RING_DEVICE_PARTS: PackedRingDeviceParts = Object.freeze({
  descAvailablePacked,
  walkPackedChain,
  readIndirectTablePacked,
  updateDeviceEventPacked,
  pushUsedPacked,
  needsInterruptPacked,
  disableNotificationsPacked,
  enableNotificationsPacked,
});
