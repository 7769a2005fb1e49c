/**
 * The hostile driver: drives one device model (virtio-blk or virtio-console)
 * through its virtio-mmio register file with a seeded PRNG, the way a buggy
 * or malicious guest would, and checks after every step what the device did.
 *
 * An episode builds a fresh device, transport and RAM ({@linkcode FuzzMemory}),
 * then runs steps. Most steps are what a driver does (bring the device up,
 * post a well-formed request, notify, reap, acknowledge interrupts), so the
 * device gets far enough to meet the hostile ones:
 *
 * - register accesses at any offset of the window and any width, random
 *   status sequences, hostile queue sizes and addresses;
 * - hostile chains, one class at a time ({@linkcode HOSTILE_CHAIN_CLASSES}):
 *   loops, out-of-range heads and `next`, zero and huge lengths, buffers
 *   outside RAM, readable after writable, bad, nested or unnegotiated
 *   indirect tables, available `idx` jumps and retreats, heads made available
 *   again while in flight. Each names the rule it breaks: the device must
 *   report it (or at least refuse the chain), never take it silently.
 *
 * The invariants checked after every step: the device never stores into the
 * descriptor table, an indirect table, the available ring or a device-
 * readable buffer, nor anywhere outside the used ring and the device-writable
 * buffers in flight (2.7.5.1/2, 2.7.5.1/1); every used entry names a head in
 * flight (2.7.8/D1) with a length within its writable bytes (2.7.8.2/2), and
 * the used `idx` never runs past what is outstanding (2.7.8/D2); a block read
 * brings the disk's bytes and a block write stores the request's own (no data
 * of one request reaches another); no exception escapes a register access,
 * and the read budget stops any step that loops.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { GuestAllocator } from "../memory/allocator.ts";
import { MACHINE_RAM_BASE, type MachineParts } from "../machine.ts";
import { resolveParts } from "../parts.ts";
import { MmioDeviceTransport } from "../transport/mmio_device.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_STATUS,
} from "../transport/mmio_registers.ts";
import type { AccessWidth } from "../virtio/device.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import { hasFeature, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
import { createSplitQueueDeviceFactory } from "../virtqueue/device_queue.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../virtqueue/constants.ts";
import {
  availRingEntryOffset,
  availRingSize,
  descOffset,
  descTableSize,
  usedElemOffset,
  usedRingSize,
  VIRTQ_AVAIL_IDX_OFFSET,
  VIRTQ_USED_IDX_OFFSET,
} from "../virtqueue/layout.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../devices/blk/device.ts";
import {
  SECTOR_SIZE,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../devices/blk/constants.ts";
import type { ConsoleBackend } from "../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../devices/console/device.ts";
import { FuzzMemory, RunawayReadsError } from "./memory.ts";
import type { FuzzRng } from "./rng.ts";
import type { FailureKind } from "./types.ts";

/** RAM of a device episode: 512 KiB, so huge lengths and high addresses fall outside it. */
export const DEVICE_FUZZ_RAM_SIZE = 512 * 1024;
/** The block device's disk in an episode: 128 KiB (256 sectors). */
export const DEVICE_FUZZ_DISK_SIZE = 128 * 1024;
/** Loads a device may make in one step: far more than any correct step needs. */
export const DEVICE_STEP_READ_BUDGET = 200_000;

/** The device models the hostile driver drives. */
export type DeviceTargetName = "blk" | "console";

/** One class of hostile chain: how it is built and the rule it breaks. */
export interface HostileChainClass {
  /** What the driver does, in words: `"a chain that loops"`. */
  readonly name: string;
  /** The rule it breaks: the device must report it. */
  readonly rule: RequirementId;
  /** Other ids a device may fairly report first (the case breaks those too). */
  readonly fair?: readonly RequirementId[];
  /** Needs `VIRTIO_F_INDIRECT_DESC` negotiated (or, `false`, not negotiated). */
  readonly indirect?: boolean;
}

/** The hostile chain classes, in the order the report lists them. */
export const HOSTILE_CHAIN_CLASSES: readonly HostileChainClass[] = Object.freeze(
  [
    { name: "a chain that loops", rule: "2.7.5.3.1/3" },
    { name: "a next beyond the descriptor table", rule: "2.7.5/D1" },
    { name: "an available head beyond the descriptor table", rule: "2.7.5/D1" },
    { name: "a descriptor of length 0", rule: "2.7.5/D3" },
    { name: "a buffer outside RAM", rule: "2.7.5/D2" },
    { name: "a huge length (near 2^32)", rule: "2.7.5/D2", fair: ["2.7.5.2/1"] },
    { name: "a readable buffer after a writable one", rule: "2.7.4.2/1" },
    { name: "an indirect descriptor without the feature", rule: "2.7.5.3.1/1", indirect: false },
    { name: "an indirect table of a bad size", rule: "2.7.5.3/D1", indirect: true },
    { name: "an indirect table outside RAM", rule: "2.7.5/D2", indirect: true },
    { name: "an indirect table inside an indirect table", rule: "2.7.5.3.1/2", indirect: true },
    { name: "an indirect descriptor with NEXT", rule: "2.7.5.3.1/4", indirect: true },
    { name: "a loop inside an indirect table", rule: "2.7.5.3.1/3", indirect: true },
    { name: "an available idx more than Queue Size ahead", rule: "2.7.6/D1" },
    { name: "an available idx that moves back", rule: "2.7.6.1/1", fair: ["2.7.6/D1"] },
    { name: "a head made available again while in flight", rule: "2.7.6/D2" },
  ] satisfies HostileChainClass[],
);

/** Hostile classes without a rule to report: the device must only survive them. */
export const HOSTILE_REGISTER_CLASSES: readonly string[] = Object.freeze([
  "a register access at any offset and width",
  "a random status sequence",
  "a hostile queue size or address",
  "a configuration space access",
]);

/** What the engine hears from an episode. */
export interface EpisodeSink {
  /** A failure at the current step. */
  fail(
    kind: FailureKind,
    message: string,
    extra?: { invariant?: string; requirement?: RequirementId | null },
  ): void;
  /**
   * A hostile case was delivered: what the code under test did.
   *
   * @param cls The class name.
   * @param rule The rule it breaks, or `null`.
   * @param outcome What happened.
   */
  tally(
    cls: string,
    rule: RequirementId | null,
    outcome: CaseOutcome,
  ): void;
  /** The step begins (for failure attribution). */
  step(index: number, op: string, caseClass?: string): void;
}

