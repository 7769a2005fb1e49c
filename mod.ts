/**
 * virtio-lab: a teaching sandbox for virtio, with a real reference
 * implementation of virtio 1.2's split virtqueues (§2.7), the virtio-mmio
 * transport (§4.2), a virtio-blk device (§5.2) serving a disk image file and a
 * virtio-console (§5.3) attached to a terminal or a socket, both sides of
 * each, checked against the spec rule by rule.
 *
 * The API comes in layers, bottom-up; each layer's own `mod.ts` lists its
 * public names, and this module re-exports them all:
 *
 * - `conformance/`: the requirement table and the conformance log;
 * - `virtio/`: status and feature bits, device IDs, and the device, driver and
 *   transport contracts every transport shares;
 * - `memory/`: guest-physical RAM and the driver-side allocator;
 * - `virtqueue/`: the split virtqueue, driver half and device half;
 * - `transport/`: virtio-mmio registers, device-side register file,
 *   driver-side bring-up, MMIO bus, driver core;
 * - `devices/`: virtio-blk and virtio-console models, drivers and backends;
 * - `machine.ts`: a ready lab machine; `parts.ts`: the registry of the parts a
 *   learner can replace in it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMachine } from "./mod.ts";
 * const machine = await createMachine();
 * const sector2 = await machine.blk.driver!.read(2, 1); // one 512-byte sector
 * assert.match(new TextDecoder().decode(sector2), /^Hello from sector 2!/);
 * assert.equal(machine.log.format(), "Conformance log: no violations.");
 * await machine.close();
 * ```
 *
 * @module
 */

export * from "./conformance/mod.ts";
export * from "./virtio/mod.ts";
export * from "./memory/mod.ts";
export * from "./virtqueue/mod.ts";
export * from "./virtqueue/packed/mod.ts";
export * from "./transport/mod.ts";
export * from "./devices/mod.ts";
export {
  BLOCK_WINDOW,
  BUILTIN_DISK_SIZE,
  builtinDisk,
  CONSOLE_WINDOW,
  createMachine,
  type DeviceSummary,
  EMPTY_WINDOW,
  formatMachineError,
  LabMachine,
  MACHINE_ERRORS_KEPT,
  MACHINE_RAM_BASE,
  MACHINE_RAM_SIZE,
  type MachineDevice,
  type MachineError,
  type MachineOptions,
  type MachineWindow,
  type QueueTraffic,
} from "./machine.ts";
export {
  checkMachineParts,
  findPart,
  type MachineParts,
  machineParts,
  type PackedRingDeviceRegistered,
  type PackedRingDriverRegistered,
  PartError,
  type PartInfo,
  type PartKey,
  type PartLayer,
  PARTS,
  type PartSide,
  REFERENCE_PARTS,
  type ReferenceParts,
  replacedParts,
  resolveParts,
} from "./parts.ts";
