/**
 * A lab machine: guest RAM, an MMIO bus, a virtio-blk device and a
 * virtio-console device in virtio-mmio windows, an empty slot, and the
 * drivers probed and bound, like a small VM whose guest kernel has just
 * finished booting its virtio drivers.
 *
 * The windows follow the device-tree example of virtio v1.2 §4.2.1: the block
 * device at 0x1e000 (0x200 bytes, interrupt 42), the console next to it at
 * 0x1e200 (interrupt 43), and an empty slot (DeviceID 0) at 0x1e400
 * (interrupt 44), as boards like QEMU's `virt` have many.
 *
 * Every mechanism the course teaches is a part of the registry (`parts.ts`)
 * that `createMachine({ parts })` replaces function by function: that is how a
 * learner's parts run the same console and disk as the reference ones. Memory,
 * the device models and the drivers can be replaced whole too (tests use it).
 *
 * @module
 */

import { GuestMemory } from "./memory/guest_memory.ts";
import { GuestAllocator } from "./memory/allocator.ts";
import { ConformanceLog } from "./conformance/log.ts";
import { deviceIdName } from "./virtio/device_ids.ts";
import { featureNames } from "./virtio/features.ts";
import { MmioBus, type MmioWindowInfo } from "./transport/mmio_bus.ts";
import { EmptyMmioSlot, MmioDeviceTransport } from "./transport/mmio_device.ts";
import type { MmioDriverTransport } from "./transport/mmio_driver.ts";
import type { DriverRegistration } from "./virtio/driver.ts";
import { type BoundDevice, VirtioBus } from "./transport/virtio_bus.ts";
import type { VirtioDevice } from "./virtio/device.ts";
import type { VirtioDriver } from "./virtio/driver.ts";
import { type BlockBackend, MemoryBlockBackend } from "./devices/blk/backends.ts";
import { VirtioBlockDevice } from "./devices/blk/device.ts";
import { VirtioBlockDriver } from "./devices/blk/driver.ts";
import { type ConsoleBackend, MemoryConsoleBackend } from "./devices/console/backends.ts";
import { VirtioConsoleDevice } from "./devices/console/device.ts";
import { VirtioConsoleDriver } from "./devices/console/driver.ts";
import { referenceDrivers } from "./devices/mod.ts";
import { checkMachineParts, type MachineParts, replacedParts, resolveParts } from "./parts.ts";
import { createSplitQueueDeviceFactory } from "./virtqueue/device_queue.ts";
import { createSplitQueueDriverFactory } from "./virtqueue/driver_queue.ts";

export type { MachineParts };

/** Where one virtio-mmio window sits: base address, interrupt line, device-tree node name. */
export interface MachineWindow {
  /** Guest-physical base address. */
  readonly base: number;
  /** Interrupt line. */
  readonly irq: number;
  /** Device-tree node name. */
  readonly name: string;
}

/** Guest-physical address of RAM: 1 GiB, as on many ARM boards. */
export const MACHINE_RAM_BASE = 0x4000_0000;
/** Default RAM size: 16 MiB (bytes). */
export const MACHINE_RAM_SIZE = 16 * 1024 * 1024;
/** The block device's window: the §4.2.1 example, `virtio_block@1e000`, interrupt 42. */
export const BLOCK_WINDOW: MachineWindow = Object.freeze({
  base: 0x1e000,
  irq: 42,
  name: "virtio_block",
});
/** The console's window, right after the block device's, interrupt 43. */
export const CONSOLE_WINDOW: MachineWindow = Object.freeze({
  base: 0x1e200,
  irq: 43,
  name: "virtio_console",
});
/** An empty slot (DeviceID 0), interrupt 44: drivers must skip it silently. */
export const EMPTY_WINDOW: MachineWindow = Object.freeze({
  base: 0x1e400,
  irq: 44,
  name: "virtio_mmio",
});
/** Size of the built-in disk used when none is given: 4 MiB (bytes). */
export const BUILTIN_DISK_SIZE = 4 * 1024 * 1024;

