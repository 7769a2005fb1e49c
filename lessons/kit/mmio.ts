/**
 * Register windows for graders: windows that record every access a driver
 * makes, windows that answer from a script, an access budget that stops a
 * driver stuck in a loop, a real device's register file behind a window (no
 * bus, no guest: cheap enough to build for every case), and the checks of
 * access order the spec asks for.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { fail } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import {
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VERSION,
} from "../../transport/mmio_registers.ts";
import { type MmioDeviceParts, MmioDeviceTransport } from "../../transport/mmio_device.ts";
import type { MmioRegion, RegisterWindow } from "../../transport/types.ts";
import type { AccessWidth, VirtioDevice } from "../../virtio/device.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import {
  addStatus,
  beginInitialization,
  writeDriverFeatures,
} from "../../transport/mmio_driver.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import { VIRTIO_CONFIG_S_FEATURES_OK } from "../../virtio/status.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { MACHINE_RAM_BASE } from "../../machine.ts";
import {
  type Access,
  access,
  accesses as showAccesses,
  accessPattern,
  outcome as showOutcome,
  status as showStatus,
} from "./format.ts";
import { attempt, type Outcome } from "./rules.ts";

export type { Access };

/** How many accesses a recorded window allows before it calls the driver stuck. */
export const ACCESS_BUDGET = 100_000;

/** Thrown by a window whose access budget ran out: the driver is looping. */
export class RunawayDriverError extends Error {
  /** The number of accesses allowed. */
  readonly budget: number;

  /**
   * @param budget The number of accesses allowed.
   * @param last The last access made.
   */
  constructor(budget: number, last: Access | undefined) {
    super(
      `Your code made more than ${budget.toLocaleString("en")} register accesses` +
        (last ? ` (the last: ${access(last)})` : "") + ": it looks like a loop that never ends",
    );
    this.name = "RunawayDriverError";
    this.budget = budget;
  }
}

/** A window and the accesses made through it, in order. */
export interface RecordedWindow {
  /** The window to hand to the driver. */
  readonly window: RegisterWindow;
  /** Every access made through it; a grader may empty it (`length = 0`) between steps. */
  readonly accesses: Access[];
}

/**
 * Wraps a window so that every access is recorded, and stops a driver that
 * makes more than `budget` accesses by throwing {@linkcode RunawayDriverError}.
 *
 * @param inner The window to wrap.
 * @param budget How many accesses to allow.
 * @returns The recording window and its access list.
 */
export function recordingWindow(inner: RegisterWindow, budget = ACCESS_BUDGET): RecordedWindow {
  const list: Access[] = [];
  let made = 0;
  const note = (kind: Access["kind"], offset: number, width: AccessWidth, value: number) => {
    if (++made > budget) throw new RunawayDriverError(budget, list.at(-1));
    const entry = { kind, offset, width, value: value >>> 0, threw: true };
    list.push(entry);
    return entry;
  };
  const read = (width: AccessWidth, fn: (o: number) => number) => (o: number) => {
    const entry = note("read", o, width, 0);
    const v = fn(o);
    entry.value = v >>> 0;
    entry.threw = false;
    return v;
  };
  const write =
    (width: AccessWidth, fn: (o: number, v: number) => void) => (o: number, v: number) => {
      const entry = note("write", o, width, v);
      fn(o, v);
      entry.threw = false;
    };
  return {
    accesses: list,
    window: {
      base: inner.base,
      size: inner.size,
      read32: read(4, (o) => inner.read32(o)),
      read16: read(2, (o) => inner.read16(o)),
      read8: read(1, (o) => inner.read8(o)),
      write32: write(4, (o, v) => inner.write32(o, v)),
      write16: write(2, (o, v) => inner.write16(o, v)),
      write8: write(1, (o, v) => inner.write8(o, v)),
    },
  };
}

/**
 * A driver's view of a register file, with no bus in between.
 *
 * @param region The register file (a device transport, an empty slot, a script).
 * @param base The base address the window reports.
 */
