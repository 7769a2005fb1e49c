/**
 * The grader of "Legacy virtio-mmio": the legacy status byte swept, the legacy queue registers as
 * data, the driver's legacy steps on scripted windows and on the lab's Version 1 register files,
 * and the lab machine on legacy windows.
 *
 * @module
 */

import { defineGrader, expect } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as legacy from "../../transport/legacy_registers.ts";
import type { LegacyQueueRegisterOutcome } from "../../transport/legacy_registers.ts";
import * as reference from "../../transport/driver_legacy.ts";
import type { QueueSetupRequest } from "../../transport/driver_queues.ts";
import { queueAreaProblem, type QueueRegisters } from "../../transport/queue_registers.ts";
import type { StatusTransition } from "../../transport/device_status.ts";
import * as R from "../../transport/mmio_registers.ts";
import * as show from "../kit/format.ts";
import {
  LEGACY_DEVICES,
  LEGACY_QUEUE_STATES,
  LEGACY_QUEUE_WRITES,
  legacyOutcomeShape,
  type LegacySetupRun,
  type NegotiationRun,
  type ProbeCase,
  type ProbeRun,
  runLegacySetup,
  runLegacyStop,
  runNegotiation,
  runProbe,
  runSlowLegacyStop,
  type SlowStopRun,
  type WriteCase,
} from "../kit/legacy.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

const B = 0x4000_0000;
const [ACK, DRIVER, FEATURES_OK, DRIVER_OK, NEEDS_RESET, FAILED] = [1, 2, 8, 4, 0x40, 0x80];

// ------------------------------------------------------------ nextLegacyDeviceStatus

const BEFORE = [0, ACK, ACK | DRIVER, ACK | DRIVER | DRIVER_OK, ACK | FAILED, ACK | DRIVER | FAILED]
  .flatMap((s) => [s, s | NEEDS_RESET]);
const BITS = [ACK, DRIVER, FEATURES_OK, DRIVER_OK, FAILED, NEEDS_RESET];
const WRITTEN = [...Array(1 << BITS.length).keys()]
  .map((m) => BITS.reduce((v, bit, i) => (m & (1 << i) ? v | bit : v), 0));
const STATUS_CASES = every(BEFORE.flatMap((c) => WRITTEN.map((w): [number, number] => [c, w])));
const has = (t: StatusTransition, id: string) => t.violations.some((v) => v.id === id);
const status = ruleFor<Impl, [number, number], StatusTransition>({
  run: (impl, c, w) => impl.nextLegacyDeviceStatus(c, w),
  reference: legacy.nextLegacyDeviceStatus,
  key: (c, w) => c * 256 + w,
  show: (c, w) => `nextLegacyDeviceStatus(${show.status(c)}, ${show.byte(w)})`,
  result: (t) =>
    `{ status: ${show.status(t.status)}, reset: ${t.reset}, negotiate: ${t.negotiate}, ` +
    `activate: ${t.activate}, violations: [${t.violations.map((v) => v.id).join(", ")}] }`,
  shape: (t) =>
    Array.isArray((t as StatusTransition)?.violations)
      ? undefined
      : "{ status, reset, negotiate, activate, violations: [{ id, message }] }",
}, { cases: STATUS_CASES, hint: 2 });

// ------------------------------------------------------------ writeLegacyQueueRegister

const ramCheck = (r: QueueRegisters) =>
  queueAreaProblem(r, { queue: 0, max: 256, ram: { base: B, size: 1 << 20 }, eventIdx: true });
const runWrite = (fn: Impl["writeLegacyQueueRegister"], [, from, offset, value, page]: WriteCase) =>
  fn(
    LEGACY_QUEUE_STATES[from],
    { queue: 0, offset, value, max: 256, guestPageSize: page },
    ramCheck,
  );
