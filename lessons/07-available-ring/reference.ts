// The reference for lesson 7: the library's own implementation, bound to the exercise's names.
export { placeAvailEntry, publishAvail } from "../../virtqueue/driver/avail.ts";
export { availableCount, availHead } from "../../virtqueue/device/avail.ts";
