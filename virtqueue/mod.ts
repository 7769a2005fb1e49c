/**
 * The split virtqueue layer (virtio v1.2 §2.7): constants, layout, the
 * event-index test, the driver half and the device half (each a plain state
 * record, a table of replaceable parts over it, and a thin class that calls
 * them), the ring display, chain helpers, and the contracts the layers above
 * program against.
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
  checkRingIndex,
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
  createSplitQueueDriverFactory,
  SplitQueueDriver,
  type SplitQueueDriverConfig,
  type SplitQueueDriverCreateConfig,
  splitQueueDriverFactory,
} from "./driver_queue.ts";
export {
  createSplitQueueDeviceFactory,
  SplitQueueDevice,
  splitQueueDeviceFactory,
  type SplitQueueDeviceOptions,
} from "./device_queue.ts";
export {
  forwardingParts,
  isReferenceParts,
  mergeParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
  type SplitRingDeviceParts,
  type SplitRingDriverParts,
} from "./parts.ts";
export {
  breakDriverRing,
  createSplitDriverRing,
  DRIVER_RING_BROKEN_ACTION,
  HEAD_ADDED,
  HEAD_FREE,
  HEAD_PUBLISHED,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
  type SplitDriverRingOptions,
} from "./driver/ring.ts";
export { allocateQueueAreas } from "./driver/areas.ts";
export {
  addBuffers,
  type AddBufferSteps,
  addChain,
  addIndirectChain,
  type IndirectPolicy,
} from "./driver/add.ts";
export { detachChain } from "./driver/detach.ts";
export { checkUsedFlags, needsKick, placeAvailEntry, publishAvail } from "./driver/avail.ts";
export {
  disableCallbacks,
  enableCallbacks,
  getBuf,
  moreUsed,
  updateUsedEvent,
} from "./driver/used.ts";
export { drainUsed, type UsedBufferSource } from "./driver/drain.ts";
export {
  breakDeviceRing,
  chainRecord,
  createSplitDeviceRing,
  DEVICE_RING_BROKEN_ACTION,
  type DeviceChainRecord,
  type IndirectDescriptor,
  ringAccessFailed,
  type SegmentRecord,
  type SplitDeviceRing,
  type SplitDeviceRingOptions,
} from "./device/ring.ts";
export {
  availableCount,
  availHead,
  checkAvailFlags,
  disableNotifications,
  enableNotifications,
  updateAvailEvent,
} from "./device/avail.ts";
export { NO_SEGMENTS, readIndirectTable, walkChain } from "./device/walk.ts";
export { needsInterrupt, pushUsed } from "./device/used.ts";
export {
  type AvailEntryRow,
  type ChainRow,
  descFlagNames,
  type DescriptorRow,
  inspectRing,
  SplitRingSnapshot,
  type SplitRingSnapshotData,
  type UsedEntryRow,
} from "./inspect.ts";
export { chainViews, copyChain, readChain, segmentsLength, writeChain } from "./chain.ts";
export {
  type AddOptions,
  type BufferSegment,
  type ChainStreamParts,
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
  VirtqueueChainError,
  VirtqueueFullError,
} from "./types.ts";
