/**
 * Guest-physical memory shared by driver and device: little-endian
 * accessors, zero-copy views, typed range errors, and an aligned allocator
 * for the driver side.
 *
 * @module
 */

export {
  GuestMemory,
  GuestMemoryError,
  type GuestMemoryOptions,
  hexAddress,
  hexDump,
  MAX_GUEST_ADDRESS,
  MAX_GUEST_MEMORY_SIZE,
  type WrapOptions,
} from "./guest_memory.ts";
export {
  alignUp,
  GuestAllocator,
  type GuestAllocatorOptions,
  GuestOutOfMemoryError,
} from "./allocator.ts";
