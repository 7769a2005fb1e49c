// The reference for lesson 3: the library's own implementation, bound to the exercise's names.
export { checkDriverFeatures } from "../../transport/device_status.ts";
export {
  negotiateFeatures,
  readDeviceFeatures,
  writeDriverFeatures,
} from "../../transport/mmio_driver.ts";
