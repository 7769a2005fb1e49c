// The reference: the library's own implementation, bound to the exercise's names.
export { markNeedsReset } from "../../transport/device_status.ts";
export { resetQueue } from "../../transport/queue_registers.ts";
export { recoverDevice } from "../../transport/driver_core.ts";
