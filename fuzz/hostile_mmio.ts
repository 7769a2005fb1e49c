/**
 * The hostile device behind an MMIO window: the real block and console
 * drivers ({@linkcode VirtioBlockDriver}, {@linkcode VirtioConsoleDriver}),
 * bound through the real {@linkcode MmioDriverTransport}, against a register
 * file that answers identification and bring-up correctly and then, seeded,
 * misbehaves.
 *
 * The window is a reference device model and register file
 * ({@linkcode MmioDeviceTransport}) with a hostile layer in front: it returns
 * junk or stuck `InterruptStatus`, a `ConfigGeneration` that changes at every
 * read or configuration fields that change between reads, sets
 * DEVICE_NEEDS_RESET, withholds `QueueNotify` (the device never sees the
 * request), and rewrites the used ring the model wrote with the classes of
 * {@linkcode HOSTILE_COMPLETION_CLASSES} (bad ids, lengths beyond the
 * buffers, `idx` jumps and retreats). The driver's interrupt handler runs
 * when the line is up, or when the hostile layer forces it.
 *
 * The invariants checked after every step: nothing escapes a driver call or
 * the interrupt handler; once the driver knows the device is unusable
 * (DEVICE_NEEDS_RESET seen, a queue broken) every request settles within
 * {@linkcode SETTLE_STEPS} steps, with an error whose `code` says why (a
 * request waiting for a withheld completion on a healthy queue may wait); a
 * block read returns only the sectors it asked for, each as last written
 * (every sector carries its number and a write tag); console input reaches
 * the reader only as bytes the device sent, in order.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { GuestAllocator } from "../memory/allocator.ts";
import { MACHINE_RAM_BASE, type MachineParts } from "../machine.ts";
import { resolveParts } from "../parts.ts";
import { MmioDeviceTransport } from "../transport/mmio_device.ts";
import { MmioDriverTransport } from "../transport/mmio_driver.ts";
import type { InterruptLine, RegisterWindow } from "../transport/types.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_WINDOW_SIZE,
} from "../transport/mmio_registers.ts";
import { VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK } from "../virtio/status.ts";
import { VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING } from "../transport/mmio_registers.ts";
import { createSplitQueueDeviceFactory } from "../virtqueue/device_queue.ts";
import { createSplitQueueDriverFactory, SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { HEAD_PUBLISHED } from "../virtqueue/driver/ring.ts";
import {
  usedElemOffset,
  VIRTQ_USED_FLAGS_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../virtqueue/layout.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../devices/blk/device.ts";
import { VirtioBlockDriver } from "../devices/blk/driver.ts";
import type { ConsoleBackend } from "../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../devices/console/device.ts";
import { VirtioConsoleDriver } from "../devices/console/driver.ts";
import { FuzzMemory, RunawayReadsError } from "./memory.ts";
import type { FuzzRng } from "./rng.ts";
import { describe, type EpisodeSink } from "./hostile_driver.ts";
import { HOSTILE_COMPLETION_CLASSES } from "./hostile_device.ts";

/** RAM of an MMIO driver episode: 512 KiB. */
export const MMIO_FUZZ_RAM_SIZE = 512 * 1024;
/** Disk of a block episode: 64 KiB (128 sectors). */
export const MMIO_FUZZ_DISK_SIZE = 64 * 1024;
/** Loads the driver may make in one step. */
export const MMIO_STEP_READ_BUDGET = 200_000;
/**
 * Steps a request may stay unsettled once the driver knows the device is
 * unusable (it saw DEVICE_NEEDS_RESET or broke a queue).
 */
export const SETTLE_STEPS = 3;

/**
 * Register reads the driver may make while it brings the device up: far
 * more than the reference's bounded polls (1000 reads of Status for a reset,
 * 1000 of QueueReady to stop a queue), so more is a loop that never ends.
 */
export const BRINGUP_REGISTER_BUDGET = 50_000;

/** The drivers this module fuzzes. */
export type MmioDriverKind = "blk" | "console";

/** One class of hostile behaviour of the window. */
export interface HostileWindowClass {
  /** What the device does, in words. */
  readonly name: string;
  /** The rule it breaks: the driver must report it (`null`: only survive it). */
  readonly rule: RequirementId | null;
}

/**
 * The hostile classes of the window: the used-ring classes of the driver
 * half's fuzzer, delivered through the real driver, then the transport's own.
 */
export const HOSTILE_WINDOW_CLASSES: readonly HostileWindowClass[] = Object.freeze(
  [
    ...HOSTILE_COMPLETION_CLASSES.map((c) => ({ name: c.name, rule: c.rule })),
    { name: "junk InterruptStatus", rule: null },
    { name: "stuck InterruptStatus", rule: null },
    { name: "a ConfigGeneration that never settles", rule: null },
    { name: "configuration fields that change between reads", rule: null },
    { name: "DEVICE_NEEDS_RESET", rule: null },
  ] satisfies HostileWindowClass[],
);

/**
 * The hostile classes of a bring-up (§4.2.3.1, §3.1.1, §4.2.3.2): the
 * window lies while the driver probes, negotiates and sets up its queues,
 * then answers truthfully. With a `rule`, the driver must refuse the device
 * (the bring-up fails: the rule is then the one that makes it unusable) or
 * report the rule; with `null` it may go on or give up, but must not throw
 * anything but an `Error` that says why out of `initialize`, loop, or leave a
 * request of a failed bring-up waiting.
 */
