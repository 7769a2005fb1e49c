// The reference for "VIRTIO_F_EVENT_IDX": the library's own implementation, bound to the exercise's names.
export { updateAvailEvent } from "../../virtqueue/device/avail.ts";
export { needsInterrupt } from "../../virtqueue/device/used.ts";
export { disableCallbacks, enableCallbacks, updateUsedEvent } from "../../virtqueue/driver/used.ts";
