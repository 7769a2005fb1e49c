/**
 * Constants and layouts of the virtio block device (virtio v1.2 §5.2), named
 * as in the spec and in the Linux UAPI header `linux/virtio_blk.h`, and
 * checked against both (offsets of struct virtio_blk_config match the packed
 * C struct).
 *
 * @module
 */

import type { ConfigField } from "../../virtio/device.ts";

// ------------------------------------------------------------ feature bits

/** Largest size of one data segment is in `size_max` (§5.2.3). */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
/** Largest number of data segments in one request is in `seg_max` (§5.2.3). */
export const VIRTIO_BLK_F_SEG_MAX = 2;
/** Legacy disk geometry is in `geometry` (§5.2.3). */
export const VIRTIO_BLK_F_GEOMETRY = 4;
/** The device is read-only (§5.2.3). */
export const VIRTIO_BLK_F_RO = 5;
/** The optimal block size is in `blk_size` (§5.2.3). */
export const VIRTIO_BLK_F_BLK_SIZE = 6;
/** VIRTIO_BLK_T_FLUSH is supported (§5.2.3; legacy name VIRTIO_BLK_F_WCE). */
export const VIRTIO_BLK_F_FLUSH = 9;
/** I/O alignment hints are in `topology` (§5.2.3). */
export const VIRTIO_BLK_F_TOPOLOGY = 10;
/** The cache mode can be read and toggled through `writeback` (§5.2.3). */
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
/** More than one request queue; their number is in `num_queues` (§5.2.3). */
export const VIRTIO_BLK_F_MQ = 12;
/** VIRTIO_BLK_T_DISCARD is supported (§5.2.3). */
export const VIRTIO_BLK_F_DISCARD = 13;
/** VIRTIO_BLK_T_WRITE_ZEROES is supported (§5.2.3). */
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
/** VIRTIO_BLK_T_GET_LIFETIME is supported (§5.2.3). */
export const VIRTIO_BLK_F_LIFETIME = 15;
/** VIRTIO_BLK_T_SECURE_ERASE is supported (§5.2.3). */
export const VIRTIO_BLK_F_SECURE_ERASE = 16;
/** Legacy: request barriers (§5.2.3.1). */
export const VIRTIO_BLK_F_BARRIER = 0;
/** Legacy: SCSI packet commands (§5.2.3.1). */
export const VIRTIO_BLK_F_SCSI = 7;
/** Old name of {@linkcode VIRTIO_BLK_F_FLUSH}. */
export const VIRTIO_BLK_F_WCE: number = VIRTIO_BLK_F_FLUSH;

/** Names of the block device's feature bits, by bit number. */
export const VIRTIO_BLK_FEATURE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [VIRTIO_BLK_F_BARRIER]: "VIRTIO_BLK_F_BARRIER",
  [VIRTIO_BLK_F_SIZE_MAX]: "VIRTIO_BLK_F_SIZE_MAX",
  [VIRTIO_BLK_F_SEG_MAX]: "VIRTIO_BLK_F_SEG_MAX",
  [VIRTIO_BLK_F_GEOMETRY]: "VIRTIO_BLK_F_GEOMETRY",
  [VIRTIO_BLK_F_RO]: "VIRTIO_BLK_F_RO",
  [VIRTIO_BLK_F_BLK_SIZE]: "VIRTIO_BLK_F_BLK_SIZE",
  [VIRTIO_BLK_F_SCSI]: "VIRTIO_BLK_F_SCSI",
  [VIRTIO_BLK_F_FLUSH]: "VIRTIO_BLK_F_FLUSH",
  [VIRTIO_BLK_F_TOPOLOGY]: "VIRTIO_BLK_F_TOPOLOGY",
  [VIRTIO_BLK_F_CONFIG_WCE]: "VIRTIO_BLK_F_CONFIG_WCE",
  [VIRTIO_BLK_F_MQ]: "VIRTIO_BLK_F_MQ",
  [VIRTIO_BLK_F_DISCARD]: "VIRTIO_BLK_F_DISCARD",
  [VIRTIO_BLK_F_WRITE_ZEROES]: "VIRTIO_BLK_F_WRITE_ZEROES",
  [VIRTIO_BLK_F_LIFETIME]: "VIRTIO_BLK_F_LIFETIME",
  [VIRTIO_BLK_F_SECURE_ERASE]: "VIRTIO_BLK_F_SECURE_ERASE",
});