export const HOSTILE_BRINGUP_CLASSES: readonly HostileWindowClass[] = Object.freeze(
  [
    { name: 'a MagicValue that is not "virt"', rule: "4.2.2.1/1" },
    { name: "a Version other than 2", rule: "4.2.2.1/2" },
    { name: "MagicValue and Version that change between reads", rule: null },
    { name: "a DeviceID that changes between reads", rule: null },
    { name: "DeviceFeatures that change between reads", rule: null },
    { name: "FEATURES_OK that does not stick", rule: "2.2.2/2" },
    { name: "a reset that never completes", rule: "2.4.1/1" },
    { name: "Status reads that lie", rule: null },
    { name: "QueueNumMax 0", rule: "3.1.1/5" },
    { name: "a QueueNumMax that is not a power of two", rule: null },
    { name: "a huge QueueNumMax", rule: null },
    { name: "QueueReady that does not read back 1", rule: "3.1.1/5" },
    { name: "QueueReady already 1 after the reset", rule: "4.2.2.1/5" },
    { name: "a ConfigGeneration that churns during probe", rule: null },
    { name: "configuration fields that change between reads during probe", rule: null },
  ] satisfies HostileWindowClass[],
);

/** Bytes of sector `sector` as written with tag `tag`: its number, the tag, then a pattern. */
function sectorBytes(sector: number, tag: number): Uint8Array {
  const out = new Uint8Array(512);
  const view = new DataView(out.buffer);
  view.setUint32(0, sector, true);
  view.setUint32(4, tag, true);
  for (let i = 8; i < 512; i++) out[i] = (sector * 31 + tag * 17 + i) & 0xff;
  return out;
}

/** Why a 512-byte block is not sector `sector` with a tag in `tags`, or `null` when it is. */
function checkSector(block: Uint8Array, sector: number, tags: ReadonlySet<number>): string | null {
  const view = new DataView(block.buffer, block.byteOffset, 512);
  const got = view.getUint32(0, true);
  const tag = view.getUint32(4, true);
  if (got !== sector) return `carries sector ${got}`;
  if (!tags.has(tag)) return `carries write tag ${tag}, never written there`;
  const want = sectorBytes(sector, tag);
  for (let i = 8; i < 512; i++) {
    if (block[i] !== want[i]) return `differs from what was written at byte ${i}`;
  }
  return null;
}

/** A console backend whose input the episode feeds, a chunk at a time. */
class ScriptedConsoleBackend implements ConsoleBackend {
  bytesOut = 0;
  #waiting: ((chunk: Uint8Array | null) => void) | null = null;
  #closed = false;

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Whether the device is waiting for input. */
  get waiting(): boolean {
    return this.#waiting !== null;
  }

  input(bytes: Uint8Array | null): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(bytes);
  }

  write(bytes: Uint8Array): Promise<void> {
    this.bytesOut += bytes.length;
    return Promise.resolve();
  }

  size(): null {
    return null;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.input(null);
    return Promise.resolve();
  }
}

/** A queue as the window saw the driver set it up. */
interface QueueSeen {
  size: number;
  usedAddr: number;
  /** The used `idx` the driver had reaped to at its last interrupt. */
  reaped: number;
}

/** The driver read registers without end while bringing the device up. */
export class RunawayRegisterReadsError extends Error {
  /** Register reads allowed. */
  readonly budget: number;
  /** Offset of the read that went over. */
  readonly offset: number;

  /**
   * @param budget Register reads allowed.
   * @param offset The offset of the read that went over.
   */
  constructor(budget: number, offset: number) {
    super(
      `More than ${budget.toLocaleString("en")} register reads in one bring-up (the last at ` +
        `offset 0x${offset.toString(16).padStart(3, "0")}): a loop that never ends`,
    );
    this.name = "RunawayRegisterReadsError";
    this.budget = budget;
    this.offset = offset;
  }
}

/**
 * The hostile layer: a {@linkcode RegisterWindow} over a device register
 * file that passes accesses through, except where a hostile mode is on.
 */
class HostileWindow implements RegisterWindow {
  readonly base = 0x1000_0000;
  readonly size = VIRTIO_MMIO_WINDOW_SIZE;
  readonly device: MmioDeviceTransport;
  readonly rng: FuzzRng;
  readonly memory: FuzzMemory;
  /** Reads of InterruptStatus left that return junk. */
  junkStatus = 0;
  /** Reads of InterruptStatus left that return {@linkcode stuckValue}. */
  stuckStatus = 0;
  stuckValue = 0;
  /** Bits OR'ed into the next InterruptStatus read (a forced interrupt). */
  forced = 0;
  /** Reads of ConfigGeneration left that return a new value each. */
  churnGeneration = 0;
  generation = 0;
  /** Reads of configuration space left that return junk. */
  junkConfig = 0;
  /** Steps left during which QueueNotify is dropped. */
  withhold = 0;
  /** Notifications dropped, by queue, to deliver when the device answers again. */
  readonly dropped = new Set<number>();
  /** Queues by index, from the driver's register writes. */
  readonly queues = new Map<number, QueueSeen>();
  /** The hostile bring-up class in force ({@linkcode HOSTILE_BRINGUP_CLASSES}), or `null`. */
  bringUp: string | null = null;
  /** Register reads left before the driver counts as looping (during a bring-up). */
  registerBudget = Infinity;
  /** Whether the driver went over {@linkcode registerBudget}. */
  runaway = false;
  /** Reads of each register during the bring-up. */
  readonly #bringUpReads = new Map<number, number>();
  #sel = 0;