/** Options for {@linkcode createMachine}. */
export interface MachineOptions {
  /** RAM to use (e.g. wrapped memory); default: fresh RAM at {@linkcode MACHINE_RAM_BASE}. */
  readonly memory?: GuestMemory;
  /** Size of fresh RAM in bytes (default {@linkcode MACHINE_RAM_SIZE}). */
  readonly ramSize?: number;
  /** The conformance log; default: a new one. */
  readonly log?: ConformanceLog;
  /** Make the new log strict (every violation throws). */
  readonly strict?: boolean;
  /** The disk behind virtio-blk; default: the built-in in-memory disk. The machine takes ownership. */
  readonly disk?: BlockBackend;
  /** The console's byte stream; default: a {@linkcode MemoryConsoleBackend}. The machine takes ownership. */
  readonly console?: ConsoleBackend;
  /** Replace the block device model. */
  readonly blockDevice?: VirtioDevice;
  /** Replace the console device model. */
  readonly consoleDevice?: VirtioDevice;
  /**
   * Replacements for some of the registry's parts (`parts.ts`), e.g. a
   * learner's: `{ transport: { driver: { probeWindow } } }`. Everything left
   * out is the reference.
   */
  readonly parts?: MachineParts;
  /** Drivers to bind (default: the reference console and block drivers). */
  readonly drivers?: readonly DriverRegistration[];
  /**
   * The feature bits the devices may offer (default: all they support). The
   * course withholds `VIRTIO_F_INDIRECT_DESC`, `VIRTIO_F_EVENT_IDX` and
   * `VIRTIO_F_RING_RESET` until their lessons pass, so that code written for an
   * earlier lesson never meets them.
   */
  readonly featureMask?: bigint;
  /** Map an empty slot (DeviceID 0) at {@linkcode EMPTY_WINDOW} (default true). */
  readonly emptySlot?: boolean;
  /**
   * The machine's one error sink: called with every error thrown where no
   * caller can take it (an interrupt handler or a strict log's storm report
   * in the bus's delivery microtask, a device model's backend reaction or
   * timer), and `where` it happened, e.g. `"virtio-console receive (backend
   * input)"`. The device has already done what the spec asks (a broken queue,
   * DEVICE_NEEDS_RESET) before the error arrives. Every error is also kept in
   * {@linkcode LabMachine.errors}. Default: print one line to stderr.
   */
  readonly onError?: (error: unknown, where: string) => void;
}

/** One error the machine caught where no caller could ({@linkcode LabMachine.errors}). */
export interface MachineError {
  /** What was thrown: a `ConformanceError` from a strict log, or a part's own error. */
  readonly error: unknown;
  /** Where it was thrown, e.g. `"IRQ 43 storm detection"`. */
  readonly where: string;
}

/** How many errors {@linkcode LabMachine.errors} keeps (the latest). */
export const MACHINE_ERRORS_KEPT = 100;

/** The one-line form of a machine error, as the default sink prints it. */
export function formatMachineError(error: unknown, where: string): string {
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `virtio-lab: ${where}: ${what}`.replace(/\s*\n\s*/g, " ");
}

/**
 * The error sink of a machine: keeps the last {@linkcode MACHINE_ERRORS_KEPT}
 * errors and hands each to `onError` (default: one line on stderr). A sink
 * that throws is not allowed to escape either.
 */
class ErrorSink {
  readonly errors: MachineError[] = [];
  dropped = 0;
  readonly #onError: (error: unknown, where: string) => void;

  constructor(onError?: (error: unknown, where: string) => void) {
    this.#onError = onError ?? ((error, where) => console.error(formatMachineError(error, where)));
  }

  readonly report = (error: unknown, where: string): void => {
    this.errors.push(Object.freeze({ error, where }));
    if (this.errors.length > MACHINE_ERRORS_KEPT) {
      this.errors.shift();
      this.dropped++;
    }
    try {
      this.#onError(error, where);
    } catch (thrown) {
      console.error(formatMachineError(thrown, `the onError hook (for ${where})`));
    }
  };
}