const ids = (o: LegacyQueueRegisterOutcome) => o.problems.map((p) => p.id).sort();
const written = ruleFor<Impl, WriteCase, LegacyQueueRegisterOutcome>({
  run: (impl, ...c) => runWrite(impl.writeLegacyQueueRegister, c),
  reference: (...c) => runWrite(legacy.writeLegacyQueueRegister, c),
  key: (...c) => c.join(" "),
  show: (_rule, from, offset, value, page) =>
    `writeLegacyQueueRegister(${from}, a write of ${show.word(value)} to ${
      R.findRegister(offset, 1)?.name
    }, QueueNumMax 256, GuestPageSize ${page}, checkAreas)`,
  result: (o) =>
    `${
      show.fields(o.registers, { base: show.guestAddress })
    }, enabled ${o.enabled}, stopped ${o.stopped}, ` +
    `problems [${ids(o).join(", ")}]`,
  shape: legacyOutcomeShape,
}, { hint: 3 });
const cases = (rule: string) => every(LEGACY_QUEUE_WRITES.filter((c) => c[0] === rule));
const refusal = (o: LegacyQueueRegisterOutcome) => ({
  pfn: o.registers.pfn,
  enabled: o.enabled,
  problems: ids(o),
});

// ------------------------------------------------------------ probeTransitionalWindow

const probed = ruleFor<Impl, ProbeCase, ProbeRun>({
  run: (impl, ...c) => runProbe(impl.probeTransitionalWindow, ...c),
  reference: (...c) => runProbe(reference.probeTransitionalWindow, ...c),
  show: (m, v, d, vid) =>
    `probeTransitionalWindow on a window reading MagicValue ${show.word(m)}, Version ${v}, ` +
    `DeviceID ${d}, VendorID ${show.word(vid)}`,
  result: (r) => `${show.value(r.found)} after [${r.accesses.join(", ")}]`,
}, { hint: 3 });
const M = R.VIRTIO_MMIO_MAGIC;

// ------------------------------------------------------------ negotiateLegacyFeatures

const negotiated = ruleFor<Impl, [number, bigint], NegotiationRun>({
  run: (impl, offered, supported) =>
    runNegotiation(impl.negotiateLegacyFeatures, offered, supported),
  reference: (offered, supported) =>
    runNegotiation(reference.negotiateLegacyFeatures, offered, supported),
  show: (offered, supported) =>
    `negotiateLegacyFeatures(window, ${show.featureWord(supported)}), the device offering ` +
    `${show.word(offered)} in word 0 (and VIRTIO_F_VERSION_1 in word 1, were it asked)`,
  result: (r) => `${show.value(r.returned)} after ${show.accesses(r.accesses)}`,
}, {
  hint: 3,
  cases: every<[number, bigint]>([
    [0x3000_0246, (1n << 32n) | 0x1000_0006n],
    [0xffff_ffff, 0xffff_ffff_ffff_ffffn],
    [0x8000_0001, 0x8000_0000n],
    [0, 0x3000_0000n],
  ]),
});

// ------------------------------------------------------------ setupLegacyQueue

type SetupCase = [device: string, index: number, request: QueueSetupRequest, pageSize?: number];
const setup = ruleFor<Impl, SetupCase, LegacySetupRun>({
  run: (impl, ...c) => runLegacySetup(impl.setupLegacyQueue, ...c),
  reference: (...c) => runLegacySetup(reference.setupLegacyQueue, ...c),
  key: (...c) => JSON.stringify(c),
  show: (device, index, request, pageSize) =>
    `setupLegacyQueue(window, allocator, ${index}, ${show.value(request)}${
      pageSize === undefined ? "" : `, ${pageSize}`
    }), ${LEGACY_DEVICES[device][0]}`,
  result: (r) =>
    `${r.error ? `threw ${show.fields(r.error)}` : `returned ${show.fields(r.returned, HEX)}`}; ` +
    `the device's queue ${show.fields(r.device, HEX)}, region ${show.value(r.region)}, ` +
    `${r.left} allocation(s) left, logged [${r.logged.join(", ")}]`,
}, { hint: 3 });
const at = show.guestAddress;
const HEX = { descAddr: at, availAddr: at, usedAddr: at, areas: at };
const leftAlone = (r: LegacySetupRun) => ({ error: r.error, writes: r.queueWrites, left: r.left });

// ------------------------------------------------------------ stopLegacyQueue