// ----------------------------------------------------------- request types

/** Read sectors into the data buffers (§5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
/** Write the data buffers to sectors (§5.2.6). */
export const VIRTIO_BLK_T_OUT = 1;
/** Legacy: SCSI packet command (§5.2.6.3). */
export const VIRTIO_BLK_T_SCSI_CMD = 2;
/** Legacy: SCSI packet command, the same as {@linkcode VIRTIO_BLK_T_SCSI_CMD} (§5.2.6.3). */
export const VIRTIO_BLK_T_SCSI_CMD_OUT = 3;
/** Commit volatile writes to stable storage (§5.2.6). */
export const VIRTIO_BLK_T_FLUSH = 4;
/** Legacy synonym of {@linkcode VIRTIO_BLK_T_FLUSH} (§5.2.6.3). */
export const VIRTIO_BLK_T_FLUSH_OUT = 5;
/** Fetch the 20-byte device ID string (§5.2.6). */
export const VIRTIO_BLK_T_GET_ID = 8;
/** Fetch struct virtio_blk_lifetime (§5.2.6). */
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
/** Discard ranges (§5.2.6). */
export const VIRTIO_BLK_T_DISCARD = 11;
/** Zero ranges (§5.2.6). */
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
/** Securely erase ranges (§5.2.6). */
export const VIRTIO_BLK_T_SECURE_ERASE = 14;
/** Legacy: the request is a barrier (high bit of `type`, §5.2.6.3). */
export const VIRTIO_BLK_T_BARRIER = 0x8000_0000;

/** Names of the request types, by value. */
export const VIRTIO_BLK_T_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [VIRTIO_BLK_T_IN]: "VIRTIO_BLK_T_IN",
  [VIRTIO_BLK_T_OUT]: "VIRTIO_BLK_T_OUT",
  [VIRTIO_BLK_T_SCSI_CMD]: "VIRTIO_BLK_T_SCSI_CMD",
  [VIRTIO_BLK_T_SCSI_CMD_OUT]: "VIRTIO_BLK_T_SCSI_CMD_OUT",
  [VIRTIO_BLK_T_FLUSH]: "VIRTIO_BLK_T_FLUSH",
  [VIRTIO_BLK_T_FLUSH_OUT]: "VIRTIO_BLK_T_FLUSH_OUT",
  [VIRTIO_BLK_T_GET_ID]: "VIRTIO_BLK_T_GET_ID",
  [VIRTIO_BLK_T_GET_LIFETIME]: "VIRTIO_BLK_T_GET_LIFETIME",
  [VIRTIO_BLK_T_DISCARD]: "VIRTIO_BLK_T_DISCARD",
  [VIRTIO_BLK_T_WRITE_ZEROES]: "VIRTIO_BLK_T_WRITE_ZEROES",
  [VIRTIO_BLK_T_SECURE_ERASE]: "VIRTIO_BLK_T_SECURE_ERASE",
});

/**
 * A request type's name, such as `"VIRTIO_BLK_T_IN"`.
 *
 * @param type The 32-bit `type` field.
 * @returns The name, or `"type 0x…"` for types this table does not know.
 */
export function blkRequestTypeName(type: number): string {
  return VIRTIO_BLK_T_NAMES[type] ?? `type 0x${(type >>> 0).toString(16)}`;
}

// ------------------------------------------------------------ status codes

