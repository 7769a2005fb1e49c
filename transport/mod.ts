/**
 * The virtio-mmio transport (virtio v1.2 §4.2): the register map, the
 * device-side register file, the driver-side bring-up, the MMIO bus with its
 * interrupt lines and device tree, and the driver core that binds drivers by
 * device ID. Each mechanism is also a function of its own (a part), listed in
 * the parts tables `REFERENCE_MMIO_DEVICE_PARTS`,
 * `REFERENCE_MMIO_DRIVER_PARTS` and `REFERENCE_DRIVER_CORE_PARTS`.
 *
 * @module
 */

export {
  type AccessKind,
  checkRegisterAccess,
  type DeviceIdentity,
  findRegister,
  hex3,
  hex8,
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
  markNeedsReset,
  type NeedsResetTransition,
  nextDeviceStatus,
  type RuleBreak,
  type StatusTransition,
} from "./device_status.ts";
export {
  INITIAL_QUEUE_REGISTERS,
  join64,
  type QueueArea,
  type QueueAreaCheck,
  type QueueAreaContext,
  queueAreaProblem,
  queueAreas,
  type QueueRegisterOutcome,
  type QueueRegisters,
  type QueueRegisterWrite,
  type QueueResetWrite,
  resetQueue,
  writeQueueRegister,
} from "./queue_registers.ts";
export {
  INITIAL_LEGACY_QUEUE_REGISTERS,
  LEGACY_DEFAULT_QUEUE_ALIGN,
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
  type LegacyQueueRegisterWrite,
  legacyQueueView,
  nextLegacyDeviceStatus,
  writeLegacyQueueRegister,
} from "./legacy_registers.ts";
export { type NotifyContext, type NotifyTarget, queueNotifyTarget } from "./queue_notify.ts";
export {
  acknowledgeInterrupt,
  type InterruptAcknowledgement,
  type InterruptRaise,
  raiseInterrupt,
} from "./interrupt_status.ts";
export {
  checkConfigAccess,
  type ConfigAccessVerdict,
  type ConfigChange,
  configChanged,
  type ConfigSpaceView,
} from "./config_space.ts";
export {
  EmptyMmioSlot,
  MmioDeviceTransport,
  type MmioDeviceTransportOptions,
  type TransportQueueStats,
} from "./mmio_device.ts";
export {
  addStatus,
  beginInitialization,
  DeviceResetError,
  failDevice,
  FeatureNegotiationError,
  negotiateFeatures,
  type ProbeResult,
  probeWindow,
  readDeviceFeatures,
  resetDevice,
  writeDriverFeatures,
} from "./driver_init.ts";
export {
  type QueueAreaAllocator,
  type QueueSetup,
  QueueSetupError,
  type QueueSetupRequest,
  type QueueSetupStep,
  QueueStopError,
  setupQueue,
  stopQueue,
} from "./driver_queues.ts";
export {
  LEGACY_PAGE_SIZE,
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "./driver_legacy.ts";
export {
  handleInterrupt,
  type InterruptHandlers,
  type InterruptResult,
} from "./driver_interrupt.ts";
export {
  ConfigGenerationError,
  type ConsistentConfigReader,
  readConfig64,
  readConfigConsistent,
  readConfigField,
  writeConfigField,
} from "./driver_config.ts";
export {
  bindDriver,
  DeviceInitializationError,
  type DeviceSetup,
  type DriverBinding,
  type InitializationSteps,
  initializeDevice,
  recoverDevice,
  type RecoveryOutcome,
  type RecoverySteps,
} from "./driver_core.ts";
export {
  type DriverState,
  MmioDriverTransport,
  type MmioDriverTransportOptions,
} from "./mmio_driver.ts";
export {
  type DriverCoreParts,
  type MmioDeviceParts,
  type MmioDriverParts,
  REFERENCE_DRIVER_CORE_PARTS,
  REFERENCE_MMIO_DEVICE_PARTS,
  REFERENCE_MMIO_DRIVER_PARTS,
} from "./parts.ts";
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
export type { InterruptLine, MmioRegion, RegisterWindow, RuleProblem } from "./types.ts";