/** One device of the machine, both sides of it. */
export interface MachineDevice<D extends VirtioDriver> {
  /** Its window on the bus. */
  readonly window: MmioWindowInfo;
  /** The device model. */
  readonly device: VirtioDevice;
  /** The device-side transport in the window. */
  readonly transport: MmioDeviceTransport;
  /** The driver-side transport for the window. */
  readonly driverTransport: MmioDriverTransport;
  /** The bound driver, or `null` if binding failed (see {@linkcode error}). */
  readonly driver: D | null;
  /** Why no driver is bound, or `""`. */
  readonly error: string;
  /**
   * Recovers the device after it set DEVICE_NEEDS_RESET (a broken queue, a
   * request it could not complete) or after the driver set FAILED: resets
   * it, settles what it dropped (each request with a `"needs-reset"` or
   * `"reset"` error), and brings it up again with the features negotiated
   * before; the same {@linkcode driver} serves requests afterwards, and
   * requests made meanwhile wait for it. See `MmioDriverTransport.recover`.
   *
   * @returns `true` once the device is live again; `false` if it needed no reset.
   * @throws {Error} If no driver is bound (see {@linkcode error}), or the
   *   reset or the new bring-up failed (the device is then FAILED and its
   *   driver removed: every request settles).
   */
  recover(): Promise<boolean>;
}

/** One row of {@linkcode LabMachine.devices}: what the guest found in a window. */
export interface DeviceSummary {
  /** Device-tree node, e.g. `"virtio_block@1e000"`. */
  readonly node: string;
  /** Window base address. */
  readonly base: number;
  /** Interrupt line. */
  readonly irq: number;
  /** DeviceID (0 for an empty slot). */
  readonly deviceId: number;
  /** Such as `"virtio-blk"`. */
  readonly type: string;
  /** VendorID. */
  readonly vendorId: number;
  /** The bound driver's name, or `""`. */
  readonly driver: string;
  /** Driver-side state: `"live"`, `"empty"`, `"failed"`, ... */
  readonly state: string;
  /** The status byte as the driver reads it. */
  readonly status: string;
  /** Names of the negotiated feature bits. */
  readonly features: readonly string[];
  /** Queue sizes in use, by queue index. */
  readonly queues: readonly { readonly index: number; readonly size: number }[];
  /** What went wrong, or `""`. */
  readonly error: string;
}

/** Per-queue traffic, for `stats` in the lab shell. */
export interface QueueTraffic {
  /** Device-tree node of the device. */
  readonly node: string;
  /** Queue index. */
  readonly queue: number;
  /** The queue's role, e.g. `"requestq"`, `"receiveq"`. */
  readonly role: string;
  /** Chains the device took from the available ring (requests). */
  readonly requests: number;
  /** Bytes the device read from device-readable buffers. */
  readonly bytesRead: number;
  /** Bytes the device wrote (used lengths). */
  readonly bytesWritten: number;
  /** Available buffer notifications the driver sent. */
  readonly notifications: number;
  /** Used buffer notifications the device sent. */
  readonly interrupts: number;
}

const QUEUE_ROLES: Readonly<Record<string, readonly string[]>> = {
  "virtio-blk": ["requestq"],
  "virtio-console": ["receiveq", "transmitq"],
};

/** A machine built by {@linkcode createMachine}. */
export class LabMachine {
  /** Guest RAM. */
  readonly memory: GuestMemory;
  /** The driver side's allocator over RAM. */
  readonly allocator: GuestAllocator;
  /** Where both sides report the rules the other broke. */
  readonly log: ConformanceLog;
  /** The MMIO bus. */
  readonly bus: MmioBus;
  /** The driver core. */
  readonly virtio: VirtioBus;
  /** The virtio-blk device and its driver. */
  readonly blk: MachineDevice<VirtioBlockDriver>;
  /** The virtio-console device and its driver. */
  readonly console: MachineDevice<VirtioConsoleDriver>;
  /** The parts that replace the reference ones (`createMachine`'s `parts`; `{}`: none). */
  readonly parts: MachineParts;
  readonly #backends: { close(): Promise<void> }[];
  readonly #sink: ErrorSink;
  #closed = false;

