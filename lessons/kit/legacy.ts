/**
 * Legacy virtio-mmio (Version 1, §4.2.4) on trial: a driver step run on the
 * lab's own legacy register file, and what a grader looks at afterwards.
 *
 * - {@linkcode LEGACY_DEVICES} and {@linkcode runLegacySetup}: a queue set up
 *   on a Version 1 register file at ACKNOWLEDGE|DRIVER (the block device,
 *   the console with another queue selected, QueueNumMax 100, a queue in
 *   use, no room for the region, a device that refuses every `QueuePFN`),
 *   with the error, the addresses returned and those the device derived,
 *   the region allocated, the order of the accesses and what was left;
 * - {@linkcode legacyQueueSetupOrder}: the order of §4.2.4 in a driver's
 *   accesses;
 * - {@linkcode runLegacyStop}: a stop on a console with both queues in use;
 * - {@linkcode LEGACY_QUEUE_WRITES}: writes to legacy queue registers as data;
 * - {@linkcode runProbe}, {@linkcode runNegotiation}: a probe and a feature
 *   step on scripted windows.
 *
 * @module
 */

import { type Access, deviceFixture, pollingDevice, runOnWindow, scriptedWindow } from "./mmio.ts";
import { problemShape } from "./placements.ts";
import { attempt, thrownFields } from "./rules.ts";
import { accessPattern, outcome } from "./format.ts";
import {
  INITIAL_LEGACY_QUEUE_REGISTERS,
  type LegacyQueueRegisterOutcome,
  type LegacyQueueRegisters,
} from "../../transport/legacy_registers.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { VirtioConsoleDevice } from "../../devices/console/device.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { setupLegacyQueue } from "../../transport/driver_legacy.ts";
import type { QueueSetup, QueueSetupRequest } from "../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import { MACHINE_RAM_BASE } from "../../machine.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_GUEST_PAGE_SIZE,
  VIRTIO_MMIO_QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_PFN,
  VIRTIO_MMIO_QUEUE_SEL,
} from "../../transport/mmio_registers.ts";

const B = MACHINE_RAM_BASE;
const QUEUE_WRITES = [VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_ALIGN, VIRTIO_MMIO_QUEUE_PFN];

/** A setup step in the shape of `setupLegacyQueue`. */
export type LegacySetupStep = (
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  pageSize?: number,
) => QueueSetup;

const block = (max = 256) =>
  Object.defineProperty(new VirtioBlockDevice(new MemoryBlockBackend(64 * 512)), "queueMaxSizes", {
    value: [max],
  });
const console2 = () => new VirtioConsoleDevice(new MemoryConsoleBackend());
const refuses = { queueAreaProblem: () => ({ id: "2.7.1/1" as const, message: "no", values: {} }) };

/** The register files a legacy setup meets, by name: [description, fixture options]. */
export const LEGACY_DEVICES: Readonly<
  Record<string, readonly [string, () => Parameters<typeof deviceFixture>[0]]>
> = {
  block: ["the block device", () => ({ device: block() })],
  console: ["the console, queue 0 selected last", () => ({ device: console2() })],
  max100: ["a block device whose QueueNumMax is 100", () => ({ device: block(100) })],
  inUse: ["the block device with queue 0 in use", () => ({ device: block() })],
  noRoom: ["the block device, with no room for the region", () => ({ device: block() })],
  refusing: ["a block device refusing every QueuePFN", () => ({ device: block(), parts: refuses })],
};

/** What {@linkcode legacyQueueSetupOrder} finds. */
export interface LegacySetupOrder {
  /** Every queue register access came after `QueueSel` was written the queue's index, and no other since. */
  readonly selected: boolean;
  /** `GuestPageSize` was written before the nonzero `QueuePFN` (or none was written). */
  readonly pageSizeFirst: boolean;
  /** `QueuePFN` was read before any write to `QueueNum`, `QueueAlign` or `QueuePFN`. */
  readonly inUseReadFirst: boolean;
  /** `QueueNumMax` was read before `QueueNum` was written (or it was not). */
  readonly maxBeforeNum: boolean;
  /** `QueueNum` and `QueueAlign` were written before the nonzero `QueuePFN` (or none was written). */
  readonly configuredFirst: boolean;
  /** `QueuePFN` was read after its nonzero write. */
  readonly readBack: boolean;
}

/**
 * The order of a legacy queue's setup (§4.2.4) in a driver's accesses.
 * What the steps leave free (the order of `QueueNum` and `QueueAlign`,
 * reads of other registers) is not looked at.
 *
 * @param list Recorded accesses.
 * @param index The queue being set up.
 */
