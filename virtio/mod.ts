/**
 * The virtio core, independent of any transport: device status bits (§2.1),
 * feature bits (§2.2, chapter 6), device IDs (§5), and the contracts between
 * device models, drivers and a transport (`device.ts`, `driver.ts`).
 *
 * @module
 */

export {
  formatStatus,
  STATUS_BITS,
  STATUS_DEFINED_MASK,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "./status.ts";
export {
  featureMask,
  featureNames,
  features,
  featureWord,
  formatFeatures,
  hasFeature,
  RESERVED_FEATURE_NAMES,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IOMMU_PLATFORM,
  VIRTIO_F_NOTIF_CONFIG_DATA,
  VIRTIO_F_NOTIFICATION_DATA,
  VIRTIO_F_ORDER_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_SR_IOV,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_TRANSPORT_F_END,
  VIRTIO_TRANSPORT_F_START,
  withFeatureWord,
} from "./features.ts";
export {
  deviceIdName,
  VIRTIO_ID_9P,
  VIRTIO_ID_BALLOON,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_CRYPTO,
  VIRTIO_ID_FS,
  VIRTIO_ID_GPU,
  VIRTIO_ID_INPUT,
  VIRTIO_ID_INVALID,
  VIRTIO_ID_IOMMU,
  VIRTIO_ID_MEM,
  VIRTIO_ID_NET,
  VIRTIO_ID_PMEM,
  VIRTIO_ID_RNG,
  VIRTIO_ID_SCSI,
  VIRTIO_ID_SOUND,
  VIRTIO_ID_VSOCK,
} from "./device_ids.ts";
export type { AccessWidth, ConfigField, DeviceHost, ShmRegion, VirtioDevice } from "./device.ts";
export type {
  DriverRegistration,
  QueueSetupOptions,
  VirtioDriver,
  VirtioDriverContext,
} from "./driver.ts";
