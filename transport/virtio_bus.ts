/**
 * The driver core: like the Linux virtio bus, it probes every virtio-mmio
 * window, and binds each device found to the driver registered for its device
 * ID, running the bring-up of §3.1.1 and routing the window's interrupt line
 * to the transport's handler.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceLog } from "../conformance/log.ts";
import { deviceIdName } from "../virtio/device_ids.ts";
import type { DriverQueueFactory } from "../virtqueue/types.ts";
import type { MmioBus, MmioWindowInfo } from "./mmio_bus.ts";
import { type MmioDriverParts, MmioDriverTransport } from "./mmio_driver.ts";
import type { DriverRegistration, VirtioDriver } from "../virtio/driver.ts";

/** One window after probing. */
export interface BoundDevice {
  /** The window. */
  readonly window: MmioWindowInfo;
  /** The driver-side transport for the window. */
  readonly transport: MmioDriverTransport;
  /** The bound driver, or `null` (empty slot, no driver, or failure before binding). */
  readonly driver: VirtioDriver | null;
  /** What went wrong, if anything. */
  readonly error: string;
}

/** Options for {@linkcode VirtioBus}. */
export interface VirtioBusOptions {
  /** The MMIO bus whose windows are probed. */
  readonly bus: MmioBus;
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** The driver side's allocator. */
  readonly allocator: GuestAllocator;
  /** Conformance log. */
  readonly log: ConformanceLog;
  /** Learner replacements for driver-side transport steps. */
  readonly parts?: Partial<MmioDriverParts>;
  /** Builds driver-side queues (default: the reference split queue). */
  readonly queueFactory?: DriverQueueFactory;
}

/** Probes windows and binds drivers to the devices in them. */
export class VirtioBus {
  readonly #options: VirtioBusOptions;
  readonly #drivers = new Map<number, DriverRegistration>();
  #devices: BoundDevice[] = [];

  /**
   * Creates a driver core with no drivers registered.
   *
   * @param options Bus, memory, allocator, log, parts, queue factory.
   */
  constructor(options: VirtioBusOptions) {
    this.#options = options;
  }

  /**
   * Registers a driver for a device ID (one driver per ID).
   *
   * @throws {Error} If a driver is already registered for that ID.
   */
  register(registration: DriverRegistration): void {
    if (this.#drivers.has(registration.deviceId)) {
      throw new Error(`A driver for ${deviceIdName(registration.deviceId)} is already registered`);
    }
    this.#drivers.set(registration.deviceId, registration);
  }

  /** The devices found by {@linkcode probeAll}, in window order. */
  get devices(): readonly BoundDevice[] {
    return this.#devices;
  }

  /**
   * Probes every window in address order and brings up each device with a
   * registered driver. A failure is recorded on that device, not thrown.
   *
   * @returns Every window's outcome.
   */
  async probeAll(): Promise<readonly BoundDevice[]> {
    const { bus, memory, allocator, log, parts, queueFactory } = this.#options;
    this.#devices = [];
    for (const window of bus.windows) {
      const transport = new MmioDriverTransport({
        window: bus.window(window.base),
        memory,
        allocator,
        log,
        name: `${window.name}@0x${window.base.toString(16)}`,
        parts,
        queueFactory,
      });
      let driver: VirtioDriver | null = null;
      let error = "";
      try {
        const found = transport.probe();
        if (found.kind === "device") {
          const registration = this.#drivers.get(found.deviceId);
          if (!registration) {
            error = `no driver for ${deviceIdName(found.deviceId)}`;
          } else {
            driver = registration.create();
            bus.onInterrupt(window.irq, () => transport.handleInterrupt());
            await transport.initialize(driver);
          }
        } else if (found.kind === "rejected") {
          error = found.reason;
        }
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      this.#devices.push({ window, transport, driver, error });
    }
    return this.#devices;
  }

  /**
   * The first live device of a type.
   *
   * @param deviceId Device ID.
   * @returns The bound device, or `undefined`.
   */
  find(deviceId: number): BoundDevice | undefined {
    return this.#devices.find((d) => d.transport.deviceId === deviceId && d.driver !== null);
  }
}
