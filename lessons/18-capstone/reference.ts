// The reference for "Capstone: your machine": the library's own implementation, bound to the
// exercise's names; the earlier lessons' parts through their own reference bindings.
export * from "../01-mmio-window/reference.ts";
export * from "../02-status-reset/reference.ts";
export * from "../03-feature-negotiation/reference.ts";
export * from "../04-virtqueue-layout/reference.ts";
export * from "../05-queue-setup/reference.ts";
export * from "../06-descriptor-chains/reference.ts";
export * from "../07-available-ring/reference.ts";
export * from "../08-notifications/reference.ts";
export * from "../09-device-pop/reference.ts";
export * from "../10-used-ring/reference.ts";
export * from "../11-interrupts/reference.ts";
export { bindDriver, initializeDevice } from "../../transport/driver_core.ts";
