// The reference for lesson 4: the library's own implementation, bound to the exercise's names.
export { splitQueueLayout } from "../../virtqueue/layout.ts";
export { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
export { queueAreaProblem } from "../../transport/queue_registers.ts";