  constructor(device: MmioDeviceTransport, rng: FuzzRng, memory: FuzzMemory) {
    this.device = device;
    this.rng = rng;
    this.memory = memory;
  }

  #queue(index: number): QueueSeen {
    let q = this.queues.get(index);
    if (!q) this.queues.set(index, q = { size: 0, usedAddr: 0, reaped: 0 });
    return q;
  }

  /** The device's accesses are not the driver's: they do not count against its budget. */
  #read(offset: number, width: 1 | 2 | 4): number {
    return this.memory.quietly(() => this.device.read(offset, width));
  }

  #write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset === VIRTIO_MMIO_QUEUE_SEL) this.#sel = value;
    if (offset === VIRTIO_MMIO_QUEUE_NUM) this.#queue(this.#sel).size = value;
    if (offset === VIRTIO_MMIO_QUEUE_USED_LOW) {
      const q = this.#queue(this.#sel);
      q.usedAddr = Math.floor(q.usedAddr / 2 ** 32) * 2 ** 32 + (value >>> 0);
      q.reaped = 0;
    }
    if (offset === VIRTIO_MMIO_QUEUE_USED_HIGH) {
      const q = this.#queue(this.#sel);
      q.usedAddr = (value >>> 0) * 2 ** 32 + (q.usedAddr % 2 ** 32);
    }
    if (offset === VIRTIO_MMIO_QUEUE_NOTIFY && this.withhold > 0) {
      this.dropped.add(value);
      return;
    }
    this.memory.quietly(() => this.device.write(offset, width, value));
  }

  /** Delivers the notifications dropped while withholding. */
  release(): void {
    this.withhold = 0;
    for (const index of this.dropped) {
      this.memory.quietly(() => this.device.write(VIRTIO_MMIO_QUEUE_NOTIFY, 4, index));
    }
    this.dropped.clear();
  }

  /** Turns every hostile register mode off. */
  calm(): void {
    this.junkStatus =
      this.stuckStatus =
      this.churnGeneration =
      this.junkConfig =
        0;
  }

  /** Counts a register read against the bring-up budget. */
  #count(offset: number): void {
    if (--this.registerBudget < 0) {
      this.runaway = true;
      throw new RunawayRegisterReadsError(BRINGUP_REGISTER_BUDGET, offset);
    }
  }

  /** What the register reads under the hostile bring-up class, or `undefined` for the truth. */
  #lie(offset: number, width: 1 | 2 | 4): number | undefined {
    const rng = this.rng;
    const n = (this.#bringUpReads.get(offset) ?? 0) + 1;
    this.#bringUpReads.set(offset, n);
    const truth = () => this.#read(offset, width);
    switch (this.bringUp) {
      case 'a MagicValue that is not "virt"':
        if (offset !== VIRTIO_MMIO_MAGIC_VALUE) return undefined;
        return rng.pick([
          0,
          0xffff_ffff,
          0x76697274,
          (VIRTIO_MMIO_MAGIC ^ (1 << rng.below(32))) >>> 0,
        ]);
      case "a Version other than 2":
        if (offset !== VIRTIO_MMIO_VERSION) return undefined;
        return rng.pick([0, 3, 0xffff_ffff, 0x200]);
      case "MagicValue and Version that change between reads":
        if (offset !== VIRTIO_MMIO_MAGIC_VALUE && offset !== VIRTIO_MMIO_VERSION) return undefined;
        return n % 2 === 1 ? truth() : rng.u32();
      case "a DeviceID that changes between reads":
        if (offset !== VIRTIO_MMIO_DEVICE_ID) return undefined;
        return n === 1 ? truth() : rng.pick([0, 1, 2, 3, 0x1234, rng.u32()]);
      case "DeviceFeatures that change between reads":
        if (offset !== VIRTIO_MMIO_DEVICE_FEATURES) return undefined;
        return (truth() ^ (rng.u32() & rng.u32())) >>> 0;
      case "FEATURES_OK that does not stick":
        if (offset !== VIRTIO_MMIO_STATUS) return undefined;
        return truth() & ~VIRTIO_CONFIG_S_FEATURES_OK;
      case "a reset that never completes":
        if (offset !== VIRTIO_MMIO_STATUS) return undefined;
        // Stuck with bits set, never FAILED: whether the driver sets FAILED stays observable.
        return truth() | rng.pick([1, 3, 0x40]);
      case "Status reads that lie":
        if (offset !== VIRTIO_MMIO_STATUS || rng.chance(0.5)) return undefined;
        return rng.below(256);
      case "QueueNumMax 0":
        return offset === VIRTIO_MMIO_QUEUE_NUM_MAX ? 0 : undefined;
      case "a QueueNumMax that is not a power of two":
        return offset === VIRTIO_MMIO_QUEUE_NUM_MAX ? rng.pick([3, 5, 6, 7, 100, 255]) : undefined;
      case "a huge QueueNumMax":
        return offset === VIRTIO_MMIO_QUEUE_NUM_MAX
          ? rng.pick([0x8000, 0x1_0000, 0xffff_ffff])
          : undefined;
      case "QueueReady that does not read back 1":
        return offset === VIRTIO_MMIO_QUEUE_READY ? rng.pick([0, 0, 2, 0xffff_ffff]) : undefined;
      case "QueueReady already 1 after the reset":
        return offset === VIRTIO_MMIO_QUEUE_READY ? 1 : undefined;
      case "a ConfigGeneration that churns during probe":
        if (offset !== VIRTIO_MMIO_CONFIG_GENERATION) return undefined;
        return this.generation = (this.generation + 1 + rng.below(7)) >>> 0;
      case "configuration fields that change between reads during probe":
        if (offset < VIRTIO_MMIO_CONFIG || n > 40) return undefined;
        this.generation = (this.generation + 1) >>> 0;
        return rng.u32() & (width === 4 ? 0xffff_ffff : width === 2 ? 0xffff : 0xff);
    }
    return undefined;
  }

  read32(offset: number): number {
    if (this.bringUp !== null) {
      this.#count(offset);
      const lie = this.#lie(offset, 4);
      if (lie !== undefined) return lie >>> 0;
    }
    if (offset === VIRTIO_MMIO_INTERRUPT_STATUS) {
      const forced = this.forced;
      this.forced = 0;
      if (this.stuckStatus > 0) {
        this.stuckStatus--;
        return this.stuckValue;
      }
      if (this.junkStatus > 0) {
        this.junkStatus--;
        return this.rng.u32();
      }
      return (this.#read(offset, 4) | forced) >>> 0;
    }
    if (offset === VIRTIO_MMIO_CONFIG_GENERATION && this.churnGeneration > 0) {
      this.churnGeneration--;
      return this.generation = (this.generation + 1 + this.rng.below(7)) >>> 0;
    }
    if (offset >= VIRTIO_MMIO_CONFIG && this.junkConfig > 0) {
      this.junkConfig--;
      this.generation = (this.generation + 1) >>> 0;
      return this.rng.u32();
    }
    return this.#read(offset, 4);
  }
  write32(offset: number, value: number): void {
    this.#write(offset, 4, value);
  }
  read16(offset: number): number {
    if (this.bringUp !== null) {
      this.#count(offset);
      const lie = this.#lie(offset, 2);
      if (lie !== undefined) return lie & 0xffff;
    }
    if (offset >= VIRTIO_MMIO_CONFIG && this.junkConfig > 0) {
      this.junkConfig--;
      return this.rng.u32() & 0xffff;
    }
    return this.#read(offset, 2);
  }
  write16(offset: number, value: number): void {
    this.#write(offset, 2, value);
  }
  read8(offset: number): number {
    if (this.bringUp !== null) {
      this.#count(offset);
      const lie = this.#lie(offset, 1);
      if (lie !== undefined) return lie & 0xff;
    }
    if (offset >= VIRTIO_MMIO_CONFIG && this.junkConfig > 0) {
      this.junkConfig--;
      return this.rng.u32() & 0xff;
    }
    return this.#read(offset, 1);
  }
  write8(offset: number, value: number): void {
    this.#write(offset, 1, value);
  }
}

