/**
 * The reference devices of virtio-lab: virtio-console (virtio v1.2 §5.3) and
 * virtio-blk (§5.2), each a device model (plugs into `MmioDeviceTransport`
 * as a `VirtioDevice`), a driver (binds through `VirtioBus` as a
 * `VirtioDriver`) and backends (terminal, Unix socket, memory, image file).
 *
 * @module
 */

import { VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE } from "../virtio/device_ids.ts";
import type { DriverRegistration } from "../virtio/driver.ts";
import { VirtioBlockDriver, type VirtioBlockDriverOptions } from "./blk/driver.ts";
import { VirtioConsoleDriver, type VirtioConsoleDriverOptions } from "./console/driver.ts";

export { abortError, ConfigSpace, VIRTIO_LAB_VENDOR_ID } from "./common.ts";

// ----------------------------------------------------------------- console

export {
  portReceiveq,
  portTransmitq,
  VIRTIO_CONSOLE_BAD_ID,
  VIRTIO_CONSOLE_CONFIG_COLS,
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_CONFIG_LAYOUT,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONFIG_ROWS,
  VIRTIO_CONSOLE_CONFIG_SIZE,
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_CONTROL_EVENT_NAMES,
  VIRTIO_CONSOLE_CONTROL_RECEIVEQ,
  VIRTIO_CONSOLE_CONTROL_SIZE,
  VIRTIO_CONSOLE_CONTROL_TRANSMITQ,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_DEVICE_REMOVE,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_FEATURE_NAMES,
  VIRTIO_CONSOLE_PORT_ADD,
  VIRTIO_CONSOLE_PORT_NAME,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_PORT_REMOVE,
  VIRTIO_CONSOLE_RECEIVEQ,
  VIRTIO_CONSOLE_RESIZE,
  VIRTIO_CONSOLE_RESIZE_SIZE,
  VIRTIO_CONSOLE_TRANSMITQ,
} from "./console/constants.ts";
export {
  type ConsoleBackend,
  ConsoleBackendError,
  type ConsoleResizeListener,
  type ConsoleSize,
  EchoConsoleBackend,
  MemoryConsoleBackend,
  type MemoryConsoleBackendOptions,
  TerminalConsoleBackend,
  type TerminalConsoleBackendOptions,
  UnixSocketConsoleBackend,
} from "./console/backends.ts";
export {
  type ConsoleDevicePortInfo,
  type ConsoleDeviceStats,
  type ConsolePortOptions,
  MAX_CONSOLE_PORTS,
  VirtioConsoleDevice,
  type VirtioConsoleDeviceOptions,
} from "./console/device.ts";
export {
  ConsoleDriverError,
  type ConsolePortStats,
  VirtioConsoleDriver,
  type VirtioConsoleDriverOptions,
  type VirtioConsolePort,
} from "./console/driver.ts";
export {
  type ConsoleControl,
  decodeControl,
  describeControl,
  type DeviceConsolePort,
  type DeviceControlState,
  deviceReadyMessage,
  type DriverConsolePort,
  type DriverControlState,
  encodeControl,
  handleControlMessage,
  handleDriverMessage,
} from "./console/control.ts";
export { fillReceiveChain, postReceiveBuffers, receivedBytes } from "./console/receive.ts";
export {
  postTransmitBuffer,
  takeTransmitChain,
  transmitChunks,
  type TransmitCursor,
} from "./console/transmit.ts";
export {
  type ConsoleConfigReader,
  consoleConfigSpace,
  emergencyWriteByte,
  readConsoleSize,
} from "./console/config.ts";
export {
  type ConsoleDeviceParts,
  type ConsoleDriverParts,
  REFERENCE_CONSOLE_DEVICE_PARTS,
  REFERENCE_CONSOLE_DRIVER_PARTS,
} from "./console/parts.ts";

// ------------------------------------------------------------------- block