export function legacyQueueSetupOrder(list: readonly Access[], index: number): LegacySetupOrder {
  const at = (f: (a: Access) => boolean) => list.findIndex(f);
  const w = (o: number) => (a: Access) => a.kind === "write" && a.offset === o;
  const r = (o: number) => (a: Access) => a.kind === "read" && a.offset === o;
  let sel: number | null = null;
  let selected = true;
  for (const a of list) {
    if (w(VIRTIO_MMIO_QUEUE_SEL)(a)) sel = a.value;
    else if ([VIRTIO_MMIO_QUEUE_NUM_MAX, ...QUEUE_WRITES].includes(a.offset) && sel !== index) {
      selected = false;
    }
  }
  const pfnWrite = at((a) => w(VIRTIO_MMIO_QUEUE_PFN)(a) && a.value !== 0);
  const firstWrite = at((a) => a.kind === "write" && QUEUE_WRITES.includes(a.offset));
  const before = (i: number) => i >= 0 && (pfnWrite < 0 || i < pfnWrite);
  const maxRead = at(r(VIRTIO_MMIO_QUEUE_NUM_MAX));
  const numWrite = at(w(VIRTIO_MMIO_QUEUE_NUM));
  const pfnRead = at(r(VIRTIO_MMIO_QUEUE_PFN));
  return {
    selected,
    pageSizeFirst: pfnWrite < 0 || before(at(w(VIRTIO_MMIO_GUEST_PAGE_SIZE))),
    inUseReadFirst: pfnRead >= 0 && (firstWrite < 0 || pfnRead < firstWrite),
    maxBeforeNum: numWrite < 0 || (maxRead >= 0 && maxRead < numWrite),
    configuredFirst: pfnWrite < 0 ||
      (before(numWrite) && before(at(w(VIRTIO_MMIO_QUEUE_ALIGN)))),
    readBack: pfnWrite >= 0 && list.slice(pfnWrite + 1).some(r(VIRTIO_MMIO_QUEUE_PFN)),
  };
}

/** One legacy queue setup on a legacy register file, as {@linkcode runLegacySetup} saw it. */
export interface LegacySetupRun {
  /** The error's name and fields (its `cause` by name), or `null` when it returned. */
  readonly error: Record<string, unknown> | null;
  /** What it returned, or `null`. */
  readonly returned: QueueSetup | null;
  /** The device's queue afterwards: in use (QueuePFN not 0), and the three addresses it derived. */
  readonly device: { readonly inUse: boolean; readonly areas: readonly number[] } | undefined;
  /** The allocation at `returned.descAddr`: its size in bytes, and whether it is all zero. */
  readonly region: { readonly bytes: number | undefined; readonly zeroed: boolean } | null;
  /** The order of §4.2.4. */
  readonly order: LegacySetupOrder;
  /** Writes to `QueueNum`, `QueueAlign` and `QueuePFN`. */
  readonly queueWrites: number;
  /** Allocations left over by the step. */
  readonly left: number;
  /** Violation ids the device logged. */
  readonly logged: readonly string[];
  /** Every access. */
  readonly accesses: readonly Access[];
}

/**
 * Runs a setup step on a fresh legacy register file (1 MiB of RAM, stale
 * bytes in it) at ACKNOWLEDGE|DRIVER.
 *
 * @param step The setup step (the learner's or the reference).
 * @param name A key of {@linkcode LEGACY_DEVICES}.
 * @param index The queue index.
 * @param request The request.
 * @param pageSize The page size argument, left out when `undefined`.
 */
export function runLegacySetup(
  step: LegacySetupStep,
  name: string,
  index: number,
  request: QueueSetupRequest,
  pageSize?: number,
): LegacySetupRun {
  const memory = new GuestMemory(1 << 20, { base: B });
  memory.fill(B, memory.size, 0xa5); // stale bytes: a region must be zeroed
  const options = LEGACY_DEVICES[name][1]();
  const dev = deviceFixture({ strict: false, featuresOk: true, version: 1, memory, ...options });
  const allocator = new GuestAllocator(memory, { end: name === "noRoom" ? B + 4096 : undefined });
  if (name === "inUse") setupLegacyQueue(dev.raw, allocator, 0, {});
  if (name === "console") dev.raw.write32(VIRTIO_MMIO_QUEUE_SEL, 0);
  dev.log.clear();
  dev.accesses.length = 0;
  const count = allocator.count;
  const run = runOnWindow(
    dev,
    (w) =>
      pageSize === undefined
        ? step(w, allocator, index, request)
        : step(w, allocator, index, request, pageSize),
  );
  const returned = "returned" in run.outcome ? run.outcome.returned : null;
  const threw = thrownFields(run.outcome);
  const q = dev.transport.inspect().queues[index];
  const bytes = returned ? allocator.sizeOf(returned.descAddr) : undefined;
  return {
    error: "threw" in run.outcome ? { ...threw, cause: (threw.cause as Error)?.name } : null,
    returned,
    device: q && { inUse: (q.legacy?.pfn ?? 0) !== 0, areas: [q.desc, q.driver, q.device] },
    region: returned && {
      bytes,
      zeroed: bytes !== undefined && memory.bytes(returned.descAddr, bytes).every((b) => b === 0),
    },
    order: legacyQueueSetupOrder(run.accesses, index),
    queueWrites: run.accesses.filter((a) => a.kind === "write" && QUEUE_WRITES.includes(a.offset))
      .length,
    left: allocator.count - count,
    logged: dev.log.entries.map((v) => v.id),
    accesses: run.accesses,
  };
}

