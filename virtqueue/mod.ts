/**
 * The split virtqueue layer (virtio v1.2 §2.7): constants, layout, the
 * event-index test, the driver half, the device half, chain helpers, and the
 * contracts the layers above program against.
 *
 * @module
 */

export {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ELEM_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VRING_AVAIL_ALIGN_SIZE,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_ALIGN_SIZE,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_ALIGN_SIZE,
  VRING_USED_F_NO_NOTIFY,
} from "./constants.ts";
export {
  availEventOffset,
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  isValidQueueSize,
  QueueSizeError,
  type SplitQueueLayout,
  splitQueueLayout,
  usedElemOffset,
  usedEventOffset,
  usedRingSize,
  VIRTQ_AVAIL_FLAGS_OFFSET,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_AVAIL_RING_OFFSET,
  VIRTQ_DESC_ADDR_OFFSET,
  VIRTQ_DESC_FLAGS_OFFSET,
  VIRTQ_DESC_LEN_OFFSET,
  VIRTQ_DESC_NEXT_OFFSET,
  VIRTQ_USED_ELEM_ID_OFFSET,
  VIRTQ_USED_ELEM_LEN_OFFSET,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
  VIRTQ_USED_RING_OFFSET,
  vringAddresses,
  type VringLayout,
  vringLayout,
} from "./layout.ts";
export { vringNeedEvent } from "./event_idx.ts";
export {
  SplitQueueDriver,
  type SplitQueueDriverCreateConfig,
  splitQueueDriverFactory,
  VirtqueueChainError,
} from "./driver_queue.ts";
export { SplitQueueDevice, splitQueueDeviceFactory } from "./device_queue.ts";
export { chainViews, readChain, segmentsLength, writeChain } from "./chain.ts";
export {
  type AddOptions,
  type BufferSegment,
  type DescriptorChain,
  type DeviceQueue,
  type DeviceQueueFactory,
  type DeviceQueueStats,
  type DriverQueue,
  type DriverQueueConfig,
  type DriverQueueFactory,
  type SplitQueueAddresses,
  type SplitQueueConfig,
  type UsedBuffer,
  VirtqueueBrokenError,
  VirtqueueFullError,
} from "./types.ts";
