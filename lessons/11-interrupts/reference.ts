// The reference for "Interrupts": the library's own implementation, bound to the exercise's names.
export { acknowledgeInterrupt, raiseInterrupt } from "../../transport/interrupt_status.ts";
export { handleInterrupt } from "../../transport/driver_interrupt.ts";
export { needsInterrupt } from "../../virtqueue/device/used.ts";
export { disableCallbacks, enableCallbacks } from "../../virtqueue/driver/used.ts";
export { drainUsed } from "../../virtqueue/driver/drain.ts";
