/**
 * A small lab machine for the device tests: guest RAM, a conformance log, an
 * MMIO bus with one device window at 0x1e000 (IRQ 42), and the driver core
 * with one driver registered, probed and bound. Everything is the reference
 * implementation; tests reach each layer through the returned object.
 *
 * `RawDriver` is a driver that does nothing but set up queues, so a test can
 * post hand-made (and broken) chains straight to a device model.
 *
 * @module
 */

import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { features, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import { MmioBus } from "../../transport/mmio_bus.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import type { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import type { VirtioDevice } from "../../virtio/device.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import type { DriverRegistration } from "../../virtio/driver.ts";
import { VirtioBus } from "../../transport/virtio_bus.ts";
import type {
  BufferSegment,
  DescriptorChain,
  DeviceQueue,
  DeviceQueueFactory,
  DriverQueue,
} from "../../virtqueue/types.ts";
import { splitQueueDeviceFactory } from "../../virtqueue/device_queue.ts";
import { copyChain } from "../../virtqueue/chain.ts";

/** Where the device window sits. */
export const WINDOW = 0x1e000;
/** The window's interrupt line. */
export const IRQ = 42;
/** Guest RAM base. */
export const RAM_BASE = 0x4000_0000;

/** Options for {@linkcode buildStack}. */
export interface StackOptions {
  /** Guest RAM size in bytes (default 16 MiB). */
  readonly memorySize?: number;
  /** Strict conformance log (default false). */
  readonly strict?: boolean;
  /** Device-side queue factory (default: the reference split queue). */
  readonly deviceQueueFactory?: DeviceQueueFactory;
}

/** What {@linkcode buildStack} returns. */
export interface Stack<D extends VirtioDriver> {
  readonly memory: GuestMemory;
  readonly allocator: GuestAllocator;
  readonly log: ConformanceLog;
  readonly bus: MmioBus;
  readonly deviceTransport: MmioDeviceTransport;
  readonly virtioBus: VirtioBus;
  readonly driverTransport: MmioDriverTransport;
  readonly driver: D;
  /** Waits until interrupt deliveries and the microtasks they start have run. */
  settle(): Promise<void>;
  /** Unbinds the driver and resets the device (the driver's `remove` runs). */
  shutdown(): void;
}

/** Memory, log and bus with the device mapped, but no driver yet. */
export function buildMachine(device: VirtioDevice, options: StackOptions = {}) {
  const memory = new GuestMemory(options.memorySize ?? 16 * 1024 * 1024, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog({ strict: options.strict ?? false });
  const bus = new MmioBus({ log });
  const name = `${device.name}@0x${WINDOW.toString(16)}`;
  const deviceTransport = new MmioDeviceTransport(device, {
    memory,
    log,
    name,
    queueFactory: options.deviceQueueFactory,
  });
  bus.map(WINDOW, deviceTransport, { irq: IRQ, name: device.name.replace("-", "_") });
  return { memory, allocator, log, bus, deviceTransport };
}

/**
 * Builds the machine, registers `registration` and probes: the driver is
 * bound and live when this resolves.
 *
 * @throws {Error} If binding failed (with the driver core's reason).
 */
export async function buildStack<D extends VirtioDriver>(
  device: VirtioDevice,
  registration: DriverRegistration,
  options: StackOptions = {},
): Promise<Stack<D>> {
  const machine = buildMachine(device, options);
  const { memory, allocator, log, bus } = machine;
  const virtioBus = new VirtioBus({ bus, memory, allocator, log });
  virtioBus.register(registration);
  const [bound] = await virtioBus.probeAll();
  if (!bound || bound.error || !bound.driver) {
    throw new Error(`Binding failed: ${bound?.error ?? "no window"}\n${log.format()}`);
  }
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      await bus.idle();
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (!bus.interruptLevel(IRQ)) return;
    }
  };
  return {
    ...machine,
    virtioBus,
    driverTransport: bound.transport,
    driver: bound.driver as D,
    settle,
    shutdown: () => bound.transport.shutdown(),
  };
}

/** A registration for a driver instance built by the test. */
export function registration(driver: VirtioDriver): DriverRegistration {
  return { deviceId: driver.deviceId, name: driver.name, create: () => driver };
}

/** A used entry as the raw driver reaped it. */
export interface RawUsed {
  readonly token: number;
  readonly len: number;
}

/**
 * A driver that only sets up queues: tests post chains by hand with
 * {@linkcode RawDriver.post} and get the used entry back.
 */