  /** Use {@linkcode createMachine}; this constructor expects a probed bus. */
  constructor(init: {
    memory: GuestMemory;
    allocator: GuestAllocator;
    log: ConformanceLog;
    bus: MmioBus;
    virtio: VirtioBus;
    blk: MachineDevice<VirtioBlockDriver>;
    console: MachineDevice<VirtioConsoleDriver>;
    backends: { close(): Promise<void> }[];
    sink?: ErrorSink;
    parts?: MachineParts;
  }) {
    this.memory = init.memory;
    this.allocator = init.allocator;
    this.log = init.log;
    this.bus = init.bus;
    this.virtio = init.virtio;
    this.blk = init.blk;
    this.console = init.console;
    this.parts = init.parts ?? {};
    this.#backends = init.backends;
    this.#sink = init.sink ?? new ErrorSink();
  }

  /**
   * Errors caught where no caller could take them (see
   * {@linkcode MachineOptions.onError}), oldest first: the last
   * {@linkcode MACHINE_ERRORS_KEPT}.
   */
  get errors(): readonly MachineError[] {
    return this.#sink.errors;
  }

  /** How many errors {@linkcode errors} dropped because it was full. */
  get errorsDropped(): number {
    return this.#sink.dropped;
  }

  /**
   * Hands an error to the machine's sink, as its devices and bus do: kept in
   * {@linkcode errors} and passed to {@linkcode MachineOptions.onError}. For
   * code that drives the machine from callbacks of its own. Never throws.
   *
   * @param error What was thrown.
   * @param where Where, in words.
   */
  reportError(error: unknown, where: string): void {
    this.#sink.report(error, where);
  }

  /** What the guest found in every window, in address order. */
  devices(): DeviceSummary[] {
    return this.virtio.devices.map((bound) => {
      const t = bound.transport;
      const found = t.probed;
      const deviceId = found.kind === "device" ? found.deviceId : 0;
      const model = this.#modelAt(bound.window.base);
      return {
        node: `${bound.window.name}@${bound.window.base.toString(16)}`,
        base: bound.window.base,
        irq: bound.window.irq,
        deviceId,
        type: found.kind === "device"
          ? deviceIdName(deviceId)
          : found.kind === "empty"
          ? "empty slot"
          : "rejected",
        vendorId: found.kind === "device" ? found.vendorId : 0,
        driver: bound.driver?.name ?? "",
        state: t.state,
        status: found.kind === "device" ? t.status.toString() : "",
        features: featureNames(t.features, model?.featureNames ?? {}),
        queues: [...t.queues].map(([index, q]) => ({ index, size: q.size })),
        error: bound.error,
      };
    });
  }

  /** Traffic per queue, from the device side's counters. */
  traffic(): QueueTraffic[] {
    const rows: QueueTraffic[] = [];
    for (const dev of [this.blk, this.console]) {
      const transport = dev.transport;
      const stats = transport.queueStats();
      const roles = QUEUE_ROLES[deviceIdName(dev.device.deviceId)] ?? [];
      stats.forEach((s, index) => {
        const q = transport.liveQueue(index)?.stats;
        rows.push({
          node: `${dev.window.name}@${dev.window.base.toString(16)}`,
          queue: index,
          role: roles[index] ?? `queue ${index}`,
          requests: q?.chains ?? 0,
          bytesRead: q?.bytesRead ?? 0,
          bytesWritten: q?.bytesWritten ?? 0,
          notifications: s.notifications,
          interrupts: s.interrupts,
        });
      });
    }
    return rows;
  }

  /** The machine's device tree as DTS text (§4.2.1). */
  dts(): string {
    return this.bus.dts();
  }