/** What the code under test did with one hostile case. */
export interface CaseOutcome {
  /** Ids reported during the step. */
  readonly reported: readonly RequirementId[];
  /** Whether it broke the queue (or the device asked for a reset). */
  readonly broke: boolean;
  /** What it threw, if it did. */
  readonly threw?: string;
  /** Whether the read budget stopped it. */
  readonly hung: boolean;
  /** The error codes the requests that settled during the step were rejected with. */
  readonly settledWith?: readonly string[];
}

/** A device-readable or device-writable buffer a posted chain names. */
interface Segment {
  readonly addr: number;
  readonly len: number;
}

/** A chain the driver made available and the device has not returned. */
interface Posted {
  readonly head: number;
  readonly readable: readonly Segment[];
  readonly writable: readonly Segment[];
  readonly writableBytes: number;
  /** Descriptor indices of the chain in the descriptor table. */
  readonly descs: readonly number[];
  /** Guest memory the driver allocated for it (buffers, indirect table). */
  readonly allocations: readonly number[];
  /** For a block request: what to check when it completes. */
  readonly blk?: { readonly type: number; readonly sector: number; readonly data: Segment[] };
  /** Not well formed: the device must refuse it. */
  readonly hostile: boolean;
  /**
   * Set when a block write to some of the same sectors was in flight with it
   * at any time: the device may serve the two in either order, so what the
   * disk holds afterwards says nothing about either.
   */
  raced?: boolean;
}

/** The driver's view of one queue. */
interface QueueModel {
  readonly index: number;
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  availIdx: number;
  usedSeen: number;
  /** Posted chains by head (a head reused in flight has two). */
  readonly inFlight: Map<number, Posted[]>;
  /** Descriptor indices not in any posted chain. */
  free: number[];
}

/** A console backend for fuzzing: drops output (counting it) and gives input on demand. */
class FuzzConsoleBackend implements ConsoleBackend {
  largestWrite = 0;
  bytesOut = 0;
  #waiting: ((chunk: Uint8Array | null) => void) | null = null;
  #closed = false;

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Hands the device input, if it is waiting for some. */
  input(bytes: Uint8Array): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(bytes);
  }

  write(bytes: Uint8Array): Promise<void> {
    this.largestWrite = Math.max(this.largestWrite, bytes.length);
    this.bytesOut += bytes.length;
    return Promise.resolve();
  }

  size(): null {
    return null;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.input(null as unknown as Uint8Array);
    return Promise.resolve();
  }
}

const STATUS_UP = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
const WIDTHS: readonly AccessWidth[] = [1, 2, 4];
const QUEUE_AREA_BYTES = 64 * 1024;

/** Options of {@linkcode runDeviceEpisode}. */
export interface DeviceEpisodeOptions {
  /** Which device model. */
  readonly target: DeviceTargetName;
  /** The episode's PRNG. */
  readonly rng: FuzzRng;
  /** Steps to run. */
  readonly steps: number;
  /** Replacement parts (the learner's); everything else is the reference. */
  readonly parts?: MachineParts;
  /** The feature bits the device may offer. */
  readonly featureMask?: bigint;
  /** Where failures and case outcomes go. */
  readonly sink: EpisodeSink;
  /** Ids reported, counted into this record. */
  readonly violations: Record<string, number>;
  /** Lets promise callbacks run; the engine also catches what escapes them there. */
  readonly settle: () => Promise<void>;
}

/**
 * Runs one episode of the hostile driver against a fresh device (see the
 * module documentation).
 *
 * @param options The device, PRNG, steps, parts and where results go.
 * @returns The number of steps run (fewer than asked when the device threw
 *   or looped: the episode ends there).
 */
export async function runDeviceEpisode(options: DeviceEpisodeOptions): Promise<number> {
  const episode = new DeviceEpisode(options);
  try {
    return await episode.run();
  } finally {
    await episode.close();
  }
}

class DeviceEpisode {
  readonly o: DeviceEpisodeOptions;
  readonly rng: FuzzRng;
  readonly memory = new FuzzMemory(DEVICE_FUZZ_RAM_SIZE, { base: MACHINE_RAM_BASE });
  readonly log = new ConformanceLog({ strict: false });
  readonly transport: MmioDeviceTransport;
  readonly disk: MemoryBlockBackend | null;
  readonly console: FuzzConsoleBackend | null;
  /** Allocator over the buffer pool (above the queue areas). */
  allocator: GuestAllocator;
  queueAreaNext = 0;
  queues: (QueueModel | null)[] = [];
  features = 0n;
  #logSeen = 0;
  #ended = false;

  constructor(o: DeviceEpisodeOptions) {
    this.o = o;
    this.rng = o.rng;
    this.memory.loadBudget = DEVICE_STEP_READ_BUDGET;
    const parts = o.parts;
    let device;
    if (o.target === "blk") {
      this.disk = new MemoryBlockBackend(DEVICE_FUZZ_DISK_SIZE, { id: "fuzz" });
      for (let i = 0; i < this.disk.data.length; i++) this.disk.data[i] = (i * 131 + 7) & 0xff;
      this.console = null;
      device = new VirtioBlockDevice(this.disk, {
        parts: resolveParts(parts, "blk", "device"),
        queueSize: 64,
      });
    } else {
      this.disk = null;
      this.console = new FuzzConsoleBackend();
      device = new VirtioConsoleDevice(this.console, {
        parts: resolveParts(parts, "console", "device"),
        queueSize: 64,
      });
    }
    this.transport = this.memory.quietly(() =>
      new MmioDeviceTransport(device, {
        memory: this.memory,
        log: this.log,
        name: `${device.name}@fuzz`,
        parts: resolveParts(parts, "transport", "device"),
        queueFactory: createSplitQueueDeviceFactory(resolveParts(parts, "virtqueue", "device")),
        featureMask: o.featureMask,
      })
    );
    this.transport.connectInterrupt({ irq: 42, set: () => {} });
    this.allocator = this.#poolAllocator();
  }