/** Options of {@linkcode runMmioDriverEpisode}. */
export interface MmioDriverEpisodeOptions {
  /** Which driver. */
  readonly kind: MmioDriverKind;
  /** The episode's PRNG. */
  readonly rng: FuzzRng;
  /** Steps to run. */
  readonly steps: number;
  /** Replacement parts (the learner's, or a planted bug). */
  readonly parts?: MachineParts;
  /** Features the device may offer. */
  readonly featureMask?: bigint;
  /**
   * Make the bring-up hostile: one of {@linkcode HOSTILE_BRINGUP_CLASSES},
   * picked by the PRNG, during `initialize` (default `false`: the window
   * answers the bring-up truthfully).
   */
  readonly bringUp?: boolean;
  /** Where failures and case outcomes go. */
  readonly sink: EpisodeSink;
  /** Ids reported, counted into this record. */
  readonly violations: Record<string, number>;
  /** Lets promise callbacks run (the engine's, which also charges stray errors). */
  readonly settle: () => Promise<void>;
}

/** A request the driver was given, until it settles. */
interface Pending {
  readonly what: string;
  /** The queue it travels on. */
  readonly queue: number;
  readonly step: number;
  settled: boolean;
}

/** What an error says about why a request failed: its `code`, else its name. */
function errorCode(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return error instanceof Error ? error.name : typeof error;
}

/** What {@linkcode checkBringUp} judges. */
interface BringUpRun {
  /** The hostile class the window played. */
  readonly cls: HostileWindowClass;
  /** What `initialize` rejected with, or `null` when the device came up. */
  readonly error: unknown;
  /** Whether the driver went over the register budget. */
  readonly runaway: boolean;
  readonly transport: MmioDriverTransport;
  /** The device's real Status register. */
  readonly deviceStatus: () => number;
  /** Makes one request of the driver. */
  readonly request: () => Promise<unknown>;
  /** The driver's log (every entry was reported during the bring-up). */
  readonly log: ConformanceLog;
}

/**
 * Judges a hostile bring-up. Whatever the window did, `initialize` comes
 * back, within {@linkcode BRINGUP_REGISTER_BUDGET} register reads, either
 * with the device live or rejecting with an `Error` that says why (a
 * `TypeError` or `ReferenceError` is a bug of the driver, not a refusal). A
 * failed bring-up leaves the transport not live and the device FAILED once
 * the driver has touched Status (3.1.1/4; except when Status reads lie, so
 * that FAILED looked set already), and a request made of the driver then
 * settles at once, with an error.
 *
 * @returns Whether the episode is over (the bring-up failed or looped).
 */