  /** Waits until no interrupt delivery is pending. */
  idle(): Promise<void> {
    return this.bus.idle();
  }

  /**
   * Unbinds the drivers, resets the devices and closes the backends (the
   * terminal leaves raw mode, sockets are removed, image files are closed).
   * Calling it twice does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.console.driver?.close().catch(() => {});
    for (const bound of this.virtio.devices) {
      if (bound.driver && bound.transport.state !== "empty") {
        try {
          bound.transport.shutdown();
        } catch {
          // A learner's device may misbehave on the way down; closing goes on.
        }
      }
    }
    for (const backend of this.#backends) await backend.close().catch(() => {});
  }

  #modelAt(base: number): VirtioDevice | undefined {
    return [this.blk, this.console].find((d) => d.window.base === base)?.device;
  }

  /** Text form for the REPL. */
  [Symbol.for("Deno.customInspect")](): string {
    const lines = ["LabMachine"];
    for (const d of this.devices()) {
      lines.push(
        `  ${d.node.padEnd(20)} irq ${d.irq}  ${d.type.padEnd(14)} ${
          d.state.padEnd(6)
        } ${d.status}` +
          (d.error ? `  (${d.error})` : ""),
      );
    }
    const replaced = replacedParts(this.parts);
    lines.push(
      replaced.length === 0
        ? "  parts: the reference implementation throughout"
        : `  parts replaced (${replaced.length}): ${replaced.join(", ")}`,
    );
    lines.push(`  ${this.log.entries.length} conformance violation(s) logged`);
    return lines.join("\n");
  }
}

/**
 * The disk used when none is given: 4 MiB in memory whose first sectors hold a
 * short text, so that `disk read 0` shows something on a fresh machine.
 */
export function builtinDisk(): MemoryBlockBackend {
  const data = new Uint8Array(BUILTIN_DISK_SIZE);
  const text = [
    "virtio-lab built-in disk: 4 MiB of RAM behind a virtio-blk device.\n",
    "Sector 0 is where a real disk keeps its partition table.\n",
    "Boot with --disk FILE to serve a real image file instead.\n",
  ].join("");
  const sectors: Record<number, string> = {
    0: text,
    1: "Sector 1: each sector is 512 bytes; capacity is counted in sectors (virtio 1.2 section 5.2.4).\n",
    2: "Hello from sector 2! This text travelled driver -> virtqueue -> MMIO -> device -> backend and back.\n",
    3: "Sector 3: requests carry a 16-byte header, the data, and a 1-byte status (section 5.2.6).\n",
  };
  for (const [sector, s] of Object.entries(sectors)) {
    data.set(new TextEncoder().encode(s), Number(sector) * 512);
  }
  return new MemoryBlockBackend(data, { id: "virtio-lab-builtin" });
}

/**
 * Builds a machine and runs the guest's driver probe: on return every window
 * has been probed and the console and block drivers are live (unless a
 * replaced part broke something, which {@linkcode MachineDevice.error} says).
 *
 * @param options What to replace; everything defaults to the reference parts.
 * @returns The machine.
 * @throws {RangeError} If the RAM options are invalid.
 * @throws {PartError} If `parts` names a part the registry does not have, or
 *   gives something other than a function for one.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMachine } from "./machine.ts";
 * const machine = await createMachine();
 * const bytes = await machine.blk.driver!.read(2, 1); // sector 2 of the built-in disk
 * assert.equal(bytes.length, 512);
 * const types = machine.devices().map((d) => d.type);
 * assert.deepEqual(types, ["virtio-blk", "virtio-console", "empty slot"]);
 * await machine.close();
 * ```
 */
