/**
 * Constants of the split virtqueue (virtio v1.2 §2.7), under the spec's names
 * (`VIRTQ_*`) and under the names of the Linux UAPI header
 * `linux/virtio_ring.h` (`VRING_*`). The values are identical: the spec notes
 * in §2.7.5, §2.7.6 and §2.7.8 that the legacy names describe the same layout.
 *
 * @module
 */

/** Descriptor flag: the chain continues at the descriptor in `next` (§2.7.5). */
export const VIRTQ_DESC_F_NEXT = 1;
/** Descriptor flag: the buffer is device-writable; otherwise device-readable (§2.7.5). */
export const VIRTQ_DESC_F_WRITE = 2;
/** Descriptor flag: the buffer holds an indirect descriptor table (§2.7.5.3). */
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Available ring flag: the driver asks for no used buffer notifications (§2.7.7). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Used ring flag: the device asks for no available buffer notifications (§2.7.10). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Linux name of {@linkcode VIRTQ_DESC_F_NEXT}. */
export const VRING_DESC_F_NEXT: 1 = VIRTQ_DESC_F_NEXT;
/** Linux name of {@linkcode VIRTQ_DESC_F_WRITE}. */
export const VRING_DESC_F_WRITE: 2 = VIRTQ_DESC_F_WRITE;
/** Linux name of {@linkcode VIRTQ_DESC_F_INDIRECT}. */
export const VRING_DESC_F_INDIRECT: 4 = VIRTQ_DESC_F_INDIRECT;
/** Linux name of {@linkcode VIRTQ_AVAIL_F_NO_INTERRUPT}. */
export const VRING_AVAIL_F_NO_INTERRUPT: 1 = VIRTQ_AVAIL_F_NO_INTERRUPT;
/** Linux name of {@linkcode VIRTQ_USED_F_NO_NOTIFY}. */
export const VRING_USED_F_NO_NOTIFY: 1 = VIRTQ_USED_F_NO_NOTIFY;

/** Alignment of the descriptor table, in bytes (§2.7, table of part alignments). */
export const VRING_DESC_ALIGN_SIZE = 16;
/** Alignment of the available ring, in bytes (§2.7). */
export const VRING_AVAIL_ALIGN_SIZE = 2;
/** Alignment of the used ring, in bytes (§2.7). */
export const VRING_USED_ALIGN_SIZE = 4;

/** Size of one descriptor (`struct virtq_desc`: le64 addr, le32 len, le16 flags, le16 next), in bytes. */
export const VIRTQ_DESC_SIZE = 16;
/** Size of one used ring element (`struct virtq_used_elem`: le32 id, le32 len), in bytes. */
export const VIRTQ_USED_ELEM_SIZE = 8;
/** Largest Queue Size, in descriptors: the largest power of two below 2^16 (§2.7). */
export const VIRTQ_MAX_SIZE = 32768;
