/**
 * Feature bits: the 64-bit feature words of virtio v1.2 §2.2 and the reserved,
 * device-independent bits of chapter 6, named as in the Linux UAPI headers
 * `linux/virtio_config.h` and `linux/virtio_ring.h`.
 *
 * Feature bit constants are bit numbers (like the C headers); feature words
 * are `bigint`s holding up to 64 bits. Use {@linkcode featureMask} to go from
 * one to the other.
 *
 * @module
 */

/** First bit number reserved for transport and ring features (chapter 6). */
export const VIRTIO_TRANSPORT_F_START: number = 28;
/** One past the last reserved transport feature bit (chapter 6; Linux's bound). */
export const VIRTIO_TRANSPORT_F_END: number = 41;

/** Drivers may use descriptors with `VIRTQ_DESC_F_INDIRECT` (§2.7.5.3, chapter 6). */
export const VIRTIO_F_INDIRECT_DESC = 28;
/** `used_event` and `avail_event` replace the flag-based suppression (§2.7.7, §2.7.10). */
export const VIRTIO_F_EVENT_IDX = 29;
/** The device complies with virtio 1.0 or later, not the legacy interface (chapter 6). */
export const VIRTIO_F_VERSION_1 = 32;
/** The device is behind an IOMMU or otherwise restricted platform access (chapter 6). */
export const VIRTIO_F_ACCESS_PLATFORM = 33;
/** The packed virtqueue layout is supported (§2.8). */
export const VIRTIO_F_RING_PACKED = 34;
/** Buffers are used in the order they were made available (§2.7.9). */
export const VIRTIO_F_IN_ORDER = 35;
/** Memory accesses need the platform's ordering, as for real hardware (chapter 6). */
export const VIRTIO_F_ORDER_PLATFORM = 36;
/** The device supports single root I/O virtualization (PCI only, chapter 6). */
export const VIRTIO_F_SR_IOV = 37;
/** Available buffer notifications carry extra data (§2.9). */
export const VIRTIO_F_NOTIFICATION_DATA = 38;
/** The driver uses the device-supplied notification value (chapter 6). */
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
/** Individual virtqueues can be reset (§2.6.1, `QueueReset` in §4.2.2). */
export const VIRTIO_F_RING_RESET = 40;

/** Linux's older name for {@linkcode VIRTIO_F_ACCESS_PLATFORM} (`linux/virtio_config.h`). */
export const VIRTIO_F_IOMMU_PLATFORM: number = VIRTIO_F_ACCESS_PLATFORM;
/** Linux `linux/virtio_ring.h` name for {@linkcode VIRTIO_F_INDIRECT_DESC}. */
export const VIRTIO_RING_F_INDIRECT_DESC: number = VIRTIO_F_INDIRECT_DESC;
/** Linux `linux/virtio_ring.h` name for {@linkcode VIRTIO_F_EVENT_IDX}. */
export const VIRTIO_RING_F_EVENT_IDX: number = VIRTIO_F_EVENT_IDX;

/** Names of the reserved feature bits of chapter 6, by bit number. */
export const RESERVED_FEATURE_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_F_INDIRECT_DESC]: "VIRTIO_F_INDIRECT_DESC",
  [VIRTIO_F_EVENT_IDX]: "VIRTIO_F_EVENT_IDX",
  [VIRTIO_F_VERSION_1]: "VIRTIO_F_VERSION_1",
  [VIRTIO_F_ACCESS_PLATFORM]: "VIRTIO_F_ACCESS_PLATFORM",
  [VIRTIO_F_RING_PACKED]: "VIRTIO_F_RING_PACKED",
  [VIRTIO_F_IN_ORDER]: "VIRTIO_F_IN_ORDER",
  [VIRTIO_F_ORDER_PLATFORM]: "VIRTIO_F_ORDER_PLATFORM",
  [VIRTIO_F_SR_IOV]: "VIRTIO_F_SR_IOV",
  [VIRTIO_F_NOTIFICATION_DATA]: "VIRTIO_F_NOTIFICATION_DATA",
  [VIRTIO_F_NOTIF_CONFIG_DATA]: "VIRTIO_F_NOTIF_CONFIG_DATA",
  [VIRTIO_F_RING_RESET]: "VIRTIO_F_RING_RESET",
};