export class RawDriver implements VirtioDriver {
  readonly name = "raw";
  readonly deviceId: number;
  readonly supportedFeatures: bigint;
  readonly queues: DriverQueue<number>[] = [];
  ctx!: VirtioDriverContext;
  readonly #queueCount: number;
  readonly #waiters = new Map<number, (used: RawUsed) => void>();
  #nextToken = 1;

  /**
   * @param deviceId The device ID to bind to.
   * @param queueCount Queues to set up (indices 0..n-1).
   * @param supported Features to accept (default VERSION_1 only: no indirect, no event index).
   */
  constructor(deviceId: number, queueCount: number, supported = features(VIRTIO_F_VERSION_1)) {
    this.deviceId = deviceId;
    this.#queueCount = queueCount;
    this.supportedFeatures = supported;
  }

  probe(ctx: VirtioDriverContext): void {
    this.ctx = ctx;
    for (let i = 0; i < this.#queueCount; i++) {
      const index = i;
      this.queues.push(ctx.setupQueue<number>(index, { onUsed: () => this.#reap(index) }));
    }
  }

  /** Allocates `len` bytes of guest memory filled with `fill`. */
  alloc(len: number, fill = 0): number {
    const addr = this.ctx.allocator.alloc(len, 16);
    this.ctx.memory.fill(addr, len, fill);
    return addr;
  }

  /**
   * Posts one chain on a queue and notifies; resolves with the used entry.
   * A chain the device never returns leaves the promise pending.
   */
  post(
    index: number,
    readable: readonly BufferSegment[],
    writable: readonly BufferSegment[],
  ): Promise<RawUsed> {
    const token = this.#nextToken++;
    const vq = this.queues[index];
    const done = new Promise<RawUsed>((resolve) => this.#waiters.set(token, resolve));
    vq.add(readable, writable, token, { indirect: "never" });
    if (vq.kickPrepare()) this.ctx.notify(index);
    return done;
  }

  #reap(index: number): void {
    const vq = this.queues[index];
    for (let used = vq.getBuf(); used; used = vq.getBuf()) {
      const waiter = this.#waiters.get(used.token);
      this.#waiters.delete(used.token);
      waiter?.({ token: used.token, len: used.len });
    }
  }
}

/** Builds the machine with a {@linkcode RawDriver} bound to the device. */
export async function buildRawStack(
  device: VirtioDevice,
  queueCount: number,
  options: StackOptions & { readonly supported?: bigint } = {},
): Promise<Stack<RawDriver>> {
  const driver = new RawDriver(device.deviceId, queueCount, options.supported);
  return await buildStack<RawDriver>(device, registration(driver), options);
}

/** Records every chain the device pops, per queue, for shape assertions. */
export class ChainRecorder {
  readonly chains: { queue: number; chain: DescriptorChain }[] = [];

  /** A device queue factory that records pops, for {@linkcode StackOptions.deviceQueueFactory}. */
  readonly factory: DeviceQueueFactory = (config, onBroken) => {
    const inner = splitQueueDeviceFactory(config, onBroken);
    const chains = this.chains;
    const recording: DeviceQueue = {
      get index() {
        return inner.index;
      },
      get size() {
        return inner.size;
      },
      get broken() {
        return inner.broken;
      },
      get stats() {
        return inner.stats;
      },
      get streams() {
        return inner.streams;
      },
      hasAvailable: () => inner.hasAvailable(),
      pop: () => {
        const chain = inner.pop();
        // The queue refills its chain records once a head is pushed: keep a copy.
        if (chain) chains.push({ queue: config.index, chain: copyChain(chain) });
        return chain;
      },
      push: (head, len) => inner.push(head, len),
      needsInterrupt: () => inner.needsInterrupt(),
      disableNotifications: () => inner.disableNotifications(),
      enableNotifications: () => inner.enableNotifications(),
    };
    return recording;
  };
}

/** Waits until `predicate` holds, polling every few milliseconds. */
export async function until(
  predicate: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Reads from a stream until `bytes` bytes arrived; returns them (the reader stays usable). */
export async function readBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  bytes: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(bytes);
  let at = 0;
  while (at < bytes) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Stream ended after ${at} of ${bytes} bytes`);
    if (at + value.length > bytes) {
      throw new Error(
        `Stream delivered ${at + value.length} bytes, more than the ${bytes} expected`,
      );
    }
    out.set(value, at);
    at += value.length;
  }
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
