/**
 * The virtio-mmio transport (virtio v1.2 §4.2): the register map, the
 * device-side register file, the driver-side bring-up, the MMIO bus with its
 * interrupt lines and device tree, and the driver core that binds drivers by
 * device ID.
 *
 * @module
 */

export {
  type AccessKind,
  checkRegisterAccess,
  type DeviceIdentity,
  findRegister,
  hex3,
  MMIO_REGISTERS,
  type MmioRegister,
  readIdentification,
  type RegisterAccessCheck,
  registerByName,
  type RegisterDirection,
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_GUEST_PAGE_SIZE,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_MASK,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_PFN,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_RESET,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_SHM_BASE_HIGH,
  VIRTIO_MMIO_SHM_BASE_LOW,
  VIRTIO_MMIO_SHM_LEN_HIGH,
  VIRTIO_MMIO_SHM_LEN_LOW,
  VIRTIO_MMIO_SHM_SEL,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_LEGACY,
  VIRTIO_MMIO_VERSION_MODERN,
  VIRTIO_MMIO_WINDOW_SIZE,
} from "./mmio_registers.ts";
export {
  checkDriverFeatures,
  type FeatureVerdict,
  nextDeviceStatus,
  type RuleBreak,
  type StatusTransition,
} from "./device_status.ts";
export {
  EmptyMmioSlot,
  type MmioDeviceParts,
  MmioDeviceTransport,
  type MmioDeviceTransportOptions,
  REFERENCE_MMIO_DEVICE_PARTS,
  type TransportQueueStats,
} from "./mmio_device.ts";
export {
  addStatus,
  beginInitialization,
  DeviceResetError,
  type DriverState,
  failDevice,
  FeatureNegotiationError,
  type MmioDriverParts,
  MmioDriverTransport,
  type MmioDriverTransportOptions,
  negotiateFeatures,
  type ProbeResult,
  probeWindow,
  readDeviceFeatures,
  REFERENCE_MMIO_DRIVER_PARTS,
  resetDevice,
  writeDriverFeatures,
} from "./mmio_driver.ts";
export {
  type DeviceTreeNode,
  type InterruptHandler,
  MmioBus,
  MmioBusError,
  type MmioBusOptions,
  type MmioWindowInfo,
} from "./mmio_bus.ts";
export { type BoundDevice, VirtioBus, type VirtioBusOptions } from "./virtio_bus.ts";
export {
  FeatureSet,
  MmioRegisterSnapshot,
  type MmioRegisterSnapshotData,
  type QueueSnapshot,
  StatusByte,
} from "./inspect.ts";
export type { InterruptLine, MmioRegion, RegisterWindow } from "./types.ts";
