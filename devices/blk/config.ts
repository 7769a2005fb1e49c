/**
 * The block device's configuration space (virtio v1.2 §5.2.4), both
 * halves: the device lays out `struct virtio_blk_config`
 * ({@linkcode blockConfigSpace}); the driver reads the fields it needs, each
 * only when its feature was negotiated ({@linkcode readBlockConfig}).
 *
 * @module
 */

import type { ConformanceReporter } from "../../conformance/log.ts";
import { hasFeature } from "../../virtio/features.ts";
import type { VirtioDriverContext } from "../../virtio/driver.ts";
import {
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_BLK_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_CONFIG_UNUSED0,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
} from "./constants.ts";

/** The fields of `struct virtio_blk_config` this lab uses. */
export interface BlockConfig {
  /** `capacity`: the disk size in 512-byte sectors, always present. */
  readonly capacity: bigint;
  /** `size_max`: largest data segment in bytes, or `null` without VIRTIO_BLK_F_SIZE_MAX. */
  readonly sizeMax: number | null;
  /** `seg_max`: most data segments per request, or `null` without VIRTIO_BLK_F_SEG_MAX. */
  readonly segMax: number | null;
  /** `blk_size`: the optimal block size in bytes, or `null` without VIRTIO_BLK_F_BLK_SIZE. */
  readonly blkSize: number | null;
}

/**
 * Lays out `struct virtio_blk_config` (§5.2.4) for the device: `capacity`
 * (le64, in 512-byte sectors, whatever `blk_size` says), `size_max`,
 * `seg_max`, `blk_size` (le32 each) at their offsets; every other byte,
 * `unused0` and `unused1` included, is 0 (5.2.5.2/3). A field whose feature
 * is not offered may be `null`: it then reads 0.
 *
 * @param config The values.
 * @returns The 72 configuration bytes, little-endian.
 * @throws {RangeError} If a value does not fit its field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockConfigSpace } from "./config.ts";
 * const bytes = blockConfigSpace({ capacity: 2n ** 33n, sizeMax: 65536, segMax: 126, blkSize: 512 });
 * const view = new DataView(bytes.buffer);
 * assert.equal(view.getUint32(0, true), 0); // capacity, low half
 * assert.equal(view.getUint32(4, true), 2); // capacity, high half: 2^33 sectors
 * assert.equal(view.getUint32(12, true), 126); // seg_max
 * ```
 */
export function blockConfigSpace(config: BlockConfig): Uint8Array {
  const bytes = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  const view = new DataView(bytes.buffer);
  if (config.capacity < 0n || config.capacity >= 2n ** 64n) {
    throw new RangeError(`Block capacity ${config.capacity} does not fit a le64`);
  }
  view.setBigUint64(VIRTIO_BLK_CONFIG_CAPACITY, config.capacity, true);
  const u32 = (offset: number, name: string, value: number | null) => {
    if (value === null) return;
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new RangeError(`Block configuration field ${name} ${value} does not fit a le32`);
    }
    view.setUint32(offset, value, true);
  };
  u32(VIRTIO_BLK_CONFIG_SIZE_MAX, "size_max", config.sizeMax);
  u32(VIRTIO_BLK_CONFIG_SEG_MAX, "seg_max", config.segMax);
  u32(VIRTIO_BLK_CONFIG_BLK_SIZE, "blk_size", config.blkSize);
  return bytes;
}

/** What {@linkcode readBlockConfig} needs of the bound device. */
export type BlockConfigReader = Pick<
  VirtioDriverContext,
  "features" | "reporter" | "readConfig" | "readConfig64" | "readConfigConsistent"
>;

/**
 * Reads the block configuration for the driver (§5.2.4, §5.2.5): `capacity`
 * as two 32-bit halves (`readConfig64`), and `size_max`, `seg_max`,
 * `blk_size` only when their feature was negotiated (a field without its
 * feature does not exist, 2.5.1/1), all under the `ConfigGeneration` loop so
 * the halves and the fields come from one consistent snapshot (§2.5.1). It
 * also checks that the padding byte `unused0` reads 0 (5.2.5.2/3: reported,
 * then ignored).
 *
 * @param device The bound device.
 * @returns The fields as read (nothing is clamped or defaulted here).
 * @throws {RangeError} If `blk_size` is not a power of two from 512 to 65536:
 *   the device is unusable.
 * @throws {ConformanceError} When the log is strict and `unused0` is not 0.
 */
export function readBlockConfig(device: BlockConfigReader): BlockConfig {
  const negotiated = device.features;
  const config = device.readConfigConsistent(() => ({
    capacity: device.readConfig64(VIRTIO_BLK_CONFIG_CAPACITY),
    sizeMax: hasFeature(negotiated, VIRTIO_BLK_F_SIZE_MAX)
      ? device.readConfig(VIRTIO_BLK_CONFIG_SIZE_MAX, 4)
      : null,
    segMax: hasFeature(negotiated, VIRTIO_BLK_F_SEG_MAX)
      ? device.readConfig(VIRTIO_BLK_CONFIG_SEG_MAX, 4)
      : null,
    blkSize: hasFeature(negotiated, VIRTIO_BLK_F_BLK_SIZE)
      ? device.readConfig(VIRTIO_BLK_CONFIG_BLK_SIZE, 4)
      : null,
    unused0: device.readConfig(VIRTIO_BLK_CONFIG_UNUSED0, 1),
  }));
  if (config.unused0 !== 0) {
    reportUnused0(device.reporter, config.unused0);
  }
  const blk = config.blkSize;
  if (blk !== null && (blk < SECTOR_SIZE || blk > 65536 || (blk & (blk - 1)) !== 0)) {
    throw new RangeError(`blk_size ${blk} is not a power of two from 512 to 65536`);
  }
  return {
    capacity: config.capacity,
    sizeMax: config.sizeMax,
    segMax: config.segMax,
    blkSize: config.blkSize,
  };
}

function reportUnused0(reporter: ConformanceReporter, value: number): void {
  reporter.report(
    "5.2.5.2/3",
    `Padding byte unused0 of the block configuration reads ${value}, not 0`,
    { offset: VIRTIO_BLK_CONFIG_UNUSED0, value },
    "ignored",
  );
}