export function windowOf(region: MmioRegion, base = 0x1e000): RegisterWindow {
  return {
    base,
    size: region.size,
    read32: (o) => region.read(o, 4),
    read16: (o) => region.read(o, 2),
    read8: (o) => region.read(o, 1),
    write32: (o, v) => region.write(o, 4, v >>> 0),
    write16: (o, v) => region.write(o, 2, v & 0xffff),
    write8: (o, v) => region.write(o, 1, v & 0xff),
  };
}

/**
 * A 0x200-byte register file answering from functions: the fake devices of
 * the graders (a byte-swapped magic, a reset that takes its time...).
 *
 * @param read Answers a read of any width.
 * @param write Takes a write of any width; ignored when absent.
 */
export function scriptedRegion(
  read: (offset: number, width: AccessWidth) => number,
  write: (offset: number, width: AccessWidth, value: number) => void = () => {},
): MmioRegion {
  return { size: 0x200, read, write };
}

/**
 * A register file of 32-bit registers answering from a function of the
 * aligned offset: an 8-bit or 16-bit read returns the matching bytes of the
 * register, little-endian, as real hardware that allows such reads would.
 *
 * @param words The value of the 32-bit register at an aligned offset.
 * @param write Takes a write of any width; ignored when absent.
 */
export function wordRegion(
  words: (aligned: number) => number,
  write?: (offset: number, width: AccessWidth, value: number) => void,
): MmioRegion {
  return scriptedRegion((offset, width) => {
    const shift = 8 * (offset % 4);
    const mask = width === 4 ? 0xffff_ffff : (1 << (8 * width)) - 1;
    return ((words(offset - (offset % 4)) >>> shift) & mask) >>> 0;
  }, write);
}

/**
 * A scripted device behind a recording window: 32-bit registers answering
 * from `words` (narrow reads get their bytes), writes going to `write`.
 *
 * @param words The value of the 32-bit register at an aligned offset.
 * @param write Takes a write of any width; ignored when absent.
 * @param budget Access budget of the window.
 */
export function scriptedWindow(
  words: (aligned: number) => number,
  write?: (offset: number, width: AccessWidth, value: number) => void,
  budget = ACCESS_BUDGET,
): RecordedWindow {
  return recordingWindow(windowOf(wordRegion(words, write)), budget);
}

/** What {@linkcode deviceFixture} takes. */
export interface DeviceFixtureOptions {
  /** The device model (default: a virtio-blk device over a 32 KiB disk in memory). */
  readonly device?: VirtioDevice;
  /** Whether the log throws on the first violation (default true). */
  readonly strict?: boolean;
  /** Device-side transport parts to use instead of the reference ones. */
  readonly parts?: Partial<MmioDeviceParts>;
  /** Access budget of the recording window (default {@linkcode ACCESS_BUDGET}). */
  readonly budget?: number;
  /**
   * Whether the window has been probed already (MagicValue and Version read,
   * as the guest's virtio bus does before a driver starts): default true.
   */
  readonly probed?: boolean;
  /**
   * Guest RAM the device's queues live in (default: 64 KiB at the lab
   * machine's RAM base); e.g. RAM above 4 GiB, where every area address has
   * a high word.
   */
  readonly memory?: GuestMemory;
  /**
   * Bring the device to ACKNOWLEDGE|DRIVER|FEATURES_OK first, with
   * `VIRTIO_F_VERSION_1` alone negotiated, as a driver does before it sets
   * up queues (§3.1.1 step 7): default false. Those accesses are not
   * recorded and the log is cleared after them. On a legacy register file
   * (`version: 1`), which has no FEATURES_OK, the device is brought to
   * ACKNOWLEDGE|DRIVER with no feature accepted instead.
   */
  readonly featuresOk?: boolean;
  /** The interface of the register file: 2 (default) or 1, the legacy one of §4.2.4. */
  readonly version?: 1 | 2;
}

/** A device's register file behind a recording window. */
export interface DeviceFixture extends RecordedWindow {
  /** The register file (the lab's `MmioDeviceTransport`). */
  readonly transport: MmioDeviceTransport;
  /** Its conformance log. */
  readonly log: ConformanceLog;
  /** The same registers without recording or budget: for the grader's own accesses. */
  readonly raw: RegisterWindow;
  /** Guest RAM behind the register file (where a driver allocates its queues' areas). */
  readonly memory: GuestMemory;
  /** The features the device offers. */
  readonly offered: bigint;
  /** `Status` as the register file holds it now (read without an access). */
  status(): number;
}

