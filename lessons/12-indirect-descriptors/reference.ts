// The reference for "Indirect descriptors": the library's own implementation, bound to the exercise's names.
export { readIndirectTable } from "../../virtqueue/device/walk.ts";
export { addBuffers, addIndirectChain } from "../../virtqueue/driver/add.ts";