const stopsLive = ruleFor<Impl, [index: number], ReturnType<typeof runLegacyStop>>({
  run: (impl, index) => runLegacyStop(impl.stopLegacyQueue, index),
  reference: (index) => runLegacyStop(reference.stopLegacyQueue, index),
  show: (index) =>
    `stopLegacyQueue(window, ${index}) with queues 0 and 1 in use, the other selected`,
  result: (r) =>
    `${r.outcome} after ${show.accesses(r.accesses)}; queues 0 and 1 in use: [${r.inUse}]`,
}, { hint: 3 });
const stopsSlowly = ruleFor<Impl, [late: number, maxPolls?: number], SlowStopRun>({
  run: (impl, late, maxPolls) => runSlowLegacyStop(impl.stopLegacyQueue, late, maxPolls),
  reference: (late, maxPolls) => runSlowLegacyStop(reference.stopLegacyQueue, late, maxPolls),
  show: (late, max) =>
    `stopLegacyQueue(window, 2${max === undefined ? "" : `, ${max}`}) on a device whose QueuePFN ` +
    `still reads 0x40010 ${
      late === Infinity ? "forever" : `the first ${late} time(s)`
    } after the 0`,
  result: (r) =>
    `${r.outcome.name ? `threw ${show.fields(r.outcome)}` : "returned"} after ${r.polls} read(s)`,
}, { hint: 3 });

