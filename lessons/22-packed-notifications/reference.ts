// The reference for "Packed-ring notifications": the library's own implementation, bound to the exercise's names.
export {
  enableNotificationsPacked,
  needsInterruptPacked,
} from "../../virtqueue/packed/device_ring.ts";
export { enableCallbacksPacked, needsKickPacked } from "../../virtqueue/packed/driver_ring.ts";