async function checkBringUp(o: MmioDriverEpisodeOptions, b: BringUpRun): Promise<boolean> {
  const { sink } = o;
  const reported = b.log.entries.map((v) => v.id);
  for (const id of reported) o.violations[id] = (o.violations[id] ?? 0) + 1;
  const failed = b.error !== null;
  const error = b.error;
  let threw: string | undefined;
  const settledWith: string[] = [];
  if (b.runaway) {
    sink.fail(
      "hung",
      `The ${o.kind} driver was stopped by the register budget while bringing up a device ` +
        `with ${b.cls.name}`,
    );
  } else if (
    failed &&
    (!(error instanceof Error) || error.message.length === 0 || error instanceof TypeError ||
      error instanceof ReferenceError)
  ) {
    threw = describe(error);
    sink.fail(
      "threw",
      `The ${o.kind} driver's bring-up against ${b.cls.name} threw ${threw}: a bug, not a ` +
        "refusal that says why",
    );
  } else if (failed) {
    const state = b.transport.state;
    if (state === "live") {
      sink.fail(
        "invariant",
        `The ${o.kind} driver's bring-up failed (${describe(error)}) but its transport is live`,
        { invariant: "failed-bringup-left-live" },
      );
    }
    if (
      state === "failed" && b.cls.name !== "Status reads that lie" &&
      (b.deviceStatus() & VIRTIO_CONFIG_S_FAILED) === 0
    ) {
      sink.fail(
        "invariant",
        `The ${o.kind} driver gave up on the device (${describe(error)}) without setting FAILED`,
        { invariant: "failed-bringup-without-FAILED", requirement: "3.1.1/4" },
      );
    }
    const request = { outcome: "waiting" as "waiting" | "served" | "refused" };
    try {
      b.request().then(
        () => (request.outcome = "served"),
        (e) => {
          request.outcome = "refused";
          settledWith.push(errorCode(e));
        },
      );
    } catch (e) {
      sink.fail("threw", `A request of a driver whose bring-up failed threw ${describe(e)}`);
      request.outcome = "refused";
    }
    await o.settle();
    const outcome = request.outcome;
    if (outcome !== "refused") {
      sink.fail(
        "invariant",
        `After a failed bring-up (${describe(error)}), a request of the ${o.kind} driver ` +
          (outcome === "served" ? "was served" : "did not settle"),
        { invariant: "request-after-failed-bringup-not-refused" },
      );
    }
  }
  sink.tally(b.cls.name, b.cls.rule, {
    reported,
    broke: failed,
    threw,
    hung: b.runaway,
    settledWith,
  });
  return failed || b.runaway;
}

/**
 * Runs one episode of the hostile window against a fresh driver (see the
 * module documentation).
 *
 * @param o The driver, PRNG, steps, parts and where results go.
 * @returns The steps run (fewer when the driver threw or looped).
 */