export {
  blkRequestTypeName,
  blkStatusName,
  SECTOR_SHIFT,
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_ALIGNMENT_OFFSET,
  VIRTIO_BLK_CONFIG_BLK_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
  VIRTIO_BLK_CONFIG_GEOMETRY_CYLINDERS,
  VIRTIO_BLK_CONFIG_GEOMETRY_HEADS,
  VIRTIO_BLK_CONFIG_GEOMETRY_SECTORS,
  VIRTIO_BLK_CONFIG_LAYOUT,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG,
  VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_SECURE_ERASE_SEG,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG,
  VIRTIO_BLK_CONFIG_MIN_IO_SIZE,
  VIRTIO_BLK_CONFIG_NUM_QUEUES,
  VIRTIO_BLK_CONFIG_OPT_IO_SIZE,
  VIRTIO_BLK_CONFIG_PHYSICAL_BLOCK_EXP,
  VIRTIO_BLK_CONFIG_SECURE_ERASE_SECTOR_ALIGNMENT,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_CONFIG_UNUSED0,
  VIRTIO_BLK_CONFIG_UNUSED1,
  VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,
  VIRTIO_BLK_CONFIG_WRITEBACK,
  VIRTIO_BLK_DISCARD_WRITE_ZEROES_SIZE,
  VIRTIO_BLK_DWZ_FLAGS_OFFSET,
  VIRTIO_BLK_DWZ_NUM_SECTORS_OFFSET,
  VIRTIO_BLK_DWZ_SECTOR_OFFSET,
  VIRTIO_BLK_F_BARRIER,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_CONFIG_WCE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_GEOMETRY,
  VIRTIO_BLK_F_LIFETIME,
  VIRTIO_BLK_F_MQ,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SCSI,
  VIRTIO_BLK_F_SECURE_ERASE,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_TOPOLOGY,
  VIRTIO_BLK_F_WCE,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_FEATURE_NAMES,
  VIRTIO_BLK_ID_BYTES,
  VIRTIO_BLK_LIFETIME_SIZE,
  VIRTIO_BLK_REQ_HEADER_SIZE,
  VIRTIO_BLK_REQ_RESERVED_OFFSET,
  VIRTIO_BLK_REQ_SECTOR_OFFSET,
  VIRTIO_BLK_REQ_STATUS_SIZE,
  VIRTIO_BLK_REQ_TYPE_OFFSET,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_NAMES,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_BARRIER,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_FLUSH_OUT,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_GET_LIFETIME,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_NAMES,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_SCSI_CMD,
  VIRTIO_BLK_T_SCSI_CMD_OUT,
  VIRTIO_BLK_T_SECURE_ERASE,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
} from "./blk/constants.ts";
export {
  type BlockBackend,
  BlockBackendError,
  BlockImageError,
  type BlockImageErrorCode,
  FileBlockBackend,
  type FileBlockBackendOptions,
  MemoryBlockBackend,
  type MemoryBlockBackendOptions,
} from "./blk/backends.ts";
export {
  type BlockDeviceStats,
  type BlockRequestCounts,
  DEFAULT_BLK_ID,
  DEFAULT_DISCARD_SECTOR_ALIGNMENT,
  DEFAULT_MAX_DISCARD_SECTORS,
  DEFAULT_MAX_DISCARD_SEG,
  DEFAULT_SEG_MAX,
  DEFAULT_SIZE_MAX,
  VirtioBlockDevice,
  type VirtioBlockDeviceOptions,
} from "./blk/device.ts";
export {
  BlockDriverError,
  type BlockDriverStats,
  BlockRangeError,
  BlockReadOnlyError,
  BlockTimeoutError,
  BlockUnsupportedError,
  DEFAULT_BLOCK_REQUEST_TIMEOUT_MS,
  MAX_DISCARD_SEGMENTS,
  VirtioBlockDriver,
  type VirtioBlockDriverOptions,
} from "./blk/driver.ts";
export {
  type BlockDisk,
  type BlockDriverRequest,
  BlockIoError,
  type BlockOperation,
  type BlockRejection,
  type BlockRequest,
  type BlockRequestChain,
  buildBlockRequest,
  completeBlockRequest,
  emptyBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
  VIRTIO_BLK_S_UNSET,
} from "./blk/request.ts";
export { type BlockIoOptions, executeBlockRequest } from "./blk/io.ts";
export {
  type BlockConfig,
  type BlockConfigReader,
  blockConfigSpace,
  readBlockConfig,
} from "./blk/config.ts";
export {
  type BlockDiscardConfig,
  buildDiscardRequest,
  type DiscardCursor,
  type DiscardDisk,
  type DiscardDriverRequest,
  type DiscardIoOptions,
  type DiscardLimits,
  type DiscardRange,
  type DiscardSegment,
  type DiscardSplitLimits,
  emptyDiscardSegment,
  executeDiscardRequest,
  layoutDiscardConfig,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
  type WriteZeroesLimits,
} from "./blk/discard.ts";
export {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  type HolePuncher,
  openHolePuncher,
} from "./blk/punch_hole.ts";
export {
  type BlockTransferLimits,
  blockTransferLimits,
  MAX_SEGMENT_BYTES,
  type MutableBufferSegment,
  splitTransfer,
} from "./blk/transfer.ts";
export {
  type BlockDeviceParts,
  type BlockDriverParts,
  REFERENCE_BLOCK_DEVICE_PARTS,
  REFERENCE_BLOCK_DRIVER_PARTS,
} from "./blk/parts.ts";

/** Options for {@linkcode referenceDrivers}: what each driver is created with. */
export interface ReferenceDriverOptions {
  /** Options of every `virtio_blk` driver created, parts included. */
  readonly blk?: VirtioBlockDriverOptions;
  /** Options of every `virtio_console` driver created, parts included. */
  readonly console?: VirtioConsoleDriverOptions;
}

/**
 * The reference drivers as registrations for `VirtioBus.register`:
 * `virtio_console` for VIRTIO_ID_CONSOLE and `virtio_blk` for
 * VIRTIO_ID_BLOCK, each creating a fresh driver with the options given (so
 * a machine can run the drivers on some replaced parts).
 *
 * @param options Driver options by driver.
 * @returns Two registrations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceDrivers, splitTransfer, VirtioBlockDriver } from "./mod.ts";
 * const [, blk] = referenceDrivers({ blk: { parts: { splitTransfer } } });
 * const driver = blk.create() as VirtioBlockDriver;
 * assert.equal(driver.parts.splitTransfer, splitTransfer);
 * ```
 */
export function referenceDrivers(options: ReferenceDriverOptions = {}): DriverRegistration[] {
  return [
    {
      deviceId: VIRTIO_ID_CONSOLE,
      name: "virtio_console",
      create: () => new VirtioConsoleDriver(options.console),
    },
    {
      deviceId: VIRTIO_ID_BLOCK,
      name: "virtio_blk",
      create: () => new VirtioBlockDriver(options.blk),
    },
  ];
}

/**
 * The reference drivers, ready for `VirtioBus.register`: `virtio_console`
 * for VIRTIO_ID_CONSOLE and `virtio_blk` for VIRTIO_ID_BLOCK, each creating a
 * driver with default options.
 */
export const REFERENCE_DRIVERS: readonly DriverRegistration[] = Object.freeze(referenceDrivers());