/**
 * Runs a stop step on a legacy console with queues 0 and 1 in use (16
 * descriptors each) and the other one selected.
 *
 * @param step The stop step.
 * @param index The queue to stop.
 * @returns The outcome in words, which queues are still in use, the accesses.
 */
export function runLegacyStop(
  step: (window: RegisterWindow, index: number) => void,
  index: number,
): { outcome: string; inUse: boolean[]; accesses: readonly Access[] } {
  const memory = new GuestMemory(1 << 20, { base: B });
  const dev = deviceFixture({
    strict: false,
    featuresOk: true,
    version: 1,
    memory,
    device: console2(),
  });
  const allocator = new GuestAllocator(memory);
  for (const q of [0, 1]) setupLegacyQueue(dev.raw, allocator, q, { size: 16 });
  dev.raw.write32(VIRTIO_MMIO_QUEUE_SEL, 1 - index);
  dev.accesses.length = 0;
  const run = runOnWindow(dev, (w) => step(w, index));
  const inUse = [0, 1].map((q) => (dev.transport.legacyQueueRegisters(q)?.pfn ?? 0) !== 0);
  return { outcome: outcome(run.outcome), inUse, accesses: run.accesses };
}

// ------------------------------------------------------------ legacy queue registers as data

const PAGE = 4096;
const LIVE_PFN = B / PAGE + 4;

/** Legacy queue registers a write may meet, by description. */
export const LEGACY_QUEUE_STATES: Readonly<Record<string, LegacyQueueRegisters>> = {
  "a queue after reset": INITIAL_LEGACY_QUEUE_REGISTERS,
  "a queue with QueueNum 8": { num: 8, align: PAGE, pfn: 0, base: 0 },
  "a queue with QueueNum 256 and QueueAlign 8192": { num: 256, align: 8192, pfn: 0, base: 0 },
  "a queue with QueueNum 8 and QueueAlign 3000": { num: 8, align: 3000, pfn: 0, base: 0 },
  "a queue with QueueNum 100": { num: 100, align: PAGE, pfn: 0, base: 0 },
  "a queue with QueueNum 512": { num: 512, align: PAGE, pfn: 0, base: 0 },
  "a queue in use": { num: 8, align: PAGE, pfn: LIVE_PFN, base: LIVE_PFN * PAGE },
};
const [RESET, Q8, Q256, BADALIGN, Q100, Q512, LIVE] = Object.keys(LEGACY_QUEUE_STATES);
const NUM = VIRTIO_MMIO_QUEUE_NUM;
const ALIGN = VIRTIO_MMIO_QUEUE_ALIGN;
const PFN = VIRTIO_MMIO_QUEUE_PFN;

/** One write to a legacy queue register: [rule, a key of {@linkcode LEGACY_QUEUE_STATES}, offset, value, GuestPageSize]. */
export type WriteCase = [rule: string, from: string, offset: number, value: number, page: number];
const on = (rule: string, from: string, offset: number, values: number[], page = PAGE) =>
  values.map((v): WriteCase => [rule, from, offset, v, page]);
const pfnAt = (pages: number) => B / PAGE + pages; // pages into 1 MiB of RAM at the machine's base

/**
 * Writes to legacy queue registers, by the rule they are about (`store`,
 * `busy`, `page`, `num`, `place`, `ram`, `stop`), for 1 MiB of RAM at the
 * lab machine's RAM base and a QueueNumMax of 256: the refusals of each rule
 * of `writeLegacyQueueRegister` and its valid edges (regions in the first
 * and the last pages of RAM, pages of 16 and 8192 bytes).
 */
