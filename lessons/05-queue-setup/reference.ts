// The reference for lesson 5: the library's own implementation, bound to the exercise's names.
export { writeQueueRegister } from "../../transport/queue_registers.ts";
export { setupQueue, stopQueue } from "../../transport/driver_queues.ts";