  #poolAllocator(): GuestAllocator {
    return new GuestAllocator(this.memory, { start: this.memory.base + QUEUE_AREA_BYTES });
  }

  async close(): Promise<void> {
    this.#ended = true;
    try {
      this.transport.write(VIRTIO_MMIO_STATUS, 4, 0);
    } catch {
      // The episode already recorded what this device threw.
    }
    await this.console?.close();
    await this.o.settle();
  }

  // ------------------------------------------------------------ the loop

  async run(): Promise<number> {
    const { steps, sink } = this.o;
    let step = 0;
    for (; step < steps && !this.#ended; step++) {
      this.memory.resetBudget();
      const op = this.#pick();
      sink.step(step, op.name, op.cls);
      const before = this.#needsReset();
      const live = op.cls !== undefined && this.#live(op.queue ?? 0);
      const logMark = this.log.entries.length;
      let threw: unknown = null;
      let ok = true;
      let delivered = true;
      try {
        delivered = op.run() !== false;
      } catch (error) {
        if (!(error instanceof DeviceThrew)) throw error;
        threw = error.error;
        ok = false;
      }
      if (ok) {
        try {
          await this.o.settle();
        } catch (error) {
          threw = error;
        }
      }
      const reported = this.log.entries.slice(logMark).map((v) => v.id);
      this.#countViolations();
      const hung = threw instanceof RunawayReadsError;
      if (threw !== null) {
        sink.fail(
          hung ? "hung" : "threw",
          hung
            ? `The device was stopped by the read budget: ${(threw as Error).message}`
            : `The device threw ${describe(threw)}`,
        );
      }
      if (op.cls !== undefined && live && delivered) {
        sink.tally(op.cls, op.rule ?? null, {
          reported,
          broke: !before && this.#needsReset(),
          threw: threw !== null && !hung ? describe(threw) : undefined,
          hung,
        });
      }
      if (threw !== null) {
        this.#ended = true;
        break;
      }
      this.#checkStores();
      this.#checkUsed();
    }
    if (!this.#ended || step === steps) this.#checkAllMemory();
    return step;
  }

  #countViolations(): void {
    const entries = this.log.entries;
    for (let i = this.#logSeen; i < entries.length; i++) {
      const id = entries[i].id;
      this.o.violations[id] = (this.o.violations[id] ?? 0) + 1;
    }
    this.#logSeen = entries.length;
  }

  #needsReset(): boolean {
    return (this.transport.status & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0;
  }

  #live(index: number): boolean {
    return this.queues[index] != null && this.transport.liveQueue(index) !== null;
  }

  // ------------------------------------------------------------ MMIO

  read(offset: number, width: AccessWidth = 4): number {
    try {
      return this.transport.read(offset, width);
    } catch (error) {
      throw new DeviceThrew(error);
    }
  }

  write(offset: number, value: number, width: AccessWidth = 4): void {
    try {
      this.transport.write(offset, width, value >>> 0);
    } catch (error) {
      throw new DeviceThrew(error);
    }
  }

  // ------------------------------------------------------------ choosing a step

  #pick(): Op {
    const rng = this.rng;
    const status = this.transport.status;
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) === 0 || this.#needsReset()) {
      if (rng.chance(0.85)) return { name: "bring the device up", run: () => this.bringUp() };
    }
    const queueCount = this.transport.device.queueMaxSizes.length;
    const q = rng.below(queueCount);
    const choice = rng.weighted<() => Op>([
      [30, () => ({ name: `post a well-formed chain on queue ${q}`, run: () => this.post(q) })],
      [12, () => this.#hostileChainOp(q)],
      [14, () => ({ name: "reap the used rings", run: () => this.reap() })],
      [8, () => ({ name: "acknowledge interrupts", run: () => this.ackInterrupts() })],
      [
        5,
        () => ({ name: `notify queue ${q}`, run: () => this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q) }),
      ],
      [3, () => ({ name: "give the console input", run: () => this.input() })],
      [4, () => this.#registerOp()],
      [2, () => ({
        name: "a random status sequence",
        cls: "a random status sequence",
        run: () => this.randomStatus(),
      })],
      [2, () => ({
        name: "a hostile queue size or address",
        cls: "a hostile queue size or address",
        queue: q,
        run: () => this.hostileQueueSetup(q),
      })],
      [3, () => ({
        name: "a configuration space access",
        cls: "a configuration space access",
        run: () => this.configAccess(),
      })],
      [2, () => ({ name: "reset the device", run: () => this.resetDevice() })],
    ]);
    return choice();
  }

  #registerOp(): Op {
    const rng = this.rng;
    const width = rng.pick(WIDTHS);
    const offset = rng.chance(0.7)
      ? rng.below(0x100) & ~(rng.chance(0.8) ? 3 : 0)
      : rng.below(0x200);
    const write = rng.chance(0.4);
    const value = rng.chance(0.5) ? rng.below(4) : rng.u32();
    return {
      name: `${write ? "write" : "read"} ${width} byte(s) at offset 0x${offset.toString(16)}` +
        (write ? ` (0x${(value >>> 0).toString(16)})` : ""),
      cls: "a register access at any offset and width",
      run: () => {
        // Never a status write here: that is its own class, and a random one
        // would reset the device at every tenth step.
        if (write && offset !== VIRTIO_MMIO_STATUS) this.write(offset, value, width);
        else this.read(offset, width);
      },
    };
  }

  #hostileChainOp(q: number): Op {
    const indirect = hasFeature(this.features, VIRTIO_F_INDIRECT_DESC);
    const classes = HOSTILE_CHAIN_CLASSES.filter((c) =>
      c.indirect === undefined || c.indirect === indirect
    );
    const cls = this.rng.pick(classes);
    // The console returns each receive buffer as soon as input fills it, so
    // it never holds two: a head reused in flight can only meet it on the
    // transmitq, whose chains it holds until the backend has their bytes.
    if (this.console && cls.rule === "2.7.6/D2") q = 1;
    // It takes receive buffers one at a time, as input comes: a hostile one
    // behind others would wait, so the receiveq gets one only when it is empty.
    if (this.console && q === 0 && (this.queues[0]?.inFlight.size ?? 0) > 0) q = 1;
    return {
      name: `post ${cls.name} on queue ${q}`,
      cls: cls.name,
      rule: cls.rule,
      queue: q,
      run: () => this.postHostile(q, cls),
    };
  }

  // ------------------------------------------------------------ bring-up

  bringUp(): void {
    const rng = this.rng;
    this.resetDevice();
    this.write(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    this.write(VIRTIO_MMIO_STATUS, STATUS_UP);
    this.write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const lo = this.read(VIRTIO_MMIO_DEVICE_FEATURES);
    this.write(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const hi = this.read(VIRTIO_MMIO_DEVICE_FEATURES);
    const offered = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    // Take a random subset of what is offered, VIRTIO_F_VERSION_1 always.
    let wanted = offered & BigInt.asUintN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
    wanted |= offered & (1n << BigInt(VIRTIO_F_VERSION_1));
    this.write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.write(VIRTIO_MMIO_DRIVER_FEATURES, Number(wanted & 0xffff_ffffn));
    this.write(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.write(VIRTIO_MMIO_DRIVER_FEATURES, Number(wanted >> 32n));
    this.write(VIRTIO_MMIO_STATUS, STATUS_UP | VIRTIO_CONFIG_S_FEATURES_OK);
    if ((this.read(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK) === 0) return;
    this.features = wanted;
    const count = this.transport.device.queueMaxSizes.length;
    for (let q = 0; q < count; q++) this.setUpQueue(q);
    this.write(
      VIRTIO_MMIO_STATUS,
      STATUS_UP | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
    );
  }

  setUpQueue(q: number): void {
    const rng = this.rng;
    this.write(VIRTIO_MMIO_QUEUE_SEL, q);
    const max = this.read(VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max === 0) return;
    const size = 1 << rng.int(0, Math.min(6, 31 - Math.clz32(max)));
    const desc = this.#queueArea(descTableSize(size), 16);
    const avail = this.#queueArea(availRingSize(size, true), 2);
    const used = this.#queueArea(usedRingSize(size, true), 4);
    this.write(VIRTIO_MMIO_QUEUE_NUM, size);
    this.write(VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
    this.write(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
    this.write(VIRTIO_MMIO_QUEUE_AVAIL_LOW, avail);
    this.write(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
    this.write(VIRTIO_MMIO_QUEUE_USED_LOW, used);
    this.write(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
    this.write(VIRTIO_MMIO_QUEUE_READY, 1);
    this.queues[q] = {
      index: q,
      size,
      desc,
      avail,
      used,
      availIdx: 0,
      usedSeen: 0,
      inFlight: new Map(),
      free: Array.from({ length: size }, (_, i) => i),
    };
  }

  /** Zeroed room for a ring part in the queue area, at a random aligned place. */
  #queueArea(bytes: number, align: number): number {
    const skip = this.rng.below(4) * 64;
    let at = this.memory.base + this.queueAreaNext + skip;
    at = Math.ceil(at / align) * align;
    if (at + bytes > this.memory.base + QUEUE_AREA_BYTES) at = this.memory.base;
    this.queueAreaNext = at + bytes - this.memory.base;
    this.memory.quietly(() => this.memory.fill(at, bytes, 0));
    return at;
  }

  resetDevice(): void {
    this.write(VIRTIO_MMIO_STATUS, 0);
    // A reset hands every buffer back to the driver (§2.4): whatever the device
    // wrote into them is the driver's now.
    this.memory.accept(this.memory.base, this.memory.size);
    this.queues = [];
    this.features = 0n;
    this.queueAreaNext = 0;
    this.allocator = this.#poolAllocator();
  }

  randomStatus(): void {
    const rng = this.rng;
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) {
      const value = rng.chance(0.5)
        ? rng.pick([0x01, 0x03, 0x0b, 0x0f, 0x07, 0x80, 0x40, 0x8f, 0x04, 0x0d])
        : rng.below(256);
      this.write(VIRTIO_MMIO_STATUS, value);
      if (value === 0) this.resetDevice();
    }
    // The model no longer knows which queues are live: start over unless it is still up.
    if ((this.transport.status & VIRTIO_CONFIG_S_DRIVER_OK) === 0) this.queues = [];
  }

  hostileQueueSetup(q: number): void {
    const rng = this.rng;
    this.write(VIRTIO_MMIO_QUEUE_SEL, rng.chance(0.8) ? q : rng.below(8));
    const reg = rng.pick([
      VIRTIO_MMIO_QUEUE_NUM,
      VIRTIO_MMIO_QUEUE_DESC_LOW,
      VIRTIO_MMIO_QUEUE_DESC_HIGH,
      VIRTIO_MMIO_QUEUE_AVAIL_LOW,
      VIRTIO_MMIO_QUEUE_USED_LOW,
      VIRTIO_MMIO_QUEUE_READY,
    ]);
    const value = reg === VIRTIO_MMIO_QUEUE_NUM
      ? rng.pick([0, 3, 100, 0x8000, 0x10000, rng.u32()])
      : reg === VIRTIO_MMIO_QUEUE_READY
      ? rng.below(3)
      : rng.pick([
        this.memory.end - 8,
        this.memory.base + 1,
        this.memory.base + 0x1002,
        0,
        rng.u32(),
      ]);
    this.write(reg, value);
    // Whatever the device made of it, the model no longer knows the queue:
    // the driver starts over, as one that wrote a bad value must.
    this.resetDevice();
  }

  configAccess(): void {
    const rng = this.rng;
    const width = rng.pick(WIDTHS);
    const at = VIRTIO_MMIO_CONFIG + rng.below(0x100);
    if (rng.chance(0.3)) this.write(at, rng.u32(), width);
    else this.read(at, width);
  }

  ackInterrupts(): void {
    const status = this.read(VIRTIO_MMIO_INTERRUPT_STATUS);
    const value = this.rng.chance(0.8) ? status : this.rng.u32();
    this.write(VIRTIO_MMIO_INTERRUPT_ACK, value);
  }

  input(): void {
    if (!this.console) return;
    const bytes = new Uint8Array(this.rng.int(1, 300));
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.rng.below(256);
    this.console.input(bytes);
  }

  // ------------------------------------------------------------ posting chains

  /** A buffer in the pool, filled with random bytes by the driver; `null` if the pool is full. */
  #buffer(len: number): number | null {
    let addr: number;
    try {
      addr = this.allocator.alloc(len, this.rng.pick([1, 8, 16]));
    } catch {
      return null;
    }
    const seed = this.rng.u32();
    this.memory.quietly(() => {
      const view = this.memory.bytes(addr, len);
      for (let i = 0; i < len; i++) view[i] = (seed + i * 0x9d) & 0xff;
      this.memory.accept(addr, len);
    });
    return addr;
  }

  /** The segments of a well-formed request for this device and queue. */
  #request(q: number): {
    readable: Segment[];
    writable: Segment[];
    blk?: Posted["blk"];
  } | null {
    const rng = this.rng;
    const seg = (len: number): Segment | null => {
      const addr = this.#buffer(len);
      return addr === null ? null : { addr, len };
    };
    const all = (xs: (Segment | null)[]): Segment[] | null =>
      xs.every((x) => x !== null) ? xs as Segment[] : null;
    if (this.disk) {
      const type = rng.weighted([
        [40, VIRTIO_BLK_T_IN],
        [30, VIRTIO_BLK_T_OUT],
        [10, VIRTIO_BLK_T_FLUSH],
        [10, VIRTIO_BLK_T_GET_ID],
        [5, rng.below(32)],
      ]);
      const sectors = rng.int(1, 4);
      const capacity = DEVICE_FUZZ_DISK_SIZE / SECTOR_SIZE;
      const sector = rng.chance(0.9) ? rng.below(capacity - sectors + 1) : rng.below(capacity * 2);
      const header = this.#buffer(16);
      if (header === null) return null;
      this.memory.quietly(() => {
        this.memory.writeU32(header, type);
        this.memory.writeU32(header + 4, 0);
        this.memory.writeU64(header + 8, sector);
      });
      // The header split across one or two descriptors (2.7.4.1/1).
      const split = rng.chance(0.2) ? rng.int(1, 15) : 16;
      const head: Segment[] = split === 16
        ? [{ addr: header, len: 16 }]
        : [{ addr: header, len: split }, { addr: header + split, len: 16 - split }];
      const dataLen = type === VIRTIO_BLK_T_GET_ID ? 20 : sectors * SECTOR_SIZE;
      const pieces = type === VIRTIO_BLK_T_FLUSH ? 0 : rng.int(1, Math.min(3, sectors));
      const data = all(
        Array.from({ length: pieces }, (_, k) => {
          const base = Math.floor(dataLen / pieces);
          return seg(k === pieces - 1 ? dataLen - base * (pieces - 1) : base);
        }),
      );
      const status = seg(1);
      if (data === null || status === null) return null;
      const out = type === VIRTIO_BLK_T_OUT;
      return {
        readable: out ? [...head, ...data] : head,
        writable: out ? [status] : [...data, status],
        blk: { type, sector, data },
      };
    }
    const n = rng.int(1, 3);
    const segs = all(Array.from({ length: n }, () => seg(rng.int(1, 512))));
    if (segs === null) return null;
    return q === 0 ? { readable: [], writable: segs } : { readable: segs, writable: [] };
  }

  /**
   * Writes a chain into the descriptor table (or an indirect table) and
   * returns what was posted; `null` if the queue has no room.
   */
  #writeChain(
    model: QueueModel,
    readable: readonly Segment[],
    writable: readonly Segment[],
    useIndirect: boolean,
    blk?: Posted["blk"],
  ): Posted | null {
    const segs = [
      ...readable.map((s) => ({ ...s, flags: 0 })),
      ...writable.map((s) => ({ ...s, flags: VIRTQ_DESC_F_WRITE })),
    ];
    const allocations = [...readable, ...writable].map((s) => s.addr);
    const m = this.memory;
    if (useIndirect && segs.length <= model.size && model.free.length >= 1) {
      let table: number;
      try {
        table = this.allocator.alloc(16 * segs.length, 16);
      } catch {
        return null;
      }
      allocations.push(table);
      const head = this.#takeFree(model);
      m.quietly(() => {
        segs.forEach((s, k) =>
          this.#writeDesc(
            table,
            k,
            s.addr,
            s.len,
            s.flags | (k < segs.length - 1 ? VIRTQ_DESC_F_NEXT : 0),
            k + 1,
          )
        );
        this.#writeDesc(model.desc, head, table, 16 * segs.length, VIRTQ_DESC_F_INDIRECT, 0);
      });
      this.#protect(table, 16 * segs.length);
      return this.#posted(head, readable, writable, [head], allocations, blk);
    }
    if (model.free.length < segs.length) return null;
    const descs = segs.map(() => this.#takeFree(model));
    m.quietly(() =>
      segs.forEach((s, k) =>
        this.#writeDesc(
          model.desc,
          descs[k],
          s.addr,
          s.len,
          s.flags | (k < segs.length - 1 ? VIRTQ_DESC_F_NEXT : 0),
          descs[k + 1] ?? 0,
        )
      )
    );
    return this.#posted(descs[0], readable, writable, descs, allocations, blk);
  }

  #posted(
    head: number,
    readable: readonly Segment[],
    writable: readonly Segment[],
    descs: number[],
    allocations: number[],
    blk: Posted["blk"] | undefined,
    hostile = false,
  ): Posted {
    return {
      head,
      readable,
      writable,
      writableBytes: writable.reduce((n, s) => n + s.len, 0),
      descs,
      allocations,
      blk,
      hostile,
    };
  }

  #takeFree(model: QueueModel): number {
    const k = this.rng.below(model.free.length);
    const [i] = model.free.splice(k, 1);
    return i;
  }

  #writeDesc(
    table: number,
    i: number,
    addr: number | bigint,
    len: number,
    flags: number,
    next: number,
  ): void {
    const at = table + descOffset(i);
    this.memory.writeU64(at, addr);
    this.memory.writeU32(at + 8, len >>> 0);
    this.memory.writeU16(at + 12, flags);
    this.memory.writeU16(at + 14, next);
  }

  /** Indirect tables the device must not write, until their chain comes back. */
  readonly #tables = new Map<number, number>();

  #protect(addr: number, len: number): void {
    this.#tables.set(addr, len);
  }

  /** Puts heads in the available ring and moves its idx over them. */
  #makeAvailable(model: QueueModel, ...posted: Posted[]): void {
    this.memory.quietly(() => {
      for (const p of posted) {
        this.memory.writeU16(
          model.avail + availRingEntryOffset(model.availIdx & (model.size - 1)),
          p.head,
        );
        model.availIdx = (model.availIdx + 1) & 0xffff;
        this.#markRaces(p);
        const list = model.inFlight.get(p.head) ?? [];
        list.push(p);
        model.inFlight.set(p.head, list);
      }
      this.memory.writeU16(model.avail + VIRTQ_AVAIL_IDX_OFFSET, model.availIdx);
    });
  }

  post(q: number): void {
    const model = this.queues[q];
    if (!model) return;
    const request = this.#request(q);
    if (!request) return this.#reclaimIfFull(model);
    const indirect = hasFeature(this.features, VIRTIO_F_INDIRECT_DESC) && this.rng.chance(0.4);
    const posted = this.#writeChain(
      model,
      request.readable,
      request.writable,
      indirect,
      request.blk,
    );
    if (!posted) {
      for (const s of [...request.readable, ...request.writable]) this.#free(s.addr);
      return this.#reclaimIfFull(model);
    }
    this.#makeAvailable(model, posted);
    if (this.rng.chance(0.85)) this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
  }

  /** A queue whose descriptors are all held (the device took them and broke): start over. */
  #reclaimIfFull(model: QueueModel): void {
    if (model.free.length === 0 && this.rng.chance(0.5)) this.bringUp();
  }

  #free(addr: number): void {
    try {
      this.allocator.free(addr);
    } catch {
      // Allocated before a reset replaced the allocator: nothing to free.
    }
  }

  postHostile(q: number, cls: HostileChainClass): boolean {
    const model = this.queues[q];
    if (!model) return false;
    const rng = this.rng;
    const m = this.memory;
    const size = model.size;
    const buf = (len: number) => this.#buffer(len) ?? m.base + QUEUE_AREA_BYTES;
    const flagsFor = () => (q === 0 || this.disk ? VIRTQ_DESC_F_WRITE : 0);
    const take = (n: number): number[] | null => {
      if (model.free.length < n) {
        this.#reclaimIfFull(model);
        return null;
      }
      return Array.from({ length: n }, () => this.#takeFree(model));
    };
    const hostile = (head: number, descs: number[]): Posted =>
      this.#posted(head, [], [], descs, [], undefined, true);
    const direct = (entries: [number | bigint, number, number][], linkTo?: number) => {
      const descs = take(entries.length);
      if (!descs) return null;
      m.quietly(() =>
        entries.forEach(([addr, len, flags], k) => {
          const last = k === entries.length - 1;
          const next = last ? (linkTo === undefined ? 0 : descs[linkTo] ?? linkTo) : descs[k + 1];
          this.#writeDesc(
            model.desc,
            descs[k],
            addr,
            len,
            flags | (last && linkTo === undefined ? 0 : VIRTQ_DESC_F_NEXT),
            next,
          );
        })
      );
      return hostile(descs[0], descs);
    };
    const table = (entries: [number | bigint, number, number, number?][], bytes?: number) => {
      let at: number;
      try {
        at = this.allocator.alloc(Math.max(16, bytes ?? 16 * entries.length), 16);
      } catch {
        return m.base + QUEUE_AREA_BYTES;
      }
      m.quietly(() =>
        entries.forEach(([addr, len, flags, next], k) =>
          this.#writeDesc(at, k, addr, len, flags, next ?? k + 1)
        )
      );
      this.#protect(at, 16 * entries.length);
      return at;
    };
    const w = flagsFor();
    let posted: Posted | null = null;
    switch (cls.name) {
      case "a chain that loops": {
        const n = rng.int(1, Math.min(4, model.free.length || 1));
        const entries = Array.from(
          { length: n },
          () => [buf(16), 16, w] as [number, number, number],
        );
        posted = direct(entries, rng.below(n));
        break;
      }
      case "a next beyond the descriptor table": {
        const descs = take(1);
        if (!descs) return false;
        const next = rng.pick([size, size + rng.below(64), 0xffff]);
        m.quietly(() =>
          this.#writeDesc(model.desc, descs[0], buf(16), 16, w | VIRTQ_DESC_F_NEXT, next)
        );
        posted = hostile(descs[0], descs);
        break;
      }
      case "an available head beyond the descriptor table": {
        const head = rng.pick([size, size + rng.below(1000), 0xffff]);
        posted = hostile(head, []);
        break;
      }
      case "a descriptor of length 0": {
        const n = rng.int(1, 3);
        const zero = rng.below(n);
        posted = direct(
          Array.from(
            { length: n },
            (_, k) => [buf(16), k === zero ? 0 : 16, w] as [number, number, number],
          ),
        );
        break;
      }
      case "a buffer outside RAM": {
        const addr = rng.pick<number | bigint>([
          m.end - rng.int(1, 15),
          m.end,
          m.base - 8,
          0,
          (1n << 64n) - 8n,
          0x1e000,
        ]);
        const len = typeof addr === "number" && addr < m.end && addr >= m.base
          ? 16
          : rng.int(1, 64);
        posted = direct([[addr, len, w]]);
        break;
      }
      case "a huge length (near 2^32)":
        posted = direct([[
          m.base + QUEUE_AREA_BYTES,
          rng.pick([0xffff_ffff, 0xffff_fff0, 0x8000_0000]),
          w,
        ]]);
        break;
      case "a readable buffer after a writable one":
        posted = direct([[buf(64), 64, VIRTQ_DESC_F_WRITE], [buf(16), 16, 0]]);
        break;
      case "an indirect descriptor without the feature":
        posted = direct([[table([[buf(16), 16, w, 0]]), 16, VIRTQ_DESC_F_INDIRECT]]);
        break;
      case "an indirect table of a bad size":
        posted = direct([[
          table([[buf(16), 16, w, 0]], 32),
          rng.pick([0, 8, 24, 17]),
          VIRTQ_DESC_F_INDIRECT,
        ]]);
        break;
      case "an indirect table outside RAM":
        posted = direct([[rng.pick([m.end, m.end - 16, m.base - 16]), 32, VIRTQ_DESC_F_INDIRECT]]);
        break;
      case "an indirect table inside an indirect table": {
        const inner = table([[buf(16), 16, w, 0]]);
        posted = direct([[
          table([[inner, 16, VIRTQ_DESC_F_INDIRECT, 0]]),
          16,
          VIRTQ_DESC_F_INDIRECT,
        ]]);
        break;
      }
      case "an indirect descriptor with NEXT": {
        const descs = take(2);
        if (!descs) return false;
        const t = table([[buf(16), 16, w, 0]]);
        m.quietly(() => {
          this.#writeDesc(
            model.desc,
            descs[0],
            t,
            16,
            VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
            descs[1],
          );
          this.#writeDesc(model.desc, descs[1], buf(16), 16, w, 0);
        });
        posted = hostile(descs[0], descs);
        break;
      }
      case "a loop inside an indirect table": {
        const n = rng.int(1, 3);
        const back = rng.below(n);
        const entries = Array.from(
          { length: n },
          (_, k) =>
            [buf(16), 16, w | VIRTQ_DESC_F_NEXT, k < n - 1 ? k + 1 : back] as [
              number,
              number,
              number,
              number,
            ],
        );
        posted = direct([[table(entries), 16 * n, VIRTQ_DESC_F_INDIRECT]]);
        break;
      }
      case "an available idx more than Queue Size ahead": {
        const outstanding = this.#outstanding(model);
        m.quietly(() => {
          model.availIdx = (model.availIdx + size + 1 - outstanding + rng.below(100)) & 0xffff;
          m.writeU16(model.avail + VIRTQ_AVAIL_IDX_OFFSET, model.availIdx);
        });
        this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
        if (this.console && q === 0) this.input();
        return true;
      }
      case "an available idx that moves back": {
        // Back past what the device consumed (a notification first makes it
        // take everything): moving back over entries it never read is a
        // breach it cannot see.
        this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
        const back = rng.int(1, 3);
        m.quietly(() => {
          model.availIdx = (model.availIdx - back) & 0xffff;
          m.writeU16(model.avail + VIRTQ_AVAIL_IDX_OFFSET, model.availIdx);
        });
        this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
        if (this.console && q === 0) this.input();
        return true;
      }
      case "a head made available again while in flight": {
        // Post a well-formed request, notify, and before its completion can
        // run, make the same head available again.
        const request = this.#request(q);
        if (!request) return false;
        const first = this.#writeChain(
          model,
          request.readable,
          request.writable,
          false,
          request.blk,
        );
        if (!first) return false;
        this.#makeAvailable(model, first);
        this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
        // A request the device completed at once (an unsupported type, GET_ID)
        // is the driver's again: making it available is no reuse.
        this.#consumeUsed(model, false);
        if (!model.inFlight.get(first.head)?.includes(first)) return false;
        this.#makeAvailable(model, { ...first, hostile: true });
        this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
        return true;
      }
    }
    if (!posted) return false;
    this.#makeAvailable(model, posted);
    this.write(VIRTIO_MMIO_QUEUE_NOTIFY, q);
    // The console takes a receive buffer only when it has input for it.
    if (this.console && q === 0) this.input();
    return true;
  }

  #outstanding(model: QueueModel): number {
    let n = 0;
    for (const list of model.inFlight.values()) n += list.length;
    return n;
  }

  // ------------------------------------------------------------ reaping and invariants

  reap(): void {
    // #checkUsed runs after every step; reaping frees what came back.
    for (const model of this.queues) {
      if (model) this.#consumeUsed(model, true);
    }
  }

  #checkUsed(): void {
    for (const model of this.queues) if (model) this.#consumeUsed(model, false);
  }

  /** Reads new used entries, checking each; with `free`, returns their descriptors and buffers. */
  #consumeUsed(model: QueueModel, _free: boolean): void {
    const m = this.memory;
    const usedIdx = m.quietly(() => m.readU16(model.used + VIRTQ_USED_IDX_OFFSET));
    const pending = (usedIdx - model.usedSeen) & 0xffff;
    if (pending === 0) return;
    const outstanding = this.#outstanding(model);
    if (pending > outstanding) {
      this.o.sink.fail(
        "invariant",
        `The used idx of queue ${model.index} moved from ${model.usedSeen} to ${usedIdx}: ` +
          `${pending} entries, with only ${outstanding} chain(s) outstanding`,
        { invariant: "used-idx-past-outstanding", requirement: "2.7.8/D2" },
      );
      model.usedSeen = usedIdx;
      this.queues[model.index] = null;
      return;
    }
    for (let k = 0; k < pending; k++) {
      const slot = (model.usedSeen + k) & (model.size - 1);
      const at = model.used + usedElemOffset(slot);
      const [id, len] = m.quietly(() => [m.readU32(at), m.readU32(at + 4)]);
      const list = model.inFlight.get(id);
      const posted = list?.shift();
      if (!posted) {
        this.o.sink.fail(
          "invariant",
          `Used element ${slot} of queue ${model.index} names descriptor ${id}, ` +
            "which is not the head of a chain in flight",
          { invariant: "used-id-not-in-flight", requirement: "2.7.8/D1" },
        );
        continue;
      }
      if (list!.length === 0) model.inFlight.delete(id);
      if (posted.hostile) {
        this.o.sink.fail(
          "invariant",
          `Queue ${model.index} returned head ${id}, a chain that breaks the rules ` +
            "(the device should have refused it, not served it)",
          { invariant: "served-a-hostile-chain", requirement: null },
        );
      } else if (len > posted.writableBytes) {
        this.o.sink.fail(
          "invariant",
          `Used element ${slot} of queue ${model.index} says ${len} bytes were written to ` +
            `head ${id}, whose chain has only ${posted.writableBytes} writable bytes`,
          { invariant: "used-len-beyond-writable", requirement: "2.7.8.2/2" },
        );
      } else if (posted.blk) {
        this.#checkBlock(posted, len);
      }
      // The driver takes the chain back: its descriptors and buffers.
      if (!list?.length) {
        for (const d of posted.descs) if (!model.free.includes(d)) model.free.push(d);
      }
      for (const a of posted.allocations) {
        this.#tables.delete(a);
        this.#free(a);
      }
      for (const s of posted.writable) m.accept(s.addr, s.len);
    }
    model.usedSeen = usedIdx;
  }

  /** A completed block request: its status byte, and its data against the disk. */
  #checkBlock(posted: Posted, _len: number): void {
    const blk = posted.blk!;
    const disk = this.disk!;
    const m = this.memory;
    const status = posted.writable[posted.writable.length - 1];
    const code = m.quietly(() => m.readU8(status.addr));
    if (code !== VIRTIO_BLK_S_OK) return;
    const offset = blk.sector * SECTOR_SIZE;
    if (posted.raced) return;
    if (blk.type === VIRTIO_BLK_T_IN) {
      let at = offset;
      for (const s of blk.data) {
        const got = m.quietly(() => m.bytes(s.addr, s.len));
        const want = disk.data.subarray(at, at + s.len);
        const bad = got.findIndex((b, i) => b !== want[i]);
        if (bad >= 0) {
          this.o.sink.fail(
            "invariant",
            `A read of sector ${blk.sector} (head ${posted.head}) completed OK, but byte ${
              at - offset + bad
            } of its data is 0x${got[bad].toString(16)}, not the disk's 0x${
              want[bad].toString(16)
            }`,
            { invariant: "read-data-not-the-disk's", requirement: null },
          );
          return;
        }
        at += s.len;
      }
    } else if (blk.type === VIRTIO_BLK_T_OUT) {
      let at = offset;
      for (const s of blk.data) {
        const sent = m.quietly(() => m.bytes(s.addr, s.len));
        const stored = disk.data.subarray(at, at + s.len);
        const bad = sent.findIndex((b, i) => b !== stored[i]);
        if (bad >= 0) {
          this.o.sink.fail(
            "invariant",
            `A write of sector ${blk.sector} (head ${posted.head}) completed OK, but byte ${
              at - offset + bad
            } on disk is 0x${stored[bad].toString(16)}, not the request's 0x${
              sent[bad].toString(16)
            }`,
            { invariant: "written-data-not-the-request's", requirement: null },
          );
          return;
        }
        at += s.len;
      }
    }
  }

  /** Marks this request and every request in flight it races with (see {@linkcode Posted.raced}). */
  #markRaces(posted: Posted): void {
    const blk = posted.blk;
    if (!blk) return;
    const span = (p: NonNullable<Posted["blk"]>) => {
      const from = p.sector * SECTOR_SIZE;
      return [from, from + p.data.reduce((k, s) => k + s.len, 0)];
    };
    const [from, to] = span(blk);
    for (const model of this.queues) {
      for (const list of model?.inFlight.values() ?? []) {
        for (const p of list) {
          if (p === posted || !p.blk) continue;
          if (p.blk.type !== VIRTIO_BLK_T_OUT && blk.type !== VIRTIO_BLK_T_OUT) continue;
          const [o, n] = span(p.blk);
          if (o < to && from < n) p.raced = posted.raced = true;
        }
      }
    }
  }

  /** What a device store may change: the used rings and the writable buffers in flight. */
  #allowed(): [number, number][] {
    const out: [number, number][] = [];
    for (const model of this.queues) {
      if (!model) continue;
      out.push([model.used, usedRingSize(model.size, true)]);
      for (const list of model.inFlight.values()) {
        for (const p of list) for (const s of p.writable) out.push([s.addr, s.len]);
      }
    }
    return out;
  }

  /** The name of what lives at an address the device must not write. */
  #whatIsAt(address: number): { what: string; id: RequirementId | null } {
    for (const model of this.queues) {
      if (!model) continue;
      if (address >= model.desc && address < model.desc + descTableSize(model.size)) {
        return { what: `the descriptor table of queue ${model.index}`, id: "2.7.5.1/2" };
      }
      if (address >= model.avail && address < model.avail + availRingSize(model.size, true)) {
        return { what: `the available ring of queue ${model.index}`, id: null };
      }
      for (const list of model.inFlight.values()) {
        for (const p of list) {
          for (const s of p.readable) {
            if (address >= s.addr && address < s.addr + s.len) {
              return { what: `a device-readable buffer of head ${p.head}`, id: "2.7.5.1/1" };
            }
          }
        }
      }
    }
    for (const [at, len] of this.#tables) {
      if (address >= at && address < at + len) {
        return { what: "an indirect table", id: "2.7.5.1/2" };
      }
    }
    return { what: "memory no request in flight lets the device write", id: null };
  }

  #report(runs: [number, number][]): void {
    if (runs.length === 0) return;
    const allowed = this.#allowed();
    for (const [at, len] of runs) {
      for (let a = at; a < at + len; a++) {
        if (allowed.some(([s, n]) => a >= s && a < s + n)) continue;
        const { what, id } = this.#whatIsAt(a);
        this.o.sink.fail(
          "invariant",
          `The device changed the byte at 0x${a.toString(16)}, in ${what}`,
          {
            invariant: id === "2.7.5.1/2"
              ? "device-stored-into-descriptor-table"
              : id === "2.7.5.1/1"
              ? "device-stored-into-readable-buffer"
              : what.startsWith("the available ring")
              ? "device-stored-into-available-ring"
              : "device-stored-outside-its-buffers",
            requirement: id,
          },
        );
        break;
      }
    }
    for (const [at, len] of runs) this.memory.accept(at, len);
  }

  #checkStores(): void {
    const m = this.memory;
    const runs: [number, number][] = [];
    for (const [at, len] of m.touched()) runs.push(...m.changedIn(at, len));
    this.#report(runs);
    m.resetBudget();
  }

  /** At the end of an episode: every byte that changed since the driver last looked. */
  #checkAllMemory(): void {
    this.#report(this.memory.changedRanges());
  }
}

/** An exception that escaped the device during a register access. */
class DeviceThrew extends Error {
  readonly error: unknown;
  constructor(error: unknown) {
    super("The device threw");
    this.error = error;
  }
}

interface Op {
  readonly name: string;
  readonly cls?: string;
  readonly rule?: RequirementId;
  readonly queue?: number;
  /** Does the step; `false` when it could not deliver its case (no room in the queue). */
  readonly run: () => boolean | void;
}

/**
 * An error in a few words: its class and first line.
 *
 * @param error Anything thrown.
 */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message.split("\n")[0]}`;
  return String(error);
}
