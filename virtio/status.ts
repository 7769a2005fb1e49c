/**
 * The device status field (virtio v1.2 §2.1) and its bits, named as in the
 * Linux UAPI header `linux/virtio_config.h`.
 *
 * The status byte records how far the driver got in the initialization
 * sequence of §3.1.1. The driver only ever sets bits (§2.1.1/2); writing 0
 * resets the device (§2.4).
 *
 * @module
 */

/** The guest OS has found the device and recognised it as a virtio device (§2.1). */
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 0x01;
/** The guest OS knows how to drive the device (§2.1). */
export const VIRTIO_CONFIG_S_DRIVER = 0x02;
/** The driver is set up and ready to drive the device (§2.1). */
export const VIRTIO_CONFIG_S_DRIVER_OK = 0x04;
/** The driver has acknowledged the features it understands; negotiation is complete (§2.1). */
export const VIRTIO_CONFIG_S_FEATURES_OK = 0x08;
/** The device hit an error it cannot recover from without a reset (§2.1). */
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
/**
 * The spec's own name for {@linkcode VIRTIO_CONFIG_S_NEEDS_RESET} (§2.1 calls
 * the bit DEVICE_NEEDS_RESET; Linux calls it `VIRTIO_CONFIG_S_NEEDS_RESET`).
 */
export const VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET: number = VIRTIO_CONFIG_S_NEEDS_RESET;
/** Something went wrong in the guest and it has given up on the device (§2.1). */
export const VIRTIO_CONFIG_S_FAILED = 0x80;

/** Every bit §2.1 defines, in ascending order, with the spec's short names. */
export const STATUS_BITS: readonly { readonly bit: number; readonly name: string }[] = [
  { bit: VIRTIO_CONFIG_S_ACKNOWLEDGE, name: "ACKNOWLEDGE" },
  { bit: VIRTIO_CONFIG_S_DRIVER, name: "DRIVER" },
  { bit: VIRTIO_CONFIG_S_DRIVER_OK, name: "DRIVER_OK" },
  { bit: VIRTIO_CONFIG_S_FEATURES_OK, name: "FEATURES_OK" },
  { bit: VIRTIO_CONFIG_S_NEEDS_RESET, name: "DEVICE_NEEDS_RESET" },
  { bit: VIRTIO_CONFIG_S_FAILED, name: "FAILED" },
];

/** Mask of all defined status bits (0xcf); bits 4 and 5 are reserved. */
export const STATUS_DEFINED_MASK: number = STATUS_BITS.reduce((m, b) => m | b.bit, 0);

/**
 * Names the bits set in a status byte, in ascending bit order.
 *
 * @param status The 8-bit device status value.
 * @returns For example `"ACKNOWLEDGE|DRIVER"`, `"0 (reset)"` for zero, and
 *   `"bit4"` style names for reserved bits.
 * @example
 * ```ts
 * import { formatStatus } from "./status.ts";
 * formatStatus(0x03); // "ACKNOWLEDGE|DRIVER"
 * ```
 */
export function formatStatus(status: number): string {
  if (status === 0) return "0 (reset)";
  const names: string[] = [];
  for (let bit = 0; bit < 8; bit++) {
    const mask = 1 << bit;
    if ((status & mask) === 0) continue;
    const known = STATUS_BITS.find((b) => b.bit === mask);
    names.push(known ? known.name : `bit${bit}`);
  }
  return names.join("|");
}