/** The request succeeded (§5.2.6). */
export const VIRTIO_BLK_S_OK = 0;
/** Device or driver error (§5.2.6). */
export const VIRTIO_BLK_S_IOERR = 1;
/** The device does not support the request (§5.2.6). */
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Names of the status codes, by value. */
export const VIRTIO_BLK_S_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [VIRTIO_BLK_S_OK]: "VIRTIO_BLK_S_OK",
  [VIRTIO_BLK_S_IOERR]: "VIRTIO_BLK_S_IOERR",
  [VIRTIO_BLK_S_UNSUPP]: "VIRTIO_BLK_S_UNSUPP",
});

/**
 * A status code's name, such as `"VIRTIO_BLK_S_IOERR"`.
 *
 * @param status The status byte.
 */
export function blkStatusName(status: number): string {
  return VIRTIO_BLK_S_NAMES[status] ?? `status 0x${status.toString(16)}`;
}

// ------------------------------------------------------- sizes and layouts

/** The protocol's sector size, in bytes: every `sector` and `capacity` counts these (§5.2.4). */
export const SECTOR_SIZE = 512;
/** log2 of {@linkcode SECTOR_SIZE} (Linux's `SECTOR_SHIFT`). */
export const SECTOR_SHIFT = 9;
/** Length of the device ID string of VIRTIO_BLK_T_GET_ID, in bytes (§5.2.6). */
export const VIRTIO_BLK_ID_BYTES = 20;

/** Size of the device-readable head of struct virtio_blk_req (type, reserved, sector), in bytes. */
export const VIRTIO_BLK_REQ_HEADER_SIZE = 16;
/** Offset of `type` (le32) in the request header. */
export const VIRTIO_BLK_REQ_TYPE_OFFSET = 0;
/** Offset of `reserved` (le32; legacy `ioprio`) in the request header. */
export const VIRTIO_BLK_REQ_RESERVED_OFFSET = 4;
/** Offset of `sector` (le64) in the request header. */
export const VIRTIO_BLK_REQ_SECTOR_OFFSET = 8;
/** Size of the device-writable `status` at the end of a request, in bytes. */
export const VIRTIO_BLK_REQ_STATUS_SIZE = 1;

/** Size of struct virtio_blk_discard_write_zeroes (sector le64, num_sectors le32, flags le32). */
export const VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE = 16;
/** Offset of `sector` (le64, 512-byte units) in a discard/write zeroes segment. */
export const VIRTIO_BLK_DWZ_SECTOR_OFFSET = 0;
/** Offset of `num_sectors` (le32) in a discard/write zeroes segment. */
export const VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET = 8;
/** Offset of `flags` (le32: `unmap` in bit 0, 31 reserved bits) in a discard/write zeroes segment. */
export const VIRTIO_BLK_DWZ_FLAGS_OFFSET = 12;
/** The `unmap` flag of a write zeroes segment. */
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 0x1;
/** Size of struct virtio_blk_lifetime (three le16), in bytes. */
export const VIRTIO_BLK_LIFETIME_SIZE = 6;

// struct virtio_blk_config field offsets (§5.2.4), as in the packed C struct.