/**
 * The lab's register file for a real device model, behind a window: what a
 * driver function meets on the lab machine, without a bus, a guest or a
 * second device. Building one takes well under a millisecond.
 *
 * @param options Device, strictness, parts, budget.
 * @returns The fixture, in the reset state (Status 0).
 */
export function deviceFixture(options: DeviceFixtureOptions = {}): DeviceFixture {
  const log = new ConformanceLog({ strict: options.strict ?? true });
  const device = options.device ??
    new VirtioBlockDevice(new MemoryBlockBackend(new Uint8Array(64 * 512)));
  const memory = options.memory ?? new GuestMemory(64 * 1024, { base: MACHINE_RAM_BASE });
  const transport = new MmioDeviceTransport(device, {
    memory,
    log,
    name: `${device.name}@0x1e000`,
    parts: options.parts,
    version: options.version,
  });
  const raw = windowOf(transport);
  if (options.probed ?? true) {
    raw.read32(VIRTIO_MMIO_MAGIC_VALUE);
    raw.read32(VIRTIO_MMIO_VERSION);
  }
  if (options.featuresOk && options.version === 1) {
    beginInitialization(raw);
    log.clear();
  } else if (options.featuresOk) {
    beginInitialization(raw);
    writeDriverFeatures(raw, device.deviceFeatures & featureMask(VIRTIO_F_VERSION_1));
    addStatus(raw, VIRTIO_CONFIG_S_FEATURES_OK);
    log.clear();
  }
  const { window, accesses } = recordingWindow(raw, options.budget);
  return {
    transport,
    log,
    raw,
    window,
    accesses,
    memory,
    offered: device.deviceFeatures,
    status: () => transport.status,
  };
}

/** What a driver step did on a window: its outcome, its accesses, and Status afterwards. */
export interface WindowRun<R = unknown> {
  /** Returned or threw. */
  readonly outcome: Outcome<R>;
  /** Every access it made, in order. */
  readonly accesses: readonly Access[];
  /** `Status` afterwards. */
  readonly status: number;
}

/**
 * Runs a driver step on a fresh window and records what it did. A stub's
 * `todo()` and a strict log's violation pass through (see `attempt`).
 *
 * @param fixture A recorded window that can tell its status (a device fixture, a scripted device).
 * @param step The step, given the recording window.
 */
export function runOnWindow<R>(
  fixture: RecordedWindow & { readonly status: () => number },
  step: (window: RegisterWindow) => R,
): WindowRun<R> {
  const outcome = attempt(() => step(fixture.window));
  return { outcome, accesses: fixture.accesses, status: fixture.status() };
}

/**
 * A driver step's run in a failure message: what it did, every access, and Status afterwards.
 *
 * @param r The run.
 * @param limit How many accesses to show.
 */
export function describeRun(r: WindowRun, limit = 12): string {
  return `${showOutcome(r.outcome)} after ${showAccesses(r.accesses, limit)}; Status ${
    showStatus(r.status)
  }`;
}

/**
 * The shape of a run, for comparing two: `"threw"` or the value returned, and every access in
 * compact form (`write32 0x070 0x03`).
 *
 * @param r The run.
 */
export function trace(r: WindowRun): { outcome: unknown; accesses: string[] } {
  return {
    outcome: "threw" in r.outcome ? "threw" : r.outcome.returned,
    accesses: r.accesses.map(accessPattern),
  };
}

/**
 * The values a driver wrote to one register, in order.
 *
 * @param list Recorded accesses.
 * @param at The register's offset.
 */
export function writesTo(list: readonly Access[], at: number): number[] {
  return list.filter((a) => a.kind === "write" && a.offset === at).map((a) => a.value);
}

/**
 * Fails unless every access is an aligned 32-bit access, and (with
 * `readOnly`) a read: the rules of control registers (§4.2.2.2).
 *
 * @param list Recorded accesses.
 * @param doing What the driver was doing, e.g. `"probeWindow"`.
 * @param rules The ids to cite: `width` for a narrow or misaligned access, `write` for a write.
 * @param readOnly Whether writes are refused too.
 */
