/**
 * Constants of the packed virtqueue (virtio v1.2 §2.8), named as in Linux's
 * `include/uapi/linux/virtio_ring.h` (`VRING_PACKED_*`) and the spec's own
 * listings (`VIRTQ_DESC_F_AVAIL`, `RING_EVENT_FLAGS_*`).
 *
 * The descriptor flags `VIRTQ_DESC_F_NEXT`, `_WRITE` and `_INDIRECT` keep
 * their split-ring values (`../constants.ts`).
 *
 * @module
 */

/** Marks a descriptor available: set to the Driver Ring Wrap Counter (§2.8.1). */
export const VIRTQ_DESC_F_AVAIL = 1 << 7;
/** Marks a descriptor used: set to the Device Ring Wrap Counter (§2.8.1). */
export const VIRTQ_DESC_F_USED = 1 << 15;
/** Linux's name for {@linkcode VIRTQ_DESC_F_AVAIL}, as a bit number. */
export const VRING_PACKED_DESC_F_AVAIL = 7;
/** Linux's name for {@linkcode VIRTQ_DESC_F_USED}, as a bit number. */
export const VRING_PACKED_DESC_F_USED = 15;

/** Event suppression: notifications wanted (§2.8.10). */
export const RING_EVENT_FLAGS_ENABLE = 0x0;
/** Event suppression: no notifications wanted (§2.8.10). */
export const RING_EVENT_FLAGS_DISABLE = 0x1;
/**
 * Event suppression: a notification only when the descriptor at
 * `desc_event_off` is made available or used with `desc_event_wrap` as the
 * wrap counter; valid only with `VIRTIO_F_EVENT_IDX` (§2.8.10).
 */
export const RING_EVENT_FLAGS_DESC = 0x2;
/** Bit of `desc` (the `off_wrap` field) that holds `desc_event_wrap`, as in Linux. */
export const VRING_PACKED_EVENT_F_WRAP_CTR = 15;

/** Size of `struct pvirtq_desc` in bytes: `addr` (8), `len` (4), `id` (2), `flags` (2). */
export const PVIRTQ_DESC_SIZE = 16;
/** Offset of `addr` in a `struct pvirtq_desc`. */
export const PVIRTQ_DESC_ADDR = 0;
/** Offset of `len` in a `struct pvirtq_desc`. */
export const PVIRTQ_DESC_LEN = 8;
/** Offset of `id` (the Buffer ID) in a `struct pvirtq_desc`. */
export const PVIRTQ_DESC_ID = 12;
/** Offset of `flags` in a `struct pvirtq_desc`. */
export const PVIRTQ_DESC_FLAGS = 14;

/** Size of `struct pvirtq_event_suppress` in bytes: `desc` (off_wrap) then `flags`. */
export const PVIRTQ_EVENT_SUPPRESS_SIZE = 4;
/** Offset of `desc` (`desc_event_off` | `desc_event_wrap << 15`) in the structure. */
export const PVIRTQ_EVENT_OFF_WRAP = 0;
/** Offset of `flags` (`desc_event_flags` in bits 0-1) in the structure. */
export const PVIRTQ_EVENT_FLAGS = 2;

/** Alignment of the Descriptor Ring, in bytes (§2.8.10.1). */
export const PVIRTQ_DESC_ALIGN = 16;
/** Alignment of each Event Suppression structure, in bytes (§2.8.10.1). */
export const PVIRTQ_EVENT_ALIGN = 4;
/** The largest packed Queue Size: 2^15 descriptors (§2.8). */
export const PVIRTQ_MAX_SIZE = 32768;
