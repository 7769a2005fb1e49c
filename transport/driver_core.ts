/**
 * The driver core's two decisions (virtio v1.2 §3.1, §4.2.3.1; Linux
 * `drivers/virtio/virtio.c`): which driver a window's device gets
 * ({@linkcode bindDriver}, like `virtio_dev_match` on the virtio bus), and
 * the generic device initialization of §3.1.1 end to end
 * ({@linkcode initializeDevice}, like `virtio_dev_probe`), composed from the
 * transport's own steps, which it receives, so that each can be replaced on
 * its own.
 *
 * @module
 */

import { deviceIdName } from "../virtio/device_ids.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import type { DriverRegistration, VirtioDriver } from "../virtio/driver.ts";
import { VIRTIO_MMIO_STATUS } from "./mmio_registers.ts";
import {
  addStatus,
  type beginInitialization,
  type failDevice,
  type negotiateFeatures,
  type ProbeResult,
  resetDevice,
} from "./driver_init.ts";
import type { RegisterWindow } from "./types.ts";

/** Which driver a window gets. */
export type DriverBinding =
  | {
    /** A fresh driver instance for this one device. */
    readonly driver: VirtioDriver;
    /** Always `""`. */
    readonly reason: "";
  }
  | {
    /** No driver. */
    readonly driver: null;
    /** Why, in one sentence; `""` for an empty slot, which is not an error (4.2.2.2/6). */
    readonly reason: string;
  };

/**
 * Binds a probed window to a driver by DeviceID, as the Linux virtio bus
 * matches `id_table`s:
 *
 * - an empty slot (DeviceID 0) gets no driver and no complaint (4.2.2.2/6);
 * - a rejected window (bad magic, unsupported version) gets none, with the
 *   probe's reason;
 * - a device gets the first registration for its DeviceID, whose `create` is
 *   called exactly once: every device has its own driver instance. With no
 *   registration for the DeviceID, the reason names the device type.
 *
 * @param found What probing the window found.
 * @param registrations The registered drivers.
 * @returns A new driver instance, or `null` with the reason.
 * @throws {Error} What a registration's `create` throws.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bindDriver } from "./driver_core.ts";
 * const console = { name: "virtio_console", deviceId: 3, supportedFeatures: 0n, probe() {} };
 * const registrations = [{ deviceId: 3, name: "virtio_console", create: () => ({ ...console }) }];
 * const found = { kind: "device", deviceId: 3, vendorId: 0, version: 2 } as const;
 * assert.equal(bindDriver(found, registrations).driver?.name, "virtio_console");
 * assert.notEqual(
 *   bindDriver(found, registrations).driver,
 *   bindDriver(found, registrations).driver,
 *   "one instance per device",
 * );
 * assert.deepEqual(bindDriver({ kind: "empty" }, registrations), { driver: null, reason: "" });
 * ```
 */
export function bindDriver(
  found: ProbeResult,
  registrations: readonly DriverRegistration[],
): DriverBinding {
  if (found.kind === "empty") return { driver: null, reason: "" };
  if (found.kind === "rejected") return { driver: null, reason: found.reason };
  const registration = registrations.find((r) => r.deviceId === found.deviceId);
  if (!registration) {
    return { driver: null, reason: `no driver for ${deviceIdName(found.deviceId)}` };
  }
  const driver = registration.create();
  if (driver.deviceId !== found.deviceId) {
    return {
      driver: null,
      reason: `driver ${registration.name} registered for ${deviceIdName(found.deviceId)} ` +
        `drives ${deviceIdName(driver.deviceId)}`,
    };
  }
  return { driver, reason: "" };
}

/** The transport steps {@linkcode initializeDevice} is composed of. */
export interface InitializationSteps {
  /** Reset, ACKNOWLEDGE, DRIVER (§3.1.1 steps 1-3). */
  readonly beginInitialization: typeof beginInitialization;
  /** Features, FEATURES_OK, re-read of Status (§3.1.1 steps 4-6). */
  readonly negotiateFeatures: typeof negotiateFeatures;
  /** Set FAILED (§3.1.1/4). */
  readonly failDevice: typeof failDevice;
}

