// The reference for "Returning buffers": the library's own implementation, bound to the exercise's names.
export { pushUsed } from "../../virtqueue/device/used.ts";
export { getBuf, moreUsed } from "../../virtqueue/driver/used.ts";