export function expectAligned32(
  list: readonly Access[],
  doing: string,
  rules: { readonly width: RequirementId; readonly write?: RequirementId },
  readOnly = false,
): void {
  const narrow = list.find((a) => a.width !== 4 || a.offset % 4 !== 0);
  if (narrow) {
    fail({
      observed: `${doing} made a ${access(narrow)}`,
      expected: "every access to a control register to be an aligned 32-bit one (read32, write32)",
      requirement: rules.width,
    });
  }
  const write = readOnly ? list.find((a) => a.kind === "write") : undefined;
  if (write) {
    fail({
      observed: `${doing} made a ${access(write)} (accesses: ${showAccesses(list)})`,
      expected: "this step to only read: it writes nothing",
      requirement: rules.write ?? rules.width,
    });
  }
}

/**
 * Whether a selected register (`data`) was only ever accessed right after
 * its selector was written: every `kind` access to `data` follows a write to
 * `selector` made since the previous one, so the selector is never trusted
 * from before (DeviceFeaturesSel, DriverFeaturesSel, QueueSel...). With
 * `values`, the selector must also have been written each of them.
 *
 * @param list Recorded accesses.
 * @param data Offset of the selected register.
 * @param selector Offset of its selector.
 * @param kind Which accesses to `data` need a fresh selector.
 * @param values Selector values that must all have been written (e.g. `[0, 1]`).
 */
export function selectedEachTime(
  list: readonly Access[],
  data: number,
  selector: number,
  kind: Access["kind"],
  values: readonly number[] = [],
): boolean {
  let fresh = false;
  const written = new Set<number>();
  for (const a of list) {
    if (a.offset === selector && a.kind === "write") {
      fresh = true;
      written.add(a.value);
    } else if (a.offset === data && a.kind === kind) {
      if (!fresh) return false;
      fresh = false;
    }
  }
  return values.every((v) => written.has(v));
}

/**
 * A device whose `Status` register takes its time to reset: after a write of
 * 0, it reads the old value `resetReads` more times before it reads 0
 * (`Infinity`: never). Other writes store the value. Every other register
 * reads 0. Behind a recording window.
 *
 * @param initial Status before the driver starts.
 * @param resetReads Reads of a non-zero status after a write of 0.
 * @param budget Access budget of the window.
 */
export function slowResetDevice(
  initial: number,
  resetReads: number,
  budget = ACCESS_BUDGET,
): RecordedWindow & { readonly status: () => number; readonly resetDone: () => boolean } {
  let current = initial;
  let pending = -1; // reads left before the reset finishes; -1: no reset pending
  let done = false;
  const region = scriptedRegion(
    (offset) => {
      if (offset !== VIRTIO_MMIO_STATUS) return 0;
      if (pending > 0) pending--;
      else if (pending === 0) {
        current = 0;
        pending = -1;
        done = true;
      }
      return current;
    },
    (offset, _width, v) => {
      if (offset !== VIRTIO_MMIO_STATUS) return;
      if (v === 0) {
        done = false;
        pending = resetReads;
      } else if (pending < 0) current = v & 0xff;
    },
  );
  const recorded = recordingWindow(windowOf(region), budget);
  return { ...recorded, status: () => current, resetDone: () => done };
}

/** What {@linkcode pollingDevice} takes. */
export interface PollingDeviceOptions {
  /** The register a driver writes, then reads until it settles (e.g. `QueueReady`). */
  readonly register: number;
  /** The value whose write starts the wait (0 for `QueueReady`). */
  readonly trigger: number;
  /** What the register reads before the trigger, and while the device is busy. */
  readonly busy: number;
  /** What it reads once the device is done. */
  readonly settled: number;
  /** Reads of `busy` after the trigger before it reads `settled` (`Infinity`: never). */
  readonly late: number;
  /** Access budget of the window. */
  readonly budget?: number;
}

