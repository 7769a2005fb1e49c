/**
 * The packed virtqueue (virtio v1.2 §2.8), both halves: constants, layout,
 * the state records and their parts, the queue classes and their factories,
 * and the ring display.
 *
 * @module
 */

export * from "./constants.ts";
export * from "./layout.ts";
export * from "./driver_ring.ts";
export * from "./device_ring.ts";
export * from "./parts.ts";
export * from "./driver_queue.ts";
export * from "./device_queue.ts";
export * from "./inspect.ts";