/** `capacity`, le64, in 512-byte sectors; always present. */
export const VIRTIO_BLK_CONFIG_CAPACITY = 0;
/** `size_max`, le32, bytes per data segment (VIRTIO_BLK_F_SIZE_MAX). */
export const VIRTIO_BLK_CONFIG_SIZE_MAX = 8;
/** `seg_max`, le32, data segments per request (VIRTIO_BLK_F_SEG_MAX). */
export const VIRTIO_BLK_CONFIG_SEG_MAX = 12;
/** `geometry.cylinders`, le16 (VIRTIO_BLK_F_GEOMETRY). */
export const VIRTIO_BLK_CONFIG_GEOMETRY_CYLINDERS = 16;
/** `geometry.heads`, u8. */
export const VIRTIO_BLK_CONFIG_GEOMETRY_HEADS = 18;
/** `geometry.sectors`, u8. */
export const VIRTIO_BLK_CONFIG_GEOMETRY_SECTORS = 19;
/** `blk_size`, le32, bytes (VIRTIO_BLK_F_BLK_SIZE). */
export const VIRTIO_BLK_CONFIG_BLK_SIZE = 20;
/** `topology.physical_block_exp`, u8 (VIRTIO_BLK_F_TOPOLOGY). */
export const VIRTIO_BLK_CONFIG_PHYSICAL_BLOCK_EXP = 24;
/** `topology.alignment_offset`, u8. */
export const VIRTIO_BLK_CONFIG_ALIGNMENT_OFFSET = 25;
/** `topology.min_io_size`, le16, in logical blocks. */
export const VIRTIO_BLK_CONFIG_MIN_IO_SIZE = 26;
/** `topology.opt_io_size`, le32, in logical blocks. */
export const VIRTIO_BLK_CONFIG_OPT_IO_SIZE = 28;
/** `writeback`, u8, 0 writethrough / 1 writeback (VIRTIO_BLK_F_CONFIG_WCE; Linux `wce`). */
export const VIRTIO_BLK_CONFIG_WRITEBACK = 32;
/** `unused0`, u8 padding, reads 0 (5.2.5.2/3). */
export const VIRTIO_BLK_CONFIG_UNUSED0 = 33;
/** `num_queues`, le16 (VIRTIO_BLK_F_MQ). */
export const VIRTIO_BLK_CONFIG_NUM_QUEUES = 34;
/** `max_discard_sectors`, le32 (VIRTIO_BLK_F_DISCARD). */
export const VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS = 36;
/** `max_discard_seg`, le32. */
export const VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG = 40;
/** `discard_sector_alignment`, le32. */
export const VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT = 44;
/** `max_write_zeroes_sectors`, le32 (VIRTIO_BLK_F_WRITE_ZEROES). */
export const VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;
/** `max_write_zeroes_seg`, le32. */
export const VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG = 52;
/** `write_zeroes_may_unmap`, u8. */
export const VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;
/** `unused1[3]`, u8 padding, reads 0 (5.2.5.2/3). */
export const VIRTIO_BLK_CONFIG_UNUSED1 = 57;
/** `max_secure_erase_sectors`, le32 (VIRTIO_BLK_F_SECURE_ERASE). */
export const VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SECTORS = 60;
/** `max_secure_erase_seg`, le32. */
export const VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SEG = 64;
/** `secure_erase_sector_alignment`, le32. */
export const VIRTIO_BLK_CONFIG_SECURE_ERASE_SECTOR_ALIGNMENT = 68;
/** Size of struct virtio_blk_config, in bytes. */
export const VIRTIO_BLK_CONFIG_SIZE = 72;

/**
 * struct virtio_blk_config (§5.2.4) as the transport sees it: each field
 * with its offset, size and the feature it depends on. Nested structs
 * (`geometry`, `topology`) are listed field by field, and `unused1[3]` as
 * three bytes, because the access-width rule (§4.2.2.2) applies per field.
 */
