// The reference for this lesson: the library's own implementation, bound to the exercise's names.
export {
  nextLegacyDeviceStatus,
  writeLegacyQueueRegister,
} from "../../transport/legacy_registers.ts";
export {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "../../transport/driver_legacy.ts";