/** The device-specific part of initialization, supplied by the caller. */
export interface DeviceSetup {
  /** The features the device-type driver understands. */
  readonly supportedFeatures: bigint;
  /**
   * §3.1.1 step 7, the device-specific setup: discover and set up the
   * virtqueues, read and maybe write configuration (Linux: the driver's
   * `probe`). Runs after FEATURES_OK is confirmed and before DRIVER_OK.
   *
   * @param features The negotiated features.
   */
  setup(features: bigint): void | Promise<void>;
}

/** The device set DEVICE_NEEDS_RESET instead of going live at DRIVER_OK. */
export class DeviceInitializationError extends Error {
  /** The status read after setting DRIVER_OK. */
  readonly status: number;

  /**
   * Records the status that ended initialization.
   *
   * @param message What happened.
   * @param status The status byte read.
   */
  constructor(message: string, status: number) {
    super(message);
    this.name = "DeviceInitializationError";
    this.status = status;
  }
}

/**
 * Initializes a device as §3.1.1 says, after the MMIO probe found it
 * (4.2.3.1.1/4), each step recorded in the status byte (2.1.1/1):
 *
 * 1. reset, ACKNOWLEDGE, DRIVER: `steps.beginInitialization`;
 * 2. features, FEATURES_OK and its re-read: `steps.negotiateFeatures` with
 *    `device.supportedFeatures`;
 * 3. device-specific setup: `device.setup(features)`;
 * 4. DRIVER_OK, then a read of Status: a device that answers with
 *    DEVICE_NEEDS_RESET did not go live.
 *
 * If any step fails, FAILED is set with `steps.failDevice` unless it is set
 * already (3.1.1/4), nothing further is done (3.1.1/5), and the error is
 * thrown. A later attempt starts with a reset, as 2.1.1/3 asks.
 *
 * @param window The window's registers.
 * @param device The supported features and the device-specific setup.
 * @param steps The transport steps to run.
 * @returns The negotiated features.
 * @throws {Error} The failing step's error (`DeviceResetError`,
 *   `FeatureNegotiationError`, what `setup` threw, or
 *   {@linkcode DeviceInitializationError}), after FAILED was set.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initializeDevice } from "./driver_core.ts";
 * import { REFERENCE_MMIO_DRIVER_PARTS } from "./parts.ts";
 * import { probeWindow } from "./driver_init.ts";
 * import { MmioBus } from "./mmio_bus.ts";
 * import { MmioDeviceTransport } from "./mmio_device.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { MemoryBlockBackend, VirtioBlockDevice } from "../devices/mod.ts";
 * import { features, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
 * const log = new ConformanceLog({ strict: true }); // any violation throws
 * const memory = new GuestMemory(1 << 20);
 * const device = new VirtioBlockDevice(new MemoryBlockBackend(64 * 512));
 * const bus = new MmioBus({ log });
 * bus.map(0x1e000, new MmioDeviceTransport(device, { memory, log }), {
 *   irq: 42,
 *   name: "virtio_block",
 * });
 * const window = bus.window(0x1e000);
 * assert.equal(probeWindow(window).kind, "device"); // MagicValue and Version first
 * const order: string[] = [];
 * const negotiated = await initializeDevice(window, {
 *   supportedFeatures: features(VIRTIO_F_VERSION_1),
 *   // A driver's probe: set up its virtqueues, read its configuration.
 *   setup: () => void order.push(`setup at status 0x${window.read32(0x070).toString(16)}`),
 * }, REFERENCE_MMIO_DRIVER_PARTS);
 * assert.equal(negotiated, features(VIRTIO_F_VERSION_1));
 * assert.deepEqual(order, ["setup at status 0xb"]); // ACKNOWLEDGE|DRIVER|FEATURES_OK
 * assert.equal(window.read32(0x070), 0xf); // ... |DRIVER_OK
 * ```
 */
export async function initializeDevice(
  window: RegisterWindow,
  device: DeviceSetup,
  steps: InitializationSteps,
): Promise<bigint> {
  try {
    steps.beginInitialization(window);
    const features = steps.negotiateFeatures(window, device.supportedFeatures);
    await device.setup(features);
    addStatus(window, VIRTIO_CONFIG_S_DRIVER_OK);
    const status = window.read32(VIRTIO_MMIO_STATUS);
    if (status & VIRTIO_CONFIG_S_NEEDS_RESET) {
      throw new DeviceInitializationError(
        `Device set DEVICE_NEEDS_RESET at DRIVER_OK (status ${formatStatus(status)})`,
        status,
      );
    }
    return features;
  } catch (error) {
    // 3.1.1/4, 3.1.1/5: give up with FAILED and go no further. A failure to
    // reach the device at all must not hide the error that got us here.
    try {
      if ((window.read32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FAILED) === 0) {
        steps.failDevice(window);
      }
    } catch {
      // The original error is the one worth reporting.
    }
    throw error;
  }
}