export const VIRTIO_BLK_CONFIG_LAYOUT: readonly ConfigField[] = Object.freeze(
  [
    { name: "capacity", offset: VIRTIO_BLK_CONFIG_CAPACITY, size: 8 },
    {
      name: "size_max",
      offset: VIRTIO_BLK_CONFIG_SIZE_MAX,
      size: 4,
      feature: VIRTIO_BLK_F_SIZE_MAX,
    },
    { name: "seg_max", offset: VIRTIO_BLK_CONFIG_SEG_MAX, size: 4, feature: VIRTIO_BLK_F_SEG_MAX },
    {
      name: "geometry.cylinders",
      offset: VIRTIO_BLK_CONFIG_GEOMETRY_CYLINDERS,
      size: 2,
      feature: VIRTIO_BLK_F_GEOMETRY,
    },
    {
      name: "geometry.heads",
      offset: VIRTIO_BLK_CONFIG_GEOMETRY_HEADS,
      size: 1,
      feature: VIRTIO_BLK_F_GEOMETRY,
    },
    {
      name: "geometry.sectors",
      offset: VIRTIO_BLK_CONFIG_GEOMETRY_SECTORS,
      size: 1,
      feature: VIRTIO_BLK_F_GEOMETRY,
    },
    {
      name: "blk_size",
      offset: VIRTIO_BLK_CONFIG_BLK_SIZE,
      size: 4,
      feature: VIRTIO_BLK_F_BLK_SIZE,
    },
    {
      name: "topology.physical_block_exp",
      offset: VIRTIO_BLK_CONFIG_PHYSICAL_BLOCK_EXP,
      size: 1,
      feature: VIRTIO_BLK_F_TOPOLOGY,
    },
    {
      name: "topology.alignment_offset",
      offset: VIRTIO_BLK_CONFIG_ALIGNMENT_OFFSET,
      size: 1,
      feature: VIRTIO_BLK_F_TOPOLOGY,
    },
    {
      name: "topology.min_io_size",
      offset: VIRTIO_BLK_CONFIG_MIN_IO_SIZE,
      size: 2,
      feature: VIRTIO_BLK_F_TOPOLOGY,
    },
    {
      name: "topology.opt_io_size",
      offset: VIRTIO_BLK_CONFIG_OPT_IO_SIZE,
      size: 4,
      feature: VIRTIO_BLK_F_TOPOLOGY,
    },
    {
      name: "writeback",
      offset: VIRTIO_BLK_CONFIG_WRITEBACK,
      size: 1,
      feature: VIRTIO_BLK_F_CONFIG_WCE,
      writable: true,
    },
    { name: "unused0", offset: VIRTIO_BLK_CONFIG_UNUSED0, size: 1 },
    { name: "num_queues", offset: VIRTIO_BLK_CONFIG_NUM_QUEUES, size: 2, feature: VIRTIO_BLK_F_MQ },
    {
      name: "max_discard_sectors",
      offset: VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,
      size: 4,
      feature: VIRTIO_BLK_F_DISCARD,
    },
    {
      name: "max_discard_seg",
      offset: VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG,
      size: 4,
      feature: VIRTIO_BLK_F_DISCARD,
    },
    {
      name: "discard_sector_alignment",
      offset: VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
      size: 4,
      feature: VIRTIO_BLK_F_DISCARD,
    },
    {
      name: "max_write_zeroes_sectors",
      offset: VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
      size: 4,
      feature: VIRTIO_BLK_F_WRITE_ZEROES,
    },
    {
      name: "max_write_zeroes_seg",
      offset: VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG,
      size: 4,
      feature: VIRTIO_BLK_F_WRITE_ZEROES,
    },
    {
      name: "write_zeroes_may_unmap",
      offset: VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,
      size: 1,
      feature: VIRTIO_BLK_F_WRITE_ZEROES,
    },
    { name: "unused1[0]", offset: VIRTIO_BLK_CONFIG_UNUSED1, size: 1 },
    { name: "unused1[1]", offset: VIRTIO_BLK_CONFIG_UNUSED1 + 1, size: 1 },
    { name: "unused1[2]", offset: VIRTIO_BLK_CONFIG_UNUSED1 + 2, size: 1 },
    {
      name: "max_secure_erase_sectors",
      offset: VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SECTORS,
      size: 4,
      feature: VIRTIO_BLK_F_SECURE_ERASE,
    },
    {
      name: "max_secure_erase_seg",
      offset: VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SEG,
      size: 4,
      feature: VIRTIO_BLK_F_SECURE_ERASE,
    },
    {
      name: "secure_erase_sector_alignment",
      offset: VIRTIO_BLK_CONFIG_SECURE_ERASE_SECTOR_ALIGNMENT,
      size: 4,
      feature: VIRTIO_BLK_F_SECURE_ERASE,
    },
  ] satisfies ConfigField[],
);
