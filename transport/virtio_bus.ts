/**
 * The driver core: like the Linux virtio bus, it probes every virtio-mmio
 * window, binds each device found to the driver registered for its device ID
 * (the `bindDriver` part), runs the bring-up of §3.1.1 (the transport's
 * `initialize`, through the `initializeDevice` part) and routes the window's
 * interrupt line to the transport's handler.
 *
 * @module
 */

import type { GuestMemory } from "../memory/guest_memory.ts";
import type { GuestAllocator } from "../memory/allocator.ts";
import type { ConformanceLog } from "../conformance/log.ts";
import { deviceIdName } from "../virtio/device_ids.ts";
import type { DriverQueueFactory } from "../virtqueue/types.ts";
import type { MmioBus, MmioWindowInfo } from "./mmio_bus.ts";
import { MmioDriverTransport } from "./mmio_driver.ts";
import type { QueueAreaAllocator } from "./driver_queues.ts";
import {
  type DriverCoreParts,
  type MmioDriverParts,
  REFERENCE_DRIVER_CORE_PARTS,
} from "./parts.ts";
import type { DriverRegistration, VirtioDriver } from "../virtio/driver.ts";

/** One window after probing. */
export interface BoundDevice {
  /** The window. */
  readonly window: MmioWindowInfo;
  /** The driver-side transport for the window. */
  readonly transport: MmioDriverTransport;
  /** The bound driver, or `null` (empty slot, no driver, or a bring-up that failed: see `error`). */
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
  /** Other implementations of driver-side transport steps. */
  readonly parts?: Partial<MmioDriverParts>;
  /** Other implementations of the driver core's steps (`bindDriver`, `initializeDevice`). */
  readonly coreParts?: Partial<DriverCoreParts>;
  /** Allocates a queue's three areas (default: the split ring's reference allocation). */
  readonly allocateQueueAreas?: QueueAreaAllocator;
  /** Builds driver-side queues (default: the reference split queue). */
  readonly queueFactory?: DriverQueueFactory;
  /** Drive legacy (Version 1) windows too (see `MmioDriverTransportOptions.legacy`; default `false`). */
  readonly legacy?: boolean;
  /** Builds driver-side packed queues; when given, drivers accept `VIRTIO_F_RING_PACKED` (see `MmioDriverTransport`). */
  readonly packedQueueFactory?: DriverQueueFactory;
  /** Allocates a packed queue's three areas (default: `allocatePackedQueueAreas`). */
  readonly allocatePackedQueueAreas?: QueueAreaAllocator;
}

/** Probes windows and binds drivers to the devices in them. */
export class VirtioBus {
  /** The driver core steps in use. */
  readonly core: DriverCoreParts;
  readonly #options: VirtioBusOptions;
  readonly #drivers = new Map<number, DriverRegistration>();
  #devices: BoundDevice[] = [];
  #unroute: (() => void)[] = [];

  /**
   * Creates a driver core with no drivers registered.
   *
   * @param options Bus, memory, allocator, log, parts, queue factory.
   */
  constructor(options: VirtioBusOptions) {
    this.#options = options;
    this.core = { ...REFERENCE_DRIVER_CORE_PARTS, ...options.coreParts };
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
   * Probes every window in address order, binds each device to a driver
   * (`bindDriver`) and brings it up. A failure is recorded on that device,
   * not thrown. Probing again starts over: the interrupt lines of the
   * previous probe no longer reach its transports.
   *
   * @returns Every window's outcome.
   */
  async probeAll(): Promise<readonly BoundDevice[]> {
    const { bus, memory, allocator, log, parts, queueFactory, allocateQueueAreas, legacy } =
      this.#options;
    const { packedQueueFactory, allocatePackedQueueAreas } = this.#options;
    for (const unroute of this.#unroute) unroute();
    this.#unroute = [];
    this.#devices = [];
    const registrations = [...this.#drivers.values()];
    for (const window of bus.windows) {
      const transport = new MmioDriverTransport({
        window: bus.window(window.base),
        memory,
        allocator,
        log,
        name: `${window.name}@0x${window.base.toString(16)}`,
        parts,
        coreParts: this.core,
        allocateQueueAreas,
        queueFactory,
        legacy,
        packedQueueFactory,
        allocatePackedQueueAreas,
      });
      let driver: VirtioDriver | null = null;
      let error = "";
      try {
        const binding = this.core.bindDriver(transport.probe(), registrations);
        driver = binding.driver;
        error = binding.reason;
        if (driver) {
          this.#unroute.push(bus.onInterrupt(window.irq, () => transport.handleInterrupt()));
          await transport.initialize(driver);
        }
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        // A driver whose bring-up failed is not bound: the transport set
        // FAILED and removed it, and no request of its can be served.
        driver = null;
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