/** The steps {@linkcode recoverDevice} runs once the device is reset. */
export interface RecoverySteps {
  /**
   * The device has let go of every queue (it was reset): take back the
   * chains still on them and free their areas. Requests they carried are
   * settled by the device-type driver, which was told before recovery began.
   */
  release(): void;
  /**
   * §3.1.1 again with `features` as the driver's supported set (the driver
   * core's `initializeDevice` with the device-specific setup bound).
   *
   * @param features The features to offer to accept: the set negotiated before.
   * @returns The features negotiated now.
   */
  reinitialize(features: bigint): Promise<bigint>;
}

/** What {@linkcode recoverDevice} did. */
export type RecoveryOutcome =
  | {
    /** Nothing to recover from: neither DEVICE_NEEDS_RESET nor FAILED was set; nothing was touched. */
    readonly recovered: false;
    /** The status read. */
    readonly status: number;
  }
  | {
    /** The device was reset and initialized again. */
    readonly recovered: true;
    /** The status read before the reset (DEVICE_NEEDS_RESET or FAILED in it). */
    readonly status: number;
    /** The features negotiated by the new initialization. */
    readonly features: bigint;
  };

/**
 * Recovers a device that asked for a reset (virtio v1.2 §2.1.1, §2.1.2),
 * or that the driver gave up on with FAILED:
 *
 * 1. read Status once: with neither DEVICE_NEEDS_RESET nor FAILED set, there
 *    is nothing to recover from; return at once, writing nothing;
 * 2. from here on nothing the device did is relied on (2.1.1/4): reset it,
 *    writing 0 to Status and reading Status until it reads 0 (at most
 *    `maxPolls` reads) — after FAILED the driver must reset before it
 *    initializes again (2.1.1/3), and only a reset device has certainly let
 *    go of its queues (4.2.2.1/5);
 * 3. then, and only then, `steps.release()`: the old queues' memory is free
 *    to reuse;
 * 4. `steps.reinitialize(features)` with the features negotiated before: a
 *    device that accepted a set once should accept it again (2.2.2/3).
 *
 * @param window The window's registers.
 * @param features The features negotiated before the device broke.
 * @param steps Releasing the old queues, initializing again.
 * @param maxPolls Status reads to wait for the reset (default 1000).
 * @returns Whether the device was recovered, the status read, the new features.
 * @throws {DeviceResetError} If Status never reads 0 (then nothing was released).
 * @throws {Error} What `steps.reinitialize` throws (the device is left FAILED by it).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverDevice } from "./driver_core.ts";
 * import type { RegisterWindow } from "./types.ts";
 * let status = 0x4f; // ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK|DEVICE_NEEDS_RESET
 * const unused = (): never => {
 *   throw new Error("only the Status register is used");
 * };
 * const window: RegisterWindow = {
 *   base: 0x1000_0000,
 *   size: 0x200,
 *   read32: () => status,
 *   write32: (_offset, value) => void (status = value),
 *   read16: unused,
 *   write16: unused,
 *   read8: unused,
 *   write8: unused,
 * };
 * const steps: string[] = [];
 * const outcome = await recoverDevice(window, 1n << 32n, {
 *   release: () => void steps.push(`release at status ${status}`),
 *   reinitialize: (features) => (steps.push("init"), Promise.resolve(features)),
 * });
 * assert.deepEqual(steps, ["release at status 0", "init"]);
 * assert.equal(outcome.recovered, true);
 * ```
 */
export async function recoverDevice(
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls = 1000,
): Promise<RecoveryOutcome> {
  const status = window.read32(VIRTIO_MMIO_STATUS);
  if ((status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) === 0) {
    return { recovered: false, status };
  }
  resetDevice(window, maxPolls);
  steps.release();
  const negotiated = await steps.reinitialize(features);
  return { recovered: true, status, features: negotiated };
}