export const grader = defineGrader<Impl>({
  lesson: "legacy-mmio",
  checks: [
    // --------------------------------------------------- the device's status byte
    status({
      name: "DRIVER_OK alone takes a legacy device live; 0 resets it",
      requirement: "4.2.4/D4",
      verdict: (t) => ({ reset: t.reset, negotiate: t.negotiate, activate: t.activate }),
      why: "activate when DRIVER_OK is newly set without FAILED, negotiate never, reset for 0",
    }),
    status({
      name: "FEATURES_OK is not a legacy status bit",
      requirement: "4.2.4/D4",
      verdict: (t) => ({ reported: has(t, "4.2.4/D4"), kept: (t.status & FEATURES_OK) !== 0 }),
      why: "4.2.4/D4 reported when the write has FEATURES_OK, and the bit never kept",
      note: (got) =>
        got.status & FEATURES_OK
          ? "NetBSD's virtio_mmio kept one negotiation for both personalities until rev. 1.13 (January 2024): a status byte is the personality's own."
          : undefined,
    }),
    status({
      name: "the driver only adds status bits; DEVICE_NEEDS_RESET is the device's",
      requirement: "2.1.1/2",
      verdict: (t) => ({ status: t.status, clears: has(t, "2.1.1/2") }),
      why:
        "the old bits OR the legacy bits written (NEEDS_RESET as it was), 2.1.1/2 when one is cleared",
    }),
    status({
      name: "after FAILED, nothing but FAILED; DRIVER after ACKNOWLEDGE, DRIVER_OK after DRIVER",
      requirement: "3.1.1/1",
      verdict: (t) => ({ failed: has(t, "2.1.1/3"), order: has(t, "3.1.1/1") }),
      why:
        "2.1.1/3 for a bit added after FAILED, 3.1.1/1 for DRIVER without ACKNOWLEDGE or DRIVER_OK without DRIVER",
    }),
    // --------------------------------------------------- the device's queue registers
    written({
      name: "QueueNum and QueueAlign are stored while the queue is not in use",
      requirement: "4.2.4/D2",
      cases: cases("store"),
      verdict: (o) => ({ registers: o.registers, problems: ids(o) }),
      why: "the value, unsigned, in `num` or `align`, nothing else changed and nothing reported",
    }),
    written({
      name: "nothing changes while the queue is in use",
      requirement: "4.2.4/D3",
      cases: cases("busy"),
      verdict: (o) => ({ registers: o.registers, enabled: o.enabled, problems: ids(o) }),
      why: "the registers unchanged and 4.2.4/D3 for QueueNum, QueueAlign or a new QueuePFN",
    }),
    written({
      name: "QueuePFN needs GuestPageSize and QueueAlign, powers of two",
      requirement: "4.2.4/D1",
      cases: cases("page"),
      verdict: refusal,
      why: "the QueuePFN refused with 4.2.4/D1 when GuestPageSize is 0 or not a power of two, or " +
        "QueueAlign not a power of two of at least 4",
    }),
    written({
      name: "QueuePFN needs a valid QueueNum",
      requirement: "4.2.4/D2",
      cases: cases("num"),
      verdict: refusal,
      why:
        "the QueuePFN refused: 4.2.4/D2 without QueueNum, 2.7/D1 for 100, 4.2.2.2/9 above QueueNumMax",
    }),
    written({
      name: "QueuePFN puts the queue in use at QueuePFN × GuestPageSize",
      requirement: "4.2.4/D2",
      cases: cases("place"),
      verdict: (o) => ({ registers: o.registers, enabled: o.enabled, problems: ids(o) }),
      why: "pfn the value, base = pfn × GuestPageSize, enabled, nothing reported",
      note: (got) =>
        got.registers.base !== 0 && got.registers.base < B
          ? "base is a byte address: the page number times GuestPageSize, not the page number itself."
          : undefined,
    }),
    written({
      name: "the area check sees the region the legacy layout places",
      requirement: "2.7.5/D2",
      cases: cases("ram"),
      verdict: refusal,
      why: "checkAreas asked with the view of the new registers (legacyQueueView): a region past " +
        "RAM, below it or misaligned refused with its problem",
    }),
    written({
      name: "QueuePFN 0 stops a queue in use",
      requirement: "4.2.4/D6",
      cases: cases("stop"),
      verdict: (o) => ({
        pfn: o.registers.pfn,
        base: o.registers.base,
        stopped: o.stopped,
        problems: ids(o),
      }),
      why: "pfn and base 0 and stopped when the queue was in use; nothing at all when it was not",
    }),
    // --------------------------------------------------- the driver's probe and features
    probed({
      name: "Version 1 and 2 are devices; anything else is rejected",
      requirement: "4.2.2.2/5",
      cases: every<ProbeCase>([[M, 1, 2, 0x554d4551], [M, 2, 3, 0xffff_ffff], [M, 3, 2, 1], [
        M,
        0,
        2,
        1,
      ]]),
      why: "a device with its version for 1 and 2, rejected with 4.2.2.2/5 otherwise",
    }),
    probed({
      name: "a bad magic stops the probe, an empty slot reads no VendorID",
      requirement: "4.2.2.2/4",
      cites: (_want, magic, _v, id) => magic === M && id === 0 ? "4.2.3.1.1/2" : undefined,
      cases: every<ProbeCase>([[0x76697274, 1, 2, 0], [0, 1, 2, 0], [M, 1, 0, 7]]),
      why:
        'rejected with 4.2.2.2/4 after one read; { kind: "empty" } after MagicValue, Version, DeviceID',
    }),
    negotiated({
      name: "32 feature bits, no FEATURES_OK",
      requirement: "4.2.4/D4",
      verdict: (r) => ({ returned: r.returned, accesses: r.accesses.map(show.access) }),
      why:
        "DeviceFeaturesSel 0, DeviceFeatures read, DriverFeaturesSel 0, the accepted word written, " +
        "nothing else; offered ∩ supported within bits 0..31 returned",
    }),
    // --------------------------------------------------- the driver's queue setup
    setup({
      name: "the steps of §4.2.4, in order",
      requirement: "4.2.4/D1",
      hint: 2,
      cases: every<SetupCase>([["block", 0, {}], ["console", 1, { size: 8 }]]),
      verdict: (r) => ({ ...r.order, inUse: r.device?.inUse, logged: r.logged }),
      result: (r) => `${show.fields(r.order)} after ${show.accesses(r.accesses, 12)}`,
      why: "GuestPageSize before QueuePFN, QueueSel first, QueuePFN read (0) before any write, " +
        "QueueNumMax before QueueNum, QueueNum and QueueAlign before QueuePFN, QueuePFN read back",
    }),
    setup({
      name: "one region of vring_size bytes, where the device looks for the queue",
      requirement: "4.2.4/D2",
      cases: every<SetupCase>([["block", 0, {}], ["console", 1, { size: 16 }], [
        "block",
        0,
        {},
        8192,
      ], ["block", 0, { size: 8 }, 65536]]),
      verdict: (r) => ({
        returned: r.returned && [r.returned.descAddr, r.returned.availAddr, r.returned.usedAddr],
        device: r.device?.areas,
        region: r.region,
      }),
      why:
        "the addresses returned, the device's own (from QueuePFN × GuestPageSize and QueueAlign) " +
        "and the one zeroed allocation of vringLayout(size, pageSize).total bytes all agree",
    }),
    setup({
      name: "the size: the request, within QueueNumMax, a power of two",
      requirement: "4.2.2.2/9",
      cases: every<SetupCase>([
        ...[undefined, 8, 12, 300].map((size): SetupCase => ["block", 0, { size }]),
        ["block", 0, { maxSize: 16 }],
        ["max100", 0, {}],
        ["block", 0, { size: 0 }],
      ]),
      verdict: (r) => ({ size: r.returned?.size ?? r.error, bytes: r.region?.bytes }),
      why: "the size wanted (QueueNumMax by default), capped, rounded down to a power of two; " +
        'a QueueSetupError (step "size") when nothing fits',
    }),
    setup({
      name: "a queue in use or absent is left alone",
      requirement: "4.2.4/D3",
      cases: every<SetupCase>([["inUse", 0, {}], ["console", 2, {}], ["block", 1, {}]]),
      verdict: leftAlone,
      why:
        'a QueueSetupError (step "QueuePFN" or "QueueNumMax"), no queue register written, nothing allocated',
    }),
    setup({
      name: "a setup that fails undoes only what it did",
      requirement: "4.2.4/D2",
      hint: 4,
      cases: every<SetupCase>([["noRoom", 0, {}], ["refusing", 0, {}]]),
      verdict: (r) => ({ error: r.error, left: r.left, queueWrites: r.queueWrites > 0 }),
      why: 'step "allocation" (its cause the allocator\'s error, no queue register written), or ' +
        'step "QueuePFN read-back" with the region freed',
    }),
    // --------------------------------------------------- the driver's stop
    stopsLive({
      name: "stopLegacyQueue writes 0 to QueuePFN and reads it back",
      requirement: "4.2.4/D6",
      cases: every([[0], [1]]),
      verdict: (r) => ({ outcome: r.outcome, inUse: r.inUse }),
      why: "the queue asked for selected and stopped, the other left in use",
    }),
    stopsSlowly({
      name: "stopLegacyQueue waits until QueuePFN reads 0, at most maxPolls reads",
      requirement: "4.2.4/D6",
      cases: every<[number, number?]>([[1], [4], [Infinity, 1], [Infinity], [6, 6], [5, 6]]),
      verdict: (r) => ({ outcome: r.outcome, polls: r.polls }),
      why: "reads until one gives 0; after maxPolls reads (1000 by default) a QueueStopError " +
        '(queue, polls, last value, register "QueuePFN")',
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "legacy-mmio",
      name: "your legacy code runs the lab machine on Version 1 windows",
      requirement: "4.2.2.2/1",
      hint: 4,
      expects: "the lab machine on legacy windows, every queue set up and features negotiated by " +
        "your code, touching only legacy registers, to carry console and disk traffic, and your " +
        "stopLegacyQueue to take a queue down",
      lesson,
      legacy: true,
      also(machine) {
        const transport = machine.blk.driverTransport;
        const { descAddr } = transport.queues.get(0)!.addresses;
        transport.deleteQueue(0);
        const pfn = machine.blk.transport.legacyQueueRegisters(0)?.pfn;
        expect(pfn === 0 && machine.allocator.sizeOf(descAddr) === undefined, {
          observed: `after the block device's requestq was deleted (your stopLegacyQueue), ` +
            `QueuePFN reads ${pfn}`,
          expected: "QueuePFN 0 and the queue's region freed",
          requirement: "4.2.4/D6",
        });
      },
    }),
  ],
});