/**
 * A device one register of which takes its time: after a write of
 * `trigger`, it reads `busy` `late` more times, then `settled` (e.g.
 * `QueueReady` after a stop, `QueueReset` after a queue reset). Every other
 * register reads 0 and takes writes silently. Behind a recording window; it
 * counts the reads made after the trigger (`polls`) and whether one of them
 * gave `settled`.
 *
 * @param options The register, the values, how late, the budget.
 */
export function pollingDevice(
  options: PollingDeviceOptions,
): RecordedWindow & { readonly polls: () => number; readonly settledSeen: () => boolean } {
  const { register, trigger, busy, settled, late } = options;
  let value = busy;
  let pending = -1; // busy reads left after the trigger; -1: not triggered
  let polls = 0;
  let seen = false;
  const region = scriptedRegion(
    (offset) => {
      if (offset !== register) return 0;
      if (pending >= 0) {
        polls++;
        if (pending > 0) pending--;
        else value = settled;
        seen ||= value === settled;
      }
      return value;
    },
    (offset, _width, v) => {
      if (offset === register && v === trigger && pending < 0) pending = late;
    },
  );
  const recorded = recordingWindow(windowOf(region), options.budget);
  return { ...recorded, polls: () => polls, settledSeen: () => seen };
}

/** What a driver's accesses show of the order §4.2.3.2 gives a queue's setup ({@linkcode queueSetupOrder}). */
export interface QueueSetupOrder {
  /** Every access to a queue register came after `QueueSel` was written with the queue's index, and no other since. */
  readonly selected: boolean;
  /** `QueueReady` was read before any write to `QueueNum`, an address register or `QueueReady`. */
  readonly readyReadFirst: boolean;
  /** `QueueNumMax` was read before `QueueNum` was written (or `QueueNum` was not written). */
  readonly maxBeforeNum: boolean;
  /** `QueueNum` and the six address registers were all written before `QueueReady` was written 1 (or it was not). */
  readonly configuredFirst: boolean;
  /** `QueueReady` was read after it was written 1. */
  readonly readBack: boolean;
}

const QUEUE_CONFIG = [
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
];

/**
 * The order of a queue's setup in a driver's accesses (§4.2.3.2): selected
 * first, `QueueReady` read before anything is written, `QueueNumMax` before
 * `QueueNum`, the configuration before `QueueReady` 1, and `QueueReady` read
 * back. What the steps leave free (the order of the seven configuration
 * writes, reads of other registers) is not looked at.
 *
 * @param list Recorded accesses.
 * @param index The queue being set up.
 */
export function queueSetupOrder(list: readonly Access[], index: number): QueueSetupOrder {
  const at = (f: (a: Access) => boolean) => list.findIndex(f);
  const write = (o: number) => (a: Access) => a.kind === "write" && a.offset === o;
  const read = (o: number) => (a: Access) => a.kind === "read" && a.offset === o;
  const enable = at((a) => write(VIRTIO_MMIO_QUEUE_READY)(a) && a.value === 1);
  const firstWrite = at((a) =>
    a.kind === "write" && [...QUEUE_CONFIG, VIRTIO_MMIO_QUEUE_READY].includes(a.offset)
  );
  const queueRegisters = [...QUEUE_CONFIG, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NUM_MAX];
  let sel: number | null = null;
  let selected = true;
  for (const a of list) {
    if (write(VIRTIO_MMIO_QUEUE_SEL)(a)) sel = a.value;
    else if (queueRegisters.includes(a.offset) && sel !== index) selected = false;
  }
  const readyRead = at(read(VIRTIO_MMIO_QUEUE_READY));
  const maxRead = at(read(VIRTIO_MMIO_QUEUE_NUM_MAX));
  const numWrite = at(write(VIRTIO_MMIO_QUEUE_NUM));
  const before = list.slice(0, Math.max(enable, 0));
  return {
    selected,
    readyReadFirst: readyRead >= 0 && (firstWrite < 0 || readyRead < firstWrite),
    maxBeforeNum: numWrite < 0 || (maxRead >= 0 && maxRead < numWrite),
    configuredFirst: enable < 0 || QUEUE_CONFIG.every((o) => before.some(write(o))),
    readBack: enable >= 0 && list.slice(enable + 1).some(read(VIRTIO_MMIO_QUEUE_READY)),
  };
}