export const LEGACY_QUEUE_WRITES: readonly WriteCase[] = [
  ...on("store", RESET, NUM, [8, 256, 0xffff_ffff, 0]),
  ...on("store", Q8, ALIGN, [PAGE, 0x8000_0000, 3]),
  ...on("busy", LIVE, NUM, [16]),
  ...on("busy", LIVE, ALIGN, [8192]),
  ...on("busy", LIVE, PFN, [pfnAt(40), LIVE_PFN]),
  ...on("page", Q8, PFN, [pfnAt(1)], 0),
  ...on("page", Q8, PFN, [pfnAt(1)], 3000),
  ...on("page", BADALIGN, PFN, [pfnAt(1)]),
  ...on("num", RESET, PFN, [pfnAt(1)]),
  ...on("num", Q100, PFN, [pfnAt(1)]),
  ...on("num", Q512, PFN, [pfnAt(1)]),
  ...on("place", Q8, PFN, [pfnAt(1), pfnAt(254)]),
  ...on("place", Q256, PFN, [pfnAt(2), pfnAt(6)]),
  ...on("place", Q8, PFN, [B / 16 + 1], 16),
  ...on("place", Q8, PFN, [B / 8192 + 1], 8192),
  ...on("ram", Q256, PFN, [pfnAt(252), pfnAt(254), 1, 0xffff_ffff]),
  ...on("ram", Q8, PFN, [B / 4 + 1], 4),
  ...on("stop", LIVE, PFN, [0]),
  ...on("stop", Q8, PFN, [0]),
];

// ------------------------------------------------------------ probe and features

/** A window for a probe: [MagicValue, Version, DeviceID, VendorID]. */
export type ProbeCase = [magic: number, version: number, deviceId: number, vendorId: number];
/** What a probe returned (its `reason` left out: free) or threw, and the accesses' patterns. */
export interface ProbeRun {
  readonly found: unknown;
  readonly accesses: readonly string[];
}

/**
 * Runs a probe step on a scripted window reading the case's four values.
 *
 * @param step The probe step.
 */
export function runProbe(step: (w: RegisterWindow) => unknown, ...c: ProbeCase): ProbeRun {
  const values: Record<number, number> = { 0: c[0], 4: c[1], 8: c[2], 0xc: c[3] };
  const w = scriptedWindow((at) => values[at] ?? 0);
  const o = attempt(() => step(w.window));
  const found = "returned" in o
    ? { ...(o.returned as object), reason: undefined }
    : thrownFields(o);
  return { found, accesses: w.accesses.map(accessPattern) };
}

/** What a negotiation returned (or threw) and every access it made. */
export interface NegotiationRun {
  readonly returned: unknown;
  readonly accesses: readonly Access[];
}

/**
 * Runs a feature step on a scripted legacy window: `DeviceFeatures` reads
 * `offered` for word 0 and `VIRTIO_F_VERSION_1` (bit 32) for word 1, so a
 * step that reads word 1 is seen to.
 *
 * @param step The feature step.
 * @param offered Word 0 of the offer.
 * @param supported The driver's supported features.
 */
export function runNegotiation(
  step: (w: RegisterWindow, supported: bigint) => bigint,
  offered: number,
  supported: bigint,
): NegotiationRun {
  let sel = 0;
  const w = scriptedWindow(
    (at) => at === VIRTIO_MMIO_DEVICE_FEATURES ? (sel === 0 ? offered : 1) : 0,
    (at, _width, v) => void (at === VIRTIO_MMIO_DEVICE_FEATURES_SEL && (sel = v)),
  );
  const o = attempt(() => step(w.window, supported));
  return { returned: "returned" in o ? o.returned : thrownFields(o), accesses: w.accesses };
}

/**
 * Whether a learner's `writeLegacyQueueRegister` outcome has the contract's
 * shape: `undefined` when it does, else the shape in words.
 *
 * @param o The outcome.
 */
export function legacyOutcomeShape(o: unknown): string | undefined {
  const r = o as LegacyQueueRegisterOutcome;
  return typeof r?.registers === "object" && typeof r.enabled === "boolean" &&
      typeof r.stopped === "boolean" && Array.isArray(r.problems) &&
      r.problems.every((p) => problemShape(p) === undefined)
    ? undefined
    : "{ registers: { num, align, pfn, base }, enabled, stopped, problems: [{ id, message, values }] }";
}

/** What a stop step did on a slow device: its error's fields (`{}` if it returned), and the reads made. */
export interface SlowStopRun {
  readonly outcome: Record<string, unknown>;
  readonly polls: number;
}

/**
 * Runs a stop step for queue 2 on a device whose `QueuePFN` still reads
 * 0x40010 for `late` reads after the 0 is written (`Infinity`: forever).
 *
 * @param step The stop step.
 * @param late Busy reads before it reads 0.
 * @param maxPolls The bound passed, or left out when `undefined`.
 */
export function runSlowLegacyStop(
  step: (w: RegisterWindow, index: number, maxPolls?: number) => void,
  late: number,
  maxPolls?: number,
): SlowStopRun {
  const dev = pollingDevice({ register: PFN, trigger: 0, busy: 0x40010, settled: 0, late });
  const o = attempt(() =>
    maxPolls === undefined ? step(dev.window, 2) : step(dev.window, 2, maxPolls)
  );
  return { outcome: thrownFields(o), polls: dev.polls() };
}
