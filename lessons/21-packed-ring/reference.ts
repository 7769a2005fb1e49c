// The reference for "The packed virtqueue": the library's own implementation, bound to the exercise's names.
export {
  descAvailablePacked,
  pushUsedPacked,
  walkPackedChain,
} from "../../virtqueue/packed/device_ring.ts";
export { addPacked, getBufPacked } from "../../virtqueue/packed/driver_ring.ts";