/**
 * The single-bit mask of a feature bit number.
 *
 * @param bit A feature bit number, 0 to 63.
 * @returns `1n << bit` as a 64-bit feature word.
 * @throws {RangeError} If `bit` is not an integer in 0..63.
 * @example
 * ```ts
 * import { featureMask, VIRTIO_F_VERSION_1 } from "./features.ts";
 * featureMask(VIRTIO_F_VERSION_1); // 0x1_0000_0000n
 * ```
 */
export function featureMask(bit: number): bigint {
  if (!Number.isInteger(bit) || bit < 0 || bit > 63) {
    throw new RangeError(`Feature bit ${bit} is outside 0..63`);
  }
  return 1n << BigInt(bit);
}

/**
 * Builds a feature word from bit numbers.
 *
 * @param bits Feature bit numbers, 0 to 63.
 * @returns The OR of their masks.
 * @throws {RangeError} If any bit is outside 0..63.
 */
export function features(...bits: number[]): bigint {
  let word = 0n;
  for (const bit of bits) word |= featureMask(bit);
  return word;
}

/**
 * Whether a feature word has a bit set.
 *
 * @param word A 64-bit feature word.
 * @param bit A feature bit number, 0 to 63.
 */
export function hasFeature(word: bigint, bit: number): boolean {
  return (word & featureMask(bit)) !== 0n;
}

/**
 * The 32-bit half of a feature word that `*FeaturesSel` selects (§4.2.2).
 *
 * @param word A 64-bit feature word.
 * @param select 0 for bits 0..31, 1 for bits 32..63; any other selector
 *   addresses bits that do not exist and yields 0.
 * @returns An unsigned 32-bit number.
 */
export function featureWord(word: bigint, select: number): number {
  if (select !== 0 && select !== 1) return 0;
  return Number((word >> BigInt(32 * select)) & 0xffff_ffffn);
}

/**
 * Replaces one 32-bit half of a feature word (what a write to
 * `DriverFeatures` does after `DriverFeaturesSel`, §4.2.2).
 *
 * @param word The current 64-bit feature word.
 * @param select 0 for bits 0..31, 1 for bits 32..63.
 * @param value The unsigned 32-bit value written.
 * @returns The new 64-bit word.
 * @throws {RangeError} If `select` is not 0 or 1.
 */
export function withFeatureWord(word: bigint, select: number, value: number): bigint {
  if (select !== 0 && select !== 1) {
    throw new RangeError(`Feature word selector ${select} is not 0 or 1`);
  }
  const shift = BigInt(32 * select);
  const cleared = word & ~(0xffff_ffffn << shift);
  return cleared | (BigInt(value >>> 0) << shift);
}

/**
 * Names every bit set in a feature word.
 *
 * @param word A 64-bit feature word.
 * @param deviceNames Names of the device-specific bits (0..27, 41..63), by bit.
 * @returns Names in ascending bit order; unknown bits appear as `"bit N"`.
 */
export function featureNames(
  word: bigint,
  deviceNames: Readonly<Record<number, string>> = {},
): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((word & (1n << BigInt(bit))) === 0n) continue;
    const reserved = bit >= VIRTIO_TRANSPORT_F_START && bit < VIRTIO_TRANSPORT_F_END;
    const name = reserved
      ? RESERVED_FEATURE_NAMES[bit] ?? deviceNames[bit]
      : deviceNames[bit] ?? RESERVED_FEATURE_NAMES[bit];
    names.push(name ?? `bit ${bit}`);
  }
  return names;
}

/**
 * Formats a feature word as 64-bit hex, such as `0x0000000100000260`.
 *
 * @param word A 64-bit feature word.
 */
export function formatFeatures(word: bigint): string {
  return `0x${word.toString(16).padStart(16, "0")}`;
}
