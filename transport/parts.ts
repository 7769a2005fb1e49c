/**
 * The replaceable parts of the virtio-mmio transport and of the driver core:
 * one table per side, each field a function with the reference's signature.
 * `MmioDeviceTransport`, `MmioDriverTransport` and `VirtioBus` take
 * `Partial` tables, merge them over these reference tables and call every
 * step through the result, so another implementation of any one step runs
 * the same machine with the reference supplying the rest.
 *
 * Parts never call each other: where a step needs another, the class calls
 * both in turn (a register write, then the area check it asks for) or passes
 * the other step in as an argument (`writeQueueRegister` receives the area
 * check, `setupQueue` the area allocation, `readConfig64` the consistent-read
 * loop, `initializeDevice` the bring-up steps, `recoverDevice` the release
 * and the new bring-up).
 *
 * In the registry of parts these are the layers `transport.device`,
 * `transport.driver` and `core.driver`.
 *
 * @module
 */

import { checkRegisterAccess, readIdentification } from "./mmio_registers.ts";
import { checkDriverFeatures, markNeedsReset, nextDeviceStatus } from "./device_status.ts";
import { queueAreaProblem, resetQueue, writeQueueRegister } from "./queue_registers.ts";
import { queueNotifyTarget } from "./queue_notify.ts";
import { nextLegacyDeviceStatus, writeLegacyQueueRegister } from "./legacy_registers.ts";
import { acknowledgeInterrupt, raiseInterrupt } from "./interrupt_status.ts";
import { checkConfigAccess, configChanged } from "./config_space.ts";
import { beginInitialization, failDevice, negotiateFeatures, probeWindow } from "./driver_init.ts";
import { setupQueue, stopQueue } from "./driver_queues.ts";
import {
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "./driver_legacy.ts";
import { handleInterrupt } from "./driver_interrupt.ts";
import { readConfig64, readConfigConsistent } from "./driver_config.ts";
import { bindDriver, initializeDevice, recoverDevice } from "./driver_core.ts";

/** The device side of the transport, step by step (registry layer `transport.device`). */
export interface MmioDeviceParts {
  /** May the driver make this access to a control register? (§4.2.2.2) */
  readonly checkRegisterAccess: typeof checkRegisterAccess;
  /** Values of MagicValue, Version, DeviceID, VendorID (§4.2.2.1). */
  readonly readIdentification: typeof readIdentification;
  /** What a write to Status means (§2.1, §2.4, §3.1.1). */
  readonly nextDeviceStatus: typeof nextDeviceStatus;
  /** Does the device accept the driver's features at FEATURES_OK? (§2.2) */
  readonly checkDriverFeatures: typeof checkDriverFeatures;
  /** Is a queue usable when QueueReady is set: size, alignment, inside RAM? (§2.7, §4.2.3.2) */
  readonly queueAreaProblem: typeof queueAreaProblem;
  /** What a write to QueueNum, an area address, QueueReady or QueueReset does (§4.2.2). */
  readonly writeQueueRegister: typeof writeQueueRegister;
  /** Which queue a QueueNotify write names, or why it is ignored (§4.2.3.3). */
  readonly queueNotifyTarget: typeof queueNotifyTarget;
  /** An event sets its InterruptStatus bit (§4.2.2.1). */
  readonly raiseInterrupt: typeof raiseInterrupt;
  /** An InterruptACK write clears the acknowledged bits (§4.2.2). */
  readonly acknowledgeInterrupt: typeof acknowledgeInterrupt;
  /** May the driver make this configuration space access? (§2.5, §4.2.2.2) */
  readonly checkConfigAccess: typeof checkConfigAccess;
  /** The configuration changed: new ConfigGeneration, notify? (§2.5, 4.2.2.1/6) */
  readonly configChanged: typeof configChanged;
  /** The device asks for a reset: DEVICE_NEEDS_RESET, notify? (§2.1.2) */
  readonly markNeedsReset: typeof markNeedsReset;
  /** What a write to QueueReset does (§2.6.1, §4.2.2). */
  readonly resetQueue: typeof resetQueue;
  /** Legacy: what a write to Status means without FEATURES_OK (§3.1.2, §4.2.4). */
  readonly nextLegacyDeviceStatus: typeof nextLegacyDeviceStatus;
  /** Legacy: what a write to QueueNum, QueueAlign or QueuePFN does (§4.2.4, §2.7.2). */
  readonly writeLegacyQueueRegister: typeof writeLegacyQueueRegister;
}

/** The reference implementations of {@linkcode MmioDeviceParts}. */
export const REFERENCE_MMIO_DEVICE_PARTS: MmioDeviceParts = Object.freeze({
  checkRegisterAccess,
  readIdentification,
  nextDeviceStatus,
  checkDriverFeatures,
  queueAreaProblem,
  writeQueueRegister,
  queueNotifyTarget,
  raiseInterrupt,
  acknowledgeInterrupt,
  checkConfigAccess,
  configChanged,
  markNeedsReset,
  resetQueue,
  nextLegacyDeviceStatus,
  writeLegacyQueueRegister,
});

/** The driver side of the transport, step by step (registry layer `transport.driver`). */
export interface MmioDriverParts {
  /** Identify what is in a window (§4.2.3.1.1). */
  readonly probeWindow: typeof probeWindow;
  /** Reset, ACKNOWLEDGE, DRIVER (§3.1.1 steps 1-3). */
  readonly beginInitialization: typeof beginInitialization;
  /** Set FAILED (3.1.1/4). */
  readonly failDevice: typeof failDevice;
  /** Features in, FEATURES_OK, read back (§3.1.1 steps 4-6). */
  readonly negotiateFeatures: typeof negotiateFeatures;
  /** Configure and enable one queue (§4.2.3.2; Linux `vm_setup_vq`). */
  readonly setupQueue: typeof setupQueue;
  /** Stop a queue and wait until the device has (§4.2.3.2; Linux `vm_del_vq`). */
  readonly stopQueue: typeof stopQueue;
  /** Read, acknowledge and dispatch an interrupt (§4.2.3.4; Linux `vm_interrupt`). */
  readonly handleInterrupt: typeof handleInterrupt;
  /** Repeat a configuration read until ConfigGeneration holds (§2.5.1). */
  readonly readConfigConsistent: typeof readConfigConsistent;
  /** A 64-bit configuration field in two halves, low first (4.2.2.2/3). */
  readonly readConfig64: typeof readConfig64;
  /** Identify a window, Version 1 (legacy) or 2 (Linux `vm_probe`). */
  readonly probeTransitionalWindow: typeof probeTransitionalWindow;
  /** Legacy: 32 feature bits in, no FEATURES_OK (§3.1.2). */
  readonly negotiateLegacyFeatures: typeof negotiateLegacyFeatures;
  /** Legacy: one contiguous queue located by QueuePFN (§4.2.4; Linux `vm_setup_vq`, version 1). */
  readonly setupLegacyQueue: typeof setupLegacyQueue;
  /** Legacy: QueuePFN 0 and read back (§4.2.4; Linux `vm_del_vq`, version 1). */
  readonly stopLegacyQueue: typeof stopLegacyQueue;
}

/** The reference implementations of {@linkcode MmioDriverParts}. */
export const REFERENCE_MMIO_DRIVER_PARTS: MmioDriverParts = Object.freeze({
  probeWindow,
  beginInitialization,
  failDevice,
  negotiateFeatures,
  setupQueue,
  stopQueue,
  handleInterrupt,
  readConfigConsistent,
  readConfig64,
  probeTransitionalWindow,
  negotiateLegacyFeatures,
  setupLegacyQueue,
  stopLegacyQueue,
});

/** The driver core, step by step (registry layer `core.driver`). */
export interface DriverCoreParts {
  /** §3.1.1 end to end over the transport's steps (Linux `virtio_dev_probe`). */
  readonly initializeDevice: typeof initializeDevice;
  /** Which driver a window's device gets, by DeviceID (Linux `virtio_dev_match`). */
  readonly bindDriver: typeof bindDriver;
  /** Reset a device that asked for it and initialize it again (§2.1.1, §2.1.2). */
  readonly recoverDevice: typeof recoverDevice;
}

/** The reference implementations of {@linkcode DriverCoreParts}. */
export const REFERENCE_DRIVER_CORE_PARTS: DriverCoreParts = Object.freeze({
  initializeDevice,
  bindDriver,
  recoverDevice,
});
