// The reference for lesson 2: the library's own implementation, bound to the exercise's names.
export { nextDeviceStatus } from "../../transport/device_status.ts";
export {
  addStatus,
  beginInitialization,
  failDevice,
  resetDevice,
} from "../../transport/mmio_driver.ts";
