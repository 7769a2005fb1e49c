// deno-lint-ignore-file no-unused-vars
/**
 * "Capstone: your machine": your exercise.
 *
 * The last two parts of the machine are the driver core's: which driver a
 * device gets ({@linkcode bindDriver}, like Linux's `virtio_dev_match`) and
 * the generic initialization of §3.1.1 end to end ({@linkcode
 * initializeDevice}, like `virtio_dev_probe`), composed of the transport
 * steps you wrote earlier, which it is given. Once they pass, every part of
 * the lab machine is yours: `deno task lab boot --mine` says so.
 *
 * The lines `export * from "../NN-slug/exercise.ts"` bring in your own files
 * of the earlier lessons (in your workspace, next to this folder): the
 * grader runs the whole machine on all of them at once. Do not remove them.
 * A lesson you have not finished shows as "not written yet" with the lesson
 * to go back to.
 *
 * Each doc comment below is a contract; the how is in the lesson and in
 * §3.1, §4.2.3.1. Pieces of the library you may use:
 *
 * ```ts
 * import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts"; // 0x070
 * import {
 *   VIRTIO_CONFIG_S_DRIVER_OK,   // 0x04
 *   VIRTIO_CONFIG_S_FAILED,      // 0x80
 *   VIRTIO_CONFIG_S_NEEDS_RESET, // 0x40
 * } from "../../virtio/status.ts";
 * import { deviceIdName } from "../../virtio/device_ids.ts"; // 2 -> "block device (2)"
 * import { DeviceInitializationError } from "../../transport/driver_core.ts";
 * import { addStatus } from "../02-status-reset/exercise.ts"; // your own, from that lesson
 * ```
 *
 * Check your work with `deno task lab check capstone`; stuck?
 * `deno task lab hint capstone`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type { ProbeResult } from "../../transport/driver_init.ts";
import type { DriverRegistration } from "../../virtio/driver.ts";
import type {
  DeviceSetup,
  DriverBinding,
  InitializationSteps,
} from "../../transport/driver_core.ts";
import type { RegisterWindow } from "../../transport/types.ts";

// Your parts from every earlier lesson: your own files, in your workspace.
export * from "../01-mmio-window/exercise.ts";
export * from "../02-status-reset/exercise.ts";
export * from "../03-feature-negotiation/exercise.ts";
export * from "../04-virtqueue-layout/exercise.ts";
export * from "../05-queue-setup/exercise.ts";
export * from "../06-descriptor-chains/exercise.ts";
export * from "../07-available-ring/exercise.ts";
export * from "../08-notifications/exercise.ts";
export * from "../09-device-pop/exercise.ts";
export * from "../10-used-ring/exercise.ts";
export * from "../11-interrupts/exercise.ts";
export * from "../12-indirect-descriptors/exercise.ts";
export * from "../13-event-idx/exercise.ts";
export * from "../14-config-space/exercise.ts";
export * from "../15-console/exercise.ts";
export * from "../16-blk-requests/exercise.ts";
export * from "../17-blk-limits/exercise.ts";
// Lesson 13 extends three of lesson 11's parts for event idx: its versions are the ones the
// machine runs.
export { disableCallbacks, enableCallbacks, needsInterrupt } from "../13-event-idx/exercise.ts";

/**
 * Which driver a probed window gets, by DeviceID (§4.2.3.1, §3.1.1 step 3).
 *
 * | `found`                                 | returns                                            |
 * | --------------------------------------- | -------------------------------------------------- |
 * | `{ kind: "empty" }` (DeviceID 0)        | `{ driver: null, reason: "" }`: not an error (4.2.2.2/6) |
 * | `{ kind: "rejected", reason }`          | `{ driver: null, reason }`: the probe's reason, as given |
 * | a device no registration is for         | `{ driver: null, reason }`: a non-empty sentence (wording free) |
 * | a device with a registration            | `{ driver, reason: "" }`, `driver` from the **first** registration whose `deviceId` matches |
 *
 * `create()` of the chosen registration is called exactly once per call (every
 * device gets its own driver instance), and no other registration's. A driver
 * whose own `deviceId` is not the device's is refused: `{ driver: null,
 * reason }` (non-empty, wording free).
 *
 * @param found What probing the window found.
 * @param registrations The registered drivers, in registration order.
 * @returns The binding.
 * @throws {Error} Only what `create()` throws.
 */
export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  return todo("bindDriver", "give a probed window the driver registered for its DeviceID");
}

/**
 * Initializes a device as §3.1.1 says, once the MMIO probe found it
 * (4.2.3.1.1/4), over the transport steps it is given (call them through
 * `steps`, never by importing them: each may be another implementation):
 *
 * - `steps.beginInitialization(window)`: reset, ACKNOWLEDGE, DRIVER;
 * - `steps.negotiateFeatures(window, device.supportedFeatures)`: returns the
 *   negotiated features, with FEATURES_OK set and re-checked;
 * - `device.setup(features)` (may return a promise: await it), once, after
 *   FEATURES_OK and before DRIVER_OK;
 * - then DRIVER_OK added to Status (no other bit changed), and Status read
 *   once more: with DEVICE_NEEDS_RESET (0x40) set, the device did not go live.
 *
 * Returns (a promise of) the negotiated features. If any step throws, or the
 * device answered DRIVER_OK with DEVICE_NEEDS_RESET, it gives up: FAILED is
 * set with `steps.failDevice(window)` unless Status already has it (3.1.1/4),
 * nothing further is done (3.1.1/5: no later step, no DRIVER_OK), and the
 * promise rejects with the step's own error (for DEVICE_NEEDS_RESET, a
 * `DeviceInitializationError` whose `status` is the Status read). If even
 * reading Status or setting FAILED throws then, the original error is still
 * the one it rejects with. Called again after a failure, it starts over with
 * the reset (2.1.1/3).
 *
 * Registers: only through `steps`, plus the write adding DRIVER_OK and reads
 * of Status (how many reads is free).
 *
 * @param window The window's registers.
 * @param device The supported features and the device-specific setup.
 * @param steps The transport steps to run.
 * @returns The negotiated features.
 */
export function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  steps: InitializationSteps,
): Promise<bigint> {
  return todo("initializeDevice", "§3.1.1 from reset to DRIVER_OK over the steps given");
}
