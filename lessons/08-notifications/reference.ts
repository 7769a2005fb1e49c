// The reference: the library's own implementation, bound to the exercise's names.
export { vringNeedEvent } from "../../virtqueue/event_idx.ts";
export { needsKick } from "../../virtqueue/driver/avail.ts";
export { queueNotifyTarget } from "../../transport/queue_notify.ts";
export { disableNotifications, enableNotifications } from "../../virtqueue/device/avail.ts";
