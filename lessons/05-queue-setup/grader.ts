/**
 * The grader of lesson 5, "Bringing a queue up": the device's register rules as data, the
 * driver's setup and stop on the lab's real register files and slow devices, the lab machine.
 *
 * @module
 */

import { defineGrader, expect } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  INITIAL_QUEUE_REGISTERS as RESET_STATE,
  queueAreaProblem,
  type QueueRegisterOutcome,
  type QueueRegisters,
  writeQueueRegister as referenceWrite,
} from "../../transport/queue_registers.ts";
import * as reference from "../../transport/driver_queues.ts";
import type { QueueSetupRequest } from "../../transport/driver_queues.ts";
import * as R from "../../transport/mmio_registers.ts";
import { isValidQueueSize } from "../../virtqueue/layout.ts";
import { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { VirtioBlockDevice } from "../../devices/blk/device.ts";
import { MemoryBlockBackend } from "../../devices/blk/backends.ts";
import { VirtioConsoleDevice } from "../../devices/console/device.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import * as show from "../kit/format.ts";
import { deviceFixture, pollingDevice, queueSetupOrder, runOnWindow } from "../kit/mmio.ts";
import { attempt, every, ruleFor, thrownFields } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";
import { problemShape } from "../kit/placements.ts";

type Impl = typeof Exercise;

const B = 0x4000_0000;
const FOUR_GIB = 2 ** 32;
const { VIRTIO_MMIO_QUEUE_SEL: SEL, VIRTIO_MMIO_QUEUE_NUM: NUM } = R;
const READY = R.VIRTIO_MMIO_QUEUE_READY;
const ADDRESS = [0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4];

// ------------------------------------------------------------ writeQueueRegister

const CONFIGURED = {
  ...RESET_STATE,
  ...{ num: 8, descLow: B + 0x1000, driverLow: B + 0x2000, deviceLow: B + 0x3000 },
};
const START: Record<string, QueueRegisters> = {
  "a queue after reset": RESET_STATE,
  "a configured queue": CONFIGURED,
  "a live queue": { ...CONFIGURED, ready: true },
  "a queue stopped and not read back": { ...CONFIGURED, stopUnconfirmed: true },
  "a queue with its table 8 bytes off": { ...CONFIGURED, descLow: B + 0x1008 },
};
const [RESET, CONF, LIVE, STOPPED, OFF] = Object.keys(START);
const checkAreas = (r: QueueRegisters) =>
  queueAreaProblem(r, { queue: 0, max: 256, ram: { base: B, size: 1 << 20 }, eventIdx: false });
/** [rule, the queue before, register, value, QueueNumMax (default 256)] */
type WriteCase = [string, string, number, number, number?];
const on = (rule: string, from: string, offset: number, values: number[], max?: number) =>
  values.map((v): WriteCase => [rule, from, offset, v, max]);
const WRITES: WriteCase[] = [
  ...on("max", RESET, NUM, [8, 256, 512, 0x1_0008, 0xffff_ffff]),
  ...on("max", RESET, NUM, [16], 8),
  ...on("size", RESET, NUM, [100, 0, 3, 1, 300]),
  ...ADDRESS.flatMap((o) => on("address", RESET, o, [0x8000_1000, 0xffff_ffff])),
  ...ADDRESS.flatMap((o) => on("address", CONF, o, [1])),
  ...on("live", LIVE, NUM, [16]),
  ...on("live", LIVE, 0x080, [B + 0x8000]),
  ...on("live", LIVE, 0x0a4, [1]),
  ...[CONF, RESET, OFF, LIVE].flatMap((from) => on("enable", from, READY, [1])),
  ...[LIVE, CONF].flatMap((from) => on("stop", from, READY, [0])),
  ...[LIVE, CONF].flatMap((from) => on("readback", from, READY, [0])),
  ...on("readback", STOPPED, NUM, [16, 512]),
  ...on("readback", STOPPED, 0x090, [B + 0x4000]),
  ...on("readback", STOPPED, READY, [1, 0]),
];
/** The problems' ids, sorted; 2.7/D1 counts as 4.2.2.2/9 (once) for a value that breaks both. */
const ids = (o: QueueRegisterOutcome, [, , , value, max = 256]: WriteCase) => {
  const both = value > max && !isValidQueueSize(value);
  const list = o.problems.map((p) => both && p.id === "2.7/D1" ? "4.2.2.2/9" : p.id);
  return (both ? [...new Set(list)] : list).sort();
};
const outcomeShape = (o: unknown) => {
  const r = o as QueueRegisterOutcome;
  const fine = typeof r?.registers === "object" && typeof r.enabled === "boolean" &&
    r.reset === false && Array.isArray(r.problems) &&
    r.problems.every((p) => problemShape(p) === undefined && p);
  return fine
    ? undefined
    : "{ registers, enabled, stopped, reset: false, problems: [{ id, message }] }";
};
const run = (fn: Impl["writeQueueRegister"], [, from, offset, value, max = 256]: WriteCase) =>
  fn(START[from], { queue: 0, offset, value, max, ringReset: false }, checkAreas);
const written = ruleFor<Impl, WriteCase, QueueRegisterOutcome>({
  run: (impl, ...c) => run(impl.writeQueueRegister, c),
  reference: (...c) => run(referenceWrite, c),
  key: (...c) => c.join(" "),
  show: (_rule, from, offset, value, max = 256) =>
    `writeQueueRegister(${from}, a write of ${show.word(value)} to ${
      R.findRegister(offset, 2)?.name
    }, QueueNumMax ${max}, checkAreas)`,
  result: (o) =>
    `${show.fields(o.registers)}, enabled ${o.enabled}, stopped ${o.stopped}, problems ` +
    `[${o.problems.map((p) => p.id).join(", ")}]`,
  shape: outcomeShape,
}, { hint: 3 });
const SIGNED = "A register holds an unsigned 32-bit value: `value | 0` makes bit 31 a sign.";
const cases = (rule: string) => every(WRITES.filter((c) => c[0] === rule));
const sizeAndProblems = (o: QueueRegisterOutcome, ...c: WriteCase) => ({
  num: o.registers.num,
  problems: ids(o, c),
});

// ------------------------------------------------------------ setupQueue

const block = () => new VirtioBlockDevice(new MemoryBlockBackend(32 * 1024));
const blockDevice = (max: number) =>
  Object.defineProperty(block(), "queueMaxSizes", { value: [max] });
const console2 = () => new VirtioConsoleDevice(new MemoryConsoleBackend());
const high = () => new GuestMemory(1 << 16, { base: FOUR_GIB });
const refuses = { queueAreaProblem: () => ({ id: "2.7.1/1" as const, message: "no", values: {} }) };
type Options = Parameters<typeof deviceFixture>[0];
const DEVICES: Record<string, [label: string, options: () => Options]> = {
  block: ["the block device", () => ({})],
  console: ["the console", () => ({ device: console2() })],
  max100: ["a block device whose QueueNumMax is 100", () => ({ device: blockDevice(100) })],
  highBlock: ["the block device, RAM above 4 GiB", () => ({ memory: high() })],
  highConsole: ["the console, RAM above 4 GiB", () => ({ device: console2(), memory: high() })],
  refusing: ["a block device refusing every queue", () => ({ parts: refuses })],
  inUse: ["the block device with queue 0 in use", () => ({})],
  noRoom: ["the block device, with no room for the areas", () => ({})],
  selected: ["the console, queue 1 selected last", () => ({ device: console2() })],
};

/** A fresh register file at FEATURES_OK, with what the case needs, and an allocator over its RAM. */
function atFeaturesOk(name: string) {
  const dev = deviceFixture({ strict: false, featuresOk: true, ...DEVICES[name][1]() });
  const end = name === "noRoom" ? dev.memory.base + 1024 : undefined;
  const allocator = new GuestAllocator(dev.memory, { end });
  if (name === "inUse") reference.setupQueue(dev.raw, allocator, 0, {}, allocateQueueAreas);
  if (name === "selected") dev.raw.write32(SEL, 1);
  dev.log.clear();
  return { dev, allocator };
}

type SetupCase = [device: string, index: number, request: QueueSetupRequest];
const cause = (e: Error) => e.cause === undefined ? {} : { cause: (e.cause as Error)?.name };
const at = show.guestAddress;
const HEX = { descAddr: at, availAddr: at, usedAddr: at, areas: at };
function setUp(fn: Impl["setupQueue"], name: string, index: number, request: QueueSetupRequest) {
  const { dev, allocator } = atFeaturesOk(name);
  const [count, available] = [allocator.count, allocator.available];
  const run = runOnWindow(dev, (w) => fn(w, allocator, index, request, allocateQueueAreas));
  const q = dev.transport.inspect().queues[index];
  const threw = "threw" in run.outcome ? run.outcome.threw as Error : null;
  return {
    outcome: threw && { ...thrownFields(run.outcome), ...cause(threw) },
    returned: "returned" in run.outcome ? run.outcome.returned : null,
    order: queueSetupOrder(run.accesses, index),
    writes: run.accesses.filter((a) => a.kind === "write" && a.offset !== SEL).length,
    queue: q && { ready: q.ready, num: q.num, areas: [q.desc, q.driver, q.device] },
    left: [allocator.count - count, available - allocator.available], // allocations, bytes
    logged: dev.log.entries.map((v) => v.id),
    accesses: run.accesses,
  };
}
type Setup = ReturnType<typeof setUp>;
const setup = ruleFor<Impl, SetupCase, Setup>({
  run: (impl, device, index, request) => setUp(impl.setupQueue, device, index, request),
  reference: (device, index, request) => setUp(reference.setupQueue, device, index, request),
  key: (device, index, request) => `${device} ${index} ${JSON.stringify(request)}`,
  show: (device, index, request) =>
    `setupQueue(window, allocator, ${index}, ${show.value(request)}, allocate), ${
      DEVICES[device][0]
    }`,
  result: (r) => {
    const did = r.outcome
      ? `threw ${show.fields(r.outcome)}`
      : `returned ${show.fields(r.returned, HEX)}`;
    return `${did}; the device's queue ${show.fields(r.queue, HEX)}, ${r.left[0]} allocation(s) ` +
      `left, logged [${r.logged.join(", ")}]`;
  },
}, { hint: 3 });
const leftAlone = (r: Setup) => ({ error: r.outcome, writes: r.writes, left: r.left });

// ------------------------------------------------------------ stopQueue

/** A console with both queues live and queue `selected` selected; stopQueue(index) run on it. */
function stopLive(fn: Impl["stopQueue"], index: number, selected: number) {
  const { dev, allocator } = atFeaturesOk("console");
  for (const q of [0, 1]) reference.setupQueue(dev.raw, allocator, q, {}, allocateQueueAreas);
  dev.raw.write32(SEL, selected);
  const run = runOnWindow(dev, (w) => fn(w, index));
  const ready = dev.transport.inspect().queues.map((q) => q.ready);
  dev.log.clear();
  dev.raw.write32(SEL, index);
  dev.raw.write32(NUM, 8); // reusing the queue: had the driver read QueueReady back?
  const lapse = dev.log.entries.some((v) => v.id === "4.2.2.2/11");
  return { outcome: show.outcome(run.outcome), ready, lapse, accesses: run.accesses };
}
const stopsLive = ruleFor<Impl, [index: number, selected: number], ReturnType<typeof stopLive>>({
  run: (impl, index, selected) => stopLive(impl.stopQueue, index, selected),
  reference: (index, selected) => stopLive(reference.stopQueue, index, selected),
  show: (index, sel) => `stopQueue(window, ${index}) with queues 0 and 1 live, QueueSel at ${sel}`,
  result: (r) =>
    `${r.outcome} after ${show.accesses(r.accesses)}; QueueReady of queues 0 and 1 [${r.ready}]` +
    (r.lapse ? "; reusing the queue then broke 4.2.2.2/11" : ""),
}, { hint: 3 });

/** A device whose QueueReady reads 1 for `late` reads after a write of 0 (Infinity: always). */
function slowStop(fn: Impl["stopQueue"], late: number, maxPolls: number | undefined) {
  const dev = pollingDevice({ register: READY, trigger: 0, busy: 1, settled: 0, late });
  const o = attempt(() => maxPolls === undefined ? fn(dev.window, 3) : fn(dev.window, 3, maxPolls));
  return { outcome: thrownFields(o), polls: dev.polls(), settled: dev.settledSeen() };
}
const stopsSlowly = ruleFor<Impl, [late: number, maxPolls?: number], ReturnType<typeof slowStop>>({
  run: (impl, late, maxPolls) => slowStop(impl.stopQueue, late, maxPolls),
  reference: (late, maxPolls) => slowStop(reference.stopQueue, late, maxPolls),
  show: (late, max) =>
    `stopQueue(window, 3${max === undefined ? "" : `, ${max}`}) on a device whose QueueReady ` +
    `still reads 1 ${late === Infinity ? "forever" : `the first ${late} time(s)`} after the 0`,
  result: (r) =>
    `${r.outcome.name ? `threw ${show.fields(r.outcome)}` : "returned"} after ${r.polls} ` +
    `read(s) of QueueReady${r.settled ? ", the last one 0" : ""}`,
}, { hint: 3 });

export const grader = defineGrader<Impl>({
  lesson: "queue-setup",
  checks: [
    // --------------------------------------------------- the device's registers
    written({
      name: "QueueNum no larger than QueueNumMax",
      requirement: "4.2.2.2/9",
      cases: cases("max"),
      verdict: sizeAndProblems,
      why: "the size taken when it fits, the write ignored with 4.2.2.2/9 when it does not",
    }),
    written({
      name: "QueueNum a power of two from 1 to 32768",
      requirement: "2.7/D1",
      cases: cases("size"),
      verdict: sizeAndProblems,
      why: "the write ignored with 2.7/D1 for a value that is not a Queue Size, 0 included",
    }),
    written({
      name: "each address register holds the word written",
      requirement: "4.2.3.2/D1",
      cases: cases("address"),
      verdict: (o) => o.registers,
      why: "the written u32 in the register's own field, unsigned, and nothing else changed",
      note: (got) => Object.values(got.registers).some((v) => Number(v) < 0) ? SIGNED : undefined,
    }),
    written({
      name: "a live queue's size and addresses cannot change",
      requirement: "4.2.2.2/10",
      cases: cases("live"),
      verdict: (o, ...c) => ({ registers: o.registers, problems: ids(o, c) }),
      why: "the registers unchanged and 4.2.2.2/10 reported while QueueReady is 1",
    }),
    written({
      name: "QueueReady 1 enables only a queue the area check accepts",
      requirement: "4.2.3.2/D1",
      cases: cases("enable"),
      verdict: (o, ...c) => ({ ready: o.registers.ready, enabled: o.enabled, problems: ids(o, c) }),
      why: "enabled when checkAreas returns null, its problem reported and the queue left off " +
        "when it does not, nothing new for a live queue",
    }),
    written({
      name: "QueueReady 0 stops the queue",
      requirement: "4.2.2.1/7",
      cases: cases("stop"),
      verdict: (o) => ({ ready: o.registers.ready, stopped: o.stopped }),
      why: "ready false, and stopped when the queue was live, so the device lets go of it",
    }),
    written({
      name: "a stopped queue is reused only after the read-back",
      requirement: "4.2.2.2/11",
      cases: cases("readback"),
      verdict: (o, ...c) => ({ ...sizeAndProblems(o, ...c), ...o.registers }),
      why: "stopUnconfirmed set by a write of 0; any other write then reports 4.2.2.2/11 once, " +
        "clears it, and does what it does",
    }),
    // --------------------------------------------------- the driver's setup
    setup({
      name: "the steps of §4.2.3.2, in order",
      requirement: "4.2.3.2/D1",
      hint: 2,
      cases: every<SetupCase>([["block", 0, {}], ["selected", 0, {}], ["console", 1, { size: 8 }]]),
      verdict: (r) => ({ ...r.order, queue: r.queue, logged: r.logged }),
      result: (r) => `${show.fields(r.order)} after ${show.accesses(r.accesses, 14)}`,
      why: "QueueSel first, QueueReady read (0) before any write, QueueNumMax before QueueNum, " +
        "QueueNum and the six addresses before QueueReady 1, QueueReady read back: queue live",
    }),
    setup({
      name: "the size: the request, within QueueNumMax, a power of two",
      requirement: "4.2.2.2/9",
      cases: every<SetupCase>([
        ...[undefined, 8, 12, 300, 1, 0].map((size): SetupCase => ["block", 0, { size }]),
        ["block", 0, { maxSize: 16 }],
        ["max100", 0, {}],
        ["max100", 0, { size: 100 }],
      ]),
      verdict: (r) => ({ size: r.returned?.size ?? r.outcome, num: r.queue?.num }),
      why: "the size wanted (QueueNumMax by default), capped by QueueNumMax and maxSize, rounded " +
        'down to a power of two; a QueueSetupError (step "size") when nothing fits',
    }),
    setup({
      name: "every area address written whole, low word and high word",
      requirement: "6.1/4",
      cases: every<SetupCase>([["highBlock", 0, {}], ["highConsole", 1, {}], ["block", 0, {}]]),
      verdict: ({ queue: q, returned: a }) => ({
        ready: q?.ready,
        areas: q?.areas,
        returned: [a?.descAddr, a?.availAddr, a?.usedAddr],
      }),
      why: "the device holding exactly the three addresses returned, from their Low and High words",
      note: (got) =>
        got.logged.includes("2.7.5/D2")
          ? "A High register left 0, or `address >>> 32` (a shift by 0 in JavaScript), puts the " +
            "area below 4 GiB; Linux's vm_setup_vq checks that truncation for legacy devices."
          : undefined,
    }),
    setup({
      name: "a queue in use is left alone",
      requirement: "4.2.2.2/10",
      cases: every<SetupCase>([["inUse", 0, {}]]),
      verdict: leftAlone,
      why: 'a QueueSetupError (step "QueueReady"), nothing written but QueueSel, nothing allocated',
    }),
    setup({
      name: "a queue the device does not have is left alone",
      requirement: "4.2.2.2/9",
      cases: every<SetupCase>([["console", 2, {}], ["block", 1, {}], ["console", 7, { size: 8 }]]),
      verdict: leftAlone,
      why: 'a QueueSetupError (step "QueueNumMax"), nothing written but QueueSel or allocated',
      note: (got) =>
        got.left[0] > 0 || got.writes > 0
          ? "NetBSD's viocon allocated 4 virtqueues and used 2 (viocon.c rev. 1.7): a queue " +
            "whose QueueNumMax reads 0 gets no memory and no registers."
          : undefined,
    }),
    setup({
      name: "a setup that fails undoes only what it did",
      requirement: "4.2.3.2/D1",
      hint: 4,
      cases: every<SetupCase>([["noRoom", 0, {}], ["refusing", 0, {}]]),
      verdict: (r) => ({ error: r.outcome, left: r.left, ready: r.queue?.ready }),
      why: 'a QueueSetupError: step "allocation", the allocator\'s error its cause and nothing ' +
        'written, or step "QueueReady read-back" with the three areas freed',
      note: (got) =>
        (got.outcome as { name?: string } | null)?.name !== "QueueSetupError"
          ? "Undo only what was done: NetBSD's virtio_mmio cleaned up after a failed attach " +
            "before its queues existed and hit a null pointer (virtio_mmio.c rev. 1.14)."
          : undefined,
    }),
    // --------------------------------------------------- the driver's stop
    stopsLive({
      name: "stopQueue writes 0 to QueueReady and reads it back",
      requirement: "4.2.2.2/11",
      cases: every([[0, 1], [1, 0]]),
      verdict: (r) => ({ outcome: r.outcome, ready: r.ready, lapse: r.lapse }),
      why: "the queue asked for selected, 0 written to QueueReady and read back, the other live",
    }),
    stopsSlowly({
      name: "stopQueue waits until QueueReady reads 0, at most maxPolls reads",
      requirement: "4.2.2.2/11",
      cases: every<[number, number?]>([[1], [3], [50], [5, 6], [Infinity, 1], [Infinity], [7, 7]]),
      verdict: (r) => ({ outcome: r.outcome, polls: r.polls }),
      why: "reads until one gives 0, then a return; after maxPolls reads (1000 by default) a " +
        "QueueStopError with the queue, the reads made and the last value read",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "queue-setup",
      name: "your queue setup runs the lab machine, in RAM above 4 GiB",
      requirement: "6.1/4",
      hint: 4,
      expects: "the lab machine in RAM above 4 GiB, its queues set up through your code on a " +
        "strict log, to carry console and disk traffic, and your stopQueue to take one down",
      lesson,
      memory: () => new GuestMemory(16 << 20, { base: FOUR_GIB }),
      also(machine) {
        const { descAddr } = machine.blk.driverTransport.queues.get(0)!.addresses;
        machine.blk.driverTransport.deleteQueue(0);
        const [q] = machine.blk.transport.inspect().queues;
        expect(!q.ready && !q.live && machine.allocator.sizeOf(descAddr) === undefined, {
          observed: `after the block device's requestq was deleted (your stopQueue), QueueReady ` +
            `reads ${q.ready ? 1 : 0} and the device ${q.live ? "still uses" : "left"} the queue`,
          expected: "QueueReady 0, the device no longer using the queue, and its areas freed",
          requirement: "4.2.2.2/11",
        });
      },
    }),
  ],
});
