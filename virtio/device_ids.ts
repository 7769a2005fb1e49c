/**
 * Virtio device IDs (virtio v1.2 §5, "Device Types"), named as in the Linux
 * UAPI header `linux/virtio_ids.h`. This project implements the block device
 * (§5.2) and the console (§5.3); the others are listed so that a driver can
 * name what it finds.
 *
 * @module
 */

/** Reserved: a placeholder window with no device behind it (§4.2.2, DeviceID 0). */
export const VIRTIO_ID_INVALID = 0;
/** Network card. */
export const VIRTIO_ID_NET = 1;
/** Block device (§5.2). */
export const VIRTIO_ID_BLOCK = 2;
/** Console (§5.3). */
export const VIRTIO_ID_CONSOLE = 3;
/** Entropy source. */
export const VIRTIO_ID_RNG = 4;
/** Memory balloon (traditional). */
export const VIRTIO_ID_BALLOON = 5;
/** SCSI host. */
export const VIRTIO_ID_SCSI = 8;
/** 9P transport. */
export const VIRTIO_ID_9P = 9;
/** GPU. */
export const VIRTIO_ID_GPU = 16;
/** Input device. */
export const VIRTIO_ID_INPUT = 18;
/** Socket device. */
export const VIRTIO_ID_VSOCK = 19;
/** Crypto device. */
export const VIRTIO_ID_CRYPTO = 20;
/** IOMMU. */
export const VIRTIO_ID_IOMMU = 23;
/** Memory device. */
export const VIRTIO_ID_MEM = 24;
/** Sound device. */
export const VIRTIO_ID_SOUND = 25;
/** File system device. */
export const VIRTIO_ID_FS = 26;
/** Persistent memory device. */
export const VIRTIO_ID_PMEM = 27;

const NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_ID_INVALID]: "none",
  [VIRTIO_ID_NET]: "virtio-net",
  [VIRTIO_ID_BLOCK]: "virtio-blk",
  [VIRTIO_ID_CONSOLE]: "virtio-console",
  [VIRTIO_ID_RNG]: "virtio-rng",
  [VIRTIO_ID_BALLOON]: "virtio-balloon",
  [VIRTIO_ID_SCSI]: "virtio-scsi",
  [VIRTIO_ID_9P]: "virtio-9p",
  [VIRTIO_ID_GPU]: "virtio-gpu",
  [VIRTIO_ID_INPUT]: "virtio-input",
  [VIRTIO_ID_VSOCK]: "virtio-vsock",
  [VIRTIO_ID_CRYPTO]: "virtio-crypto",
  [VIRTIO_ID_IOMMU]: "virtio-iommu",
  [VIRTIO_ID_MEM]: "virtio-mem",
  [VIRTIO_ID_SOUND]: "virtio-sound",
  [VIRTIO_ID_FS]: "virtio-fs",
  [VIRTIO_ID_PMEM]: "virtio-pmem",
};

/**
 * A short human name for a device ID, such as `"virtio-blk"`.
 *
 * @param id The 32-bit DeviceID register value.
 * @returns The name, or `"device 0x…"` for IDs this table does not know.
 */
export function deviceIdName(id: number): string {
  return NAMES[id] ?? `device 0x${id.toString(16)}`;
}