export async function runMmioDriverEpisode(o: MmioDriverEpisodeOptions): Promise<number> {
  const { rng, sink } = o;
  const memory = new FuzzMemory(MMIO_FUZZ_RAM_SIZE, { base: MACHINE_RAM_BASE });
  const log = new ConformanceLog({ strict: false });
  const deviceLog = new ConformanceLog({ strict: false });
  const allocator = new GuestAllocator(memory);
  const parts = o.parts;
  const disk = o.kind === "blk"
    ? new MemoryBlockBackend(MMIO_FUZZ_DISK_SIZE, { id: "fuzz" })
    : null;
  const sectors = MMIO_FUZZ_DISK_SIZE / 512;
  /** Write tags each sector may hold (what was written, settled or not, and the first). */
  const tags: Set<number>[] = Array.from({ length: sectors }, () => new Set([0]));
  if (disk) { for (let s = 0; s < sectors; s++) disk.data.set(sectorBytes(s, 0), s * 512); }
  const backend = o.kind === "console" ? new ScriptedConsoleBackend() : null;
  const device = disk
    ? new VirtioBlockDevice(disk, { queueSize: 1 << rng.int(2, 5) })
    : new VirtioConsoleDevice(backend!, { queueSize: 1 << rng.int(2, 5) });
  const deviceTransport = new MmioDeviceTransport(device, {
    memory,
    log: deviceLog,
    name: `${device.name}@fuzz`,
    queueFactory: createSplitQueueDeviceFactory(),
    featureMask: o.featureMask,
  });
  let line = false;
  const irq: InterruptLine = { irq: 42, set: (level) => (line = level) };
  deviceTransport.connectInterrupt(irq);
  const window = new HostileWindow(deviceTransport, rng, memory);
  const ringParts = resolveParts(parts, "virtqueue", "driver");
  const transport = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    name: "virtio-mmio@fuzz",
    parts: resolveParts(parts, "transport", "driver"),
    coreParts: resolveParts(parts, "core", "driver"),
    queueFactory: createSplitQueueDriverFactory(ringParts),
    allocateQueueAreas: (a, size) =>
      ringParts.allocateQueueAreas(a, size, ringParts.splitQueueLayout),
  });
  const blk = disk
    ? new VirtioBlockDriver({
      maxTransferBytes: 512 * rng.int(1, 16),
      bounceCacheBytes: 16 * 1024,
      parts: resolveParts(parts, "blk", "driver"),
    })
    : null;
  const con = disk ? null : new VirtioConsoleDriver({
    receiveBuffers: rng.int(1, 6),
    receiveBufferSize: rng.int(1, 300),
    transmitChunkSize: rng.int(1, 200),
    maxTransmitInFlight: rng.int(1, 4),
    parts: resolveParts(parts, "console", "driver"),
  });

  // Console input: everything the device was given, and where the reader has got to.
  const sent: number[] = [];
  let readCursor = 0;
  let nextInput = 0;
  const pending: Pending[] = [];
  const settledWith: string[] = [];
  let logSeen = 0;
  let stepNow = 0;

  /** The step at which the driver saw each queue broken. */
  const brokenAt = new Map<number, number>();
  let stopped = false;

  // Block requests travel on the requestq (0), console writes on the transmitq (1).
  const requestQueue = disk ? 0 : 1;
  const track = (what: string, run: () => Promise<unknown>, check?: (v: unknown) => void) => {
    const p: Pending = { what, queue: requestQueue, step: stepNow, settled: false };
    pending.push(p);
    let promise: Promise<unknown>;
    try {
      promise = run();
    } catch (error) {
      p.settled = true;
      sink.fail("threw", `${what} threw instead of rejecting: ${describe(error)}`);
      return;
    }
    promise.then(
      (value) => {
        p.settled = true;
        check?.(value);
      },
      (error) => {
        p.settled = true;
        settledWith.push(errorCode(error));
        if (!(error instanceof Error) || error.message.length === 0) {
          sink.fail(
            "invariant",
            `${what} was rejected with ${describe(error)}, which says nothing`,
            {
              invariant: "request-rejected-without-reason",
            },
          );
        }
      },
    );
  };

  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  const pumpReader = () => {
    if (!reader || stopped) return;
    reader.read().then(({ value, done }) => {
      if (done || !value) return;
      // Every chunk is bytes the device sent, in order (gaps are the device's to make).
      let at = -1;
      for (let i = readCursor; i + value.length <= sent.length && at < 0; i++) {
        let k = 0;
        while (k < value.length && sent[i + k] === value[k]) k++;
        if (k === value.length) at = i;
      }
      if (at < 0) {
        sink.fail(
          "invariant",
          `The console reader got ${value.length} byte(s) [${
            [...value.slice(0, 8)].join(",")
          }...] the device never sent there (sent ${sent.length}, read up to ${readCursor})`,
          { invariant: "console-data-not-from-device", requirement: "2.7.8.2/2" },
        );
        reader = null;
        return;
      }
      readCursor = at + value.length;
      pumpReader();
    }, () => {});
  };

  const bringUp = o.bringUp ? rng.pick(HOSTILE_BRINGUP_CLASSES) : null;
  if (bringUp) {
    sink.step(0, `bring-up with ${bringUp.name}`, bringUp.name);
    window.bringUp = bringUp.name;
    window.registerBudget = BRINGUP_REGISTER_BUDGET;
  }
  let initError: unknown = null;
  try {
    await memory.quietly(() => transport.initialize((blk ?? con)!));
  } catch (error) {
    initError = error;
  }
  window.bringUp = null;
  window.registerBudget = Infinity;
  await o.settle();
  if (bringUp) {
    const done = await checkBringUp(o, {
      cls: bringUp,
      error: initError,
      runaway: window.runaway,
      transport,
      deviceStatus: () => memory.quietly(() => deviceTransport.read(VIRTIO_MMIO_STATUS, 4)),
      request: blk ? () => blk.read(0, 1) : () => con!.write(new Uint8Array([0x6f, 0x6b, 0x0a])),
      log,
    });
    logSeen = log.entries.length;
    if (done) {
      try {
        memory.quietly(() => transport.shutdown());
      } catch {
        // A device left FAILED may refuse the way down too; the episode is over.
      }
      await backend?.close();
      await o.settle();
      return 1;
    }
  } else if (initError !== null) {
    await o.settle();
    return 1; // the reference device always comes up: a replaced part refused it
  }
  if (con) {
    reader = con.readable.getReader();
    pumpReader();
  }
  for (const [index, q] of window.queues) {
    q.reaped = memory.quietly(() => memory.readU16(q.usedAddr + VIRTQ_USED_IDX_OFFSET));
    void index;
  }
  memory.loadBudget = MMIO_STEP_READ_BUDGET;

  const driverQueues = () => [...transport.queues.entries()];
  const unusable = () =>
    transport.needsReset || transport.state === "failed" ||
    driverQueues().some(([, q]) => q.broken !== null);

  /** The driver's interrupt handler, as the interrupt controller would run it. */
  const interrupt = () => {
    transport.handleInterrupt();
    for (const [index, q] of driverQueues()) {
      const seen = window.queues.get(index);
      if (seen && q.broken === null) {
        seen.reaped = memory.quietly(() => memory.readU16(seen.usedAddr + VIRTQ_USED_IDX_OFFSET));
      }
    }
  };

  const request = () => {
    if (blk) {
      const r = rng.below(10);
      const count = rng.int(0, 12);
      const sector = rng.chance(0.1) ? sectors - rng.int(0, 3) : rng.below(sectors);
      if (r < 4) {
        track(`read ${count} sector(s) at ${sector}`, () => blk.read(sector, count), (v) => {
          const data = v as Uint8Array;
          if (data.length !== count * 512) {
            sink.fail("invariant", `A read of ${count} sector(s) returned ${data.length} bytes`, {
              invariant: "blk-read-wrong-length",
            });
            return;
          }
          for (let i = 0; i < count; i++) {
            const why = checkSector(
              data.subarray(i * 512, i * 512 + 512),
              sector + i,
              tags[sector + i],
            );
            if (why) {
              sink.fail(
                "invariant",
                `A read of ${count} sector(s) at ${sector} returned, for sector ${sector + i}, ` +
                  `a block that ${why}`,
                { invariant: "blk-read-data-not-its-own" },
              );
              return;
            }
          }
        });
      } else if (r < 8) {
        const n = Math.max(1, count);
        const tag = rng.int(1, 0xffff);
        const data = new Uint8Array(n * 512);
        for (let i = 0; i < n; i++) {
          if (sector + i < sectors) tags[sector + i].add(tag);
          data.set(sectorBytes(sector + i, tag), i * 512);
        }
        track(`write ${n} sector(s) at ${sector}`, () => blk.write(sector, data));
      } else if (r < 9) {
        track("flush", () => blk.flush());
      } else {
        track("getId", () => blk.getId());
      }
    } else {
      const n = rng.int(0, 500);
      const bytes = new Uint8Array(n).map(() => rng.below(256));
      track(`write ${n} byte(s) to the console`, () => con!.write(bytes));
    }
  };

  const input = () => {
    if (!backend?.waiting) return;
    const n = rng.int(1, 400);
    const chunk = new Uint8Array(n);
    for (let i = 0; i < n; i++) chunk[i] = (nextInput++ * 7 + 3) & 0xff;
    sent.push(...chunk);
    backend.input(chunk);
  };

  /** A live queue the hostile layer can rewrite, with its driver half. */
  const pickQueue = () => {
    const live = driverQueues().filter(([i, q]) =>
      q.broken === null && q instanceof SplitQueueDriver && window.queues.get(i)?.usedAddr
    );
    if (live.length === 0) return null;
    const [index, queue] = rng.pick(live);
    return { queue: queue as SplitQueueDriver<unknown>, seen: window.queues.get(index)! };
  };

  /** Delivers one hostile class; `false` when there was nothing to deliver it to. */
  const hostile = (name: string): boolean => {
    const used = (seen: QueueSeen) => {
      const idx = () => memory.quietly(() => memory.readU16(seen.usedAddr + VIRTQ_USED_IDX_OFFSET));
      const entry = (i: number) => seen.usedAddr + usedElemOffset(i & (seen.size - 1));
      const append = (id: number, len: number) =>
        memory.quietly(() => {
          const at = idx();
          memory.writeU32(entry(at), id >>> 0);
          memory.writeU32(entry(at) + 4, len >>> 0);
          memory.writeU16(seen.usedAddr + VIRTQ_USED_IDX_OFFSET, (at + 1) & 0xffff);
        });
      const unreaped = () => (idx() - seen.reaped) & 0xffff;
      return { idx, entry, append, unreaped };
    };
    switch (name) {
      case "junk InterruptStatus":
        window.junkStatus = rng.int(1, 6);
        interrupt();
        return true;
      case "stuck InterruptStatus":
        window.stuckStatus = rng.int(2, 40);
        window.stuckValue = rng.pick([1, 2, 3, rng.u32()]);
        interrupt();
        return true;
      case "a ConfigGeneration that never settles":
        window.churnGeneration = 1000;
        window.forced |= VIRTIO_MMIO_INT_CONFIG;
        interrupt();
        window.churnGeneration = 0;
        return true;
      case "configuration fields that change between reads":
        window.junkConfig = rng.int(1, 8);
        window.forced |= VIRTIO_MMIO_INT_CONFIG;
        interrupt();
        window.junkConfig = 0;
        return true;
      case "DEVICE_NEEDS_RESET":
        window.calm();
        memory.quietly(() => deviceTransport.markNeedsReset("the fuzzer broke the device"));
        interrupt();
        return true;
      case "completions withheld":
        window.withhold = rng.int(1, 30);
        return true;
    }
    const picked = pickQueue();
    if (!picked) return false;
    window.calm();
    const { queue, seen } = picked;
    const u = used(seen);
    const size = seen.size;
    switch (name) {
      case "a used id beyond Queue Size":
        u.append(rng.pick([size, size + rng.below(100), 0xffff_ffff, 0x1_0000]), 0);
        break;
      case "a used id in the middle of a chain": {
        const heads = [...queue.ring.state.keys()].filter((i) =>
          queue.ring.state[i] === HEAD_PUBLISHED
        );
        const multi = heads.find((h) =>
          memory.quietly(() => (memory.readU16(queue.ring.descAddr + 16 * h + 12) & 1) !== 0)
        );
        if (multi === undefined) return false;
        const next = memory.quietly(() => memory.readU16(queue.ring.descAddr + 16 * multi + 14));
        if (next === multi || queue.ring.state[next] === HEAD_PUBLISHED) return false;
        u.append(next, 0);
        break;
      }
      case "a used id never posted or already returned": {
        const idle = Array.from({ length: size }, (_, i) => i).filter((i) =>
          queue.ring.state[i] !== HEAD_PUBLISHED
        );
        if (idle.length === 0) return false;
        u.append(rng.pick(idle), 0);
        break;
      }
      case "the same id returned twice": {
        if (u.unreaped() === 0) return false;
        const first = memory.quietly(() => memory.readU32(u.entry(seen.reaped)));
        u.append(first, 0);
        break;
      }
      case "a used len beyond the writable bytes": {
        if (u.unreaped() === 0) return false;
        memory.quietly(() =>
          memory.writeU32(
            u.entry(seen.reaped + rng.below(u.unreaped())) + 4,
            rng.pick([0x8000_0000, 0xffff_ffff, 2 * MMIO_FUZZ_RAM_SIZE]),
          )
        );
        break;
      }
      case "a used idx that jumps ahead":
        memory.quietly(() =>
          memory.writeU16(
            seen.usedAddr + VIRTQ_USED_IDX_OFFSET,
            (seen.reaped + size + rng.int(1, 4)) & 0xffff,
          )
        );
        break;
      case "a used idx that moves back": {
        // Back behind entries the driver has reaped (`lastUsed`): a console
        // driver whose reader holds input back leaves published entries
        // unread, and taking back one of those is a change it cannot see.
        const last = queue.ring.lastUsed;
        if (u.unreaped() !== 0 || ((u.idx() - last) & 0xffff) !== 0) return false;
        memory.quietly(() =>
          memory.writeU16(seen.usedAddr + VIRTQ_USED_IDX_OFFSET, (last - rng.int(1, 3)) & 0xffff)
        );
        break;
      }
      case "junk used flags":
        memory.quietly(() =>
          memory.writeU16(seen.usedAddr + VIRTQ_USED_FLAGS_OFFSET, rng.u32() & 0xffff)
        );
        break;
      default:
        return false;
    }
    window.forced |= VIRTIO_MMIO_INT_VRING;
    interrupt();
    return true;
  };

  let step = 0;
  try {
    for (; step < o.steps; step++) {
      stepNow = step;
      memory.resetBudget();
      const op = rng.weighted<[string, HostileWindowClass | null]>([
        [30, ["a request", null]],
        [o.kind === "console" ? 12 : 0, ["console input", null]],
        [20, ["the device runs", null]],
        [20, ["the interrupt handler runs", null]],
        [4, ["the device answers again", null]],
        [10, ["hostile", rng.pick(HOSTILE_WINDOW_CLASSES)]],
      ]);
      const cls = op[1];
      sink.step(step, cls ? cls.name : op[0], cls?.name);
      const wasUnusable = unusable();
      const logMark = log.entries.length;
      const settledMark = settledWith.length;
      let threw: unknown = null;
      let delivered = false;
      try {
        switch (op[0]) {
          case "a request":
            request();
            break;
          case "console input":
            input();
            break;
          case "the device runs":
            break;
          case "the interrupt handler runs":
            if (line || rng.chance(0.1)) interrupt();
            break;
          case "the device answers again":
            window.release();
            break;
          case "hostile":
            delivered = !wasUnusable && hostile(cls!.name);
            break;
        }
        await o.settle();
        // A level-triggered line stays up until acknowledged: the handler runs again.
        if (line && rng.chance(0.5)) interrupt();
        await o.settle();
      } catch (error) {
        threw = error;
        // Thrown while delivering the case: it reached the driver.
        if (op[0] === "hostile" && !wasUnusable) delivered = true;
      }
      if (window.withhold > 0 && --window.withhold === 0) window.release();
      const reported = log.entries.slice(logMark).map((v) => v.id);
      for (let i = logSeen; i < log.entries.length; i++) {
        const id = log.entries[i].id;
        o.violations[id] = (o.violations[id] ?? 0) + 1;
      }
      logSeen = log.entries.length;
      const hung = threw instanceof RunawayReadsError;
      if (threw !== null) {
        sink.fail(
          hung ? "hung" : "threw",
          hung
            ? `The ${o.kind} driver was stopped by the read budget: ${(threw as Error).message}`
            : `The ${o.kind} driver's interrupt handler threw ${describe(threw)}`,
        );
      }
      const nowUnusable = unusable();
      const deviceGone = transport.needsReset || transport.state === "failed";
      for (const [index, q] of driverQueues()) {
        if ((q.broken !== null || deviceGone) && !brokenAt.has(index)) brokenAt.set(index, step);
      }
      if (delivered) {
        sink.tally(cls!.name, cls!.rule, {
          reported,
          broke: !wasUnusable && nowUnusable,
          threw: threw !== null && !hung ? describe(threw) : undefined,
          hung,
          settledWith: settledWith.slice(settledMark),
        });
      }
      if (threw !== null) break;
      // Once the driver knows a request's queue is unusable, the request may not wait long.
      const late = pending.find((p) => {
        const at = brokenAt.get(p.queue);
        return !p.settled && at !== undefined && step - Math.max(p.step, at) >= SETTLE_STEPS;
      });
      {
        if (late) {
          sink.fail(
            "invariant",
            `The ${o.kind} driver ${
              transport.needsReset ? "saw DEVICE_NEEDS_RESET" : `broke queue ${late.queue}`
            } at step ${
              brokenAt.get(late.queue)
            }, but "${late.what}" (made at step ${late.step}) ` +
              `has not settled ${SETTLE_STEPS} steps later`,
            { invariant: "request-unsettled-after-break" },
          );
          break;
        }
      }
      for (let i = pending.length - 1; i >= 0; i--) if (pending[i].settled) pending.splice(i, 1);
      // Every request of the broken queue was checked to settle: the next episode starts fresh.
      if (brokenAt.has(requestQueue) && step - brokenAt.get(requestQueue)! > SETTLE_STEPS) break;
    }
  } finally {
    stopped = true;
    window.calm();
    window.release();
    try {
      memory.quietly(() => transport.shutdown());
    } catch {
      // What the driver threw at the end is not a step's.
    }
    await backend?.close();
    await o.settle();
  }
  return Math.min(o.steps, step + 1);
}