export async function createMachine(options: MachineOptions = {}): Promise<LabMachine> {
  const memory = options.memory ??
    new GuestMemory(options.ramSize ?? MACHINE_RAM_SIZE, { base: MACHINE_RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = options.log ?? new ConformanceLog({ strict: options.strict ?? false });
  const sink = new ErrorSink(options.onError);
  const bus = new MmioBus({ log, onError: sink.report });
  const parts = options.parts;
  checkMachineParts(parts);
  const disk = options.disk ?? builtinDisk();
  const consoleBackend = options.console ?? new MemoryConsoleBackend();
  const blockDevice = options.blockDevice ??
    new VirtioBlockDevice(disk, {
      parts: resolveParts(parts, "blk", "device"),
      onError: sink.report,
    });
  const consoleDevice = options.consoleDevice ??
    new VirtioConsoleDevice(consoleBackend, {
      parts: resolveParts(parts, "console", "device"),
      onError: sink.report,
    });
  const transportDeviceParts = resolveParts(parts, "transport", "device");
  const deviceQueueFactory = createSplitQueueDeviceFactory(
    resolveParts(parts, "virtqueue", "device"),
  );
  const ringDriverParts = resolveParts(parts, "virtqueue", "driver");
  const place = (device: VirtioDevice, at: MachineWindow) => {
    const transport = new MmioDeviceTransport(device, {
      memory,
      log,
      name: `${device.name}@0x${at.base.toString(16)}`,
      parts: transportDeviceParts,
      queueFactory: deviceQueueFactory,
      featureMask: options.featureMask,
    });
    return { transport, window: bus.map(at.base, transport, { irq: at.irq, name: at.name }) };
  };
  const blk = place(blockDevice, BLOCK_WINDOW);
  const con = place(consoleDevice, CONSOLE_WINDOW);
  if (options.emptySlot ?? true) {
    const slot = new EmptyMmioSlot(log, `virtio_mmio@0x${EMPTY_WINDOW.base.toString(16)}`);
    bus.map(EMPTY_WINDOW.base, slot, { irq: EMPTY_WINDOW.irq, name: EMPTY_WINDOW.name });
  }

  const virtio = new VirtioBus({
    bus,
    memory,
    allocator,
    log,
    parts: resolveParts(parts, "transport", "driver"),
    coreParts: resolveParts(parts, "core", "driver"),
    queueFactory: createSplitQueueDriverFactory(ringDriverParts),
    // The areas are sized by the splitQueueLayout part, handed to the
    // allocation part: each of the two may be replaced alone.
    allocateQueueAreas: (allocator, size) =>
      ringDriverParts.allocateQueueAreas(allocator, size, ringDriverParts.splitQueueLayout),
  });
  const drivers = options.drivers ?? referenceDrivers({
    blk: { parts: resolveParts(parts, "blk", "driver") },
    console: { parts: resolveParts(parts, "console", "driver") },
  });
  for (const registration of drivers) virtio.register(registration);
  await virtio.probeAll();
  await bus.idle();

  const bound = (window: MmioWindowInfo) =>
    virtio.devices.find((d) => d.window.base === window.base)!;
  const blkBound = bound(blk.window);
  const conBound = bound(con.window);
  return new LabMachine({
    memory,
    allocator,
    log,
    bus,
    virtio,
    blk: {
      window: blk.window,
      device: blockDevice,
      transport: blk.transport,
      driverTransport: blkBound.transport,
      driver: blkBound.driver instanceof VirtioBlockDriver ? blkBound.driver : null,
      error: blkBound.error,
      recover: () => recoverBound(blkBound),
    },
    console: {
      window: con.window,
      device: consoleDevice,
      transport: con.transport,
      driverTransport: conBound.transport,
      driver: conBound.driver instanceof VirtioConsoleDriver ? conBound.driver : null,
      error: conBound.error,
      recover: () => recoverBound(conBound),
    },
    backends: [consoleBackend, disk],
    sink,
    parts,
  });
}

/** Recovers a bound device (`MachineDevice.recover`); refuses one whose bring-up failed. */
function recoverBound(bound: BoundDevice): Promise<boolean> {
  if (!bound.driver) {
    return Promise.reject(
      new Error(
        `${bound.transport.name}: no driver is bound${bound.error ? ` (${bound.error})` : ""}`,
      ),
    );
  }
  return bound.transport.recover();
}
