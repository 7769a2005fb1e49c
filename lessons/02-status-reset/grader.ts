/**
 * The grader of lesson 2, "Device status and reset".
 *
 * Device side: `nextDeviceStatus` against the reference on every status a
 * device can hold and every write without reserved bits, plus writes with
 * them from the statuses of a bring-up (6,080 cases), one rule at a time, so
 * a failure is the smallest write that breaks that rule.
 * Driver side: `addStatus` and `resetDevice` on scripted devices (one that
 * needs several reads to finish its reset, one that never does), then
 * `beginInitialization` and `failDevice` on the lab's block device register
 * file with a strict log, from every stage of a bring-up. Last, the lab
 * machine runs on the learner's status code, and the register file applies
 * the learner's transitions.
 *
 * @module
 */

import { defineGrader, expectEqual, expectViolation } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import {
  nextDeviceStatus as referenceNext,
  type StatusTransition,
} from "../../transport/device_status.ts";
import * as reference from "../../transport/mmio_driver.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { VIRTIO_MMIO_STATUS as STATUS } from "../../transport/mmio_registers.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import * as show from "../kit/format.ts";
import {
  describeRun,
  deviceFixture,
  runOnWindow,
  slowResetDevice,
  trace,
  type WindowRun,
  writesTo,
} from "../kit/mmio.ts";
import { every, ruleFor, thrownFields } from "../kit/rules.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;

const RESERVED = 0x30;
const low = (w: number) => w & 0xff;
const ids = (t: StatusTransition) => [...new Set(t.violations.map((v) => v.id))].sort();
const has = (t: StatusTransition, id: string) => t.violations.some((v) => v.id === id);

// ------------------------------------------------------------ nextDeviceStatus

/**
 * Every status a device can hold (never the reserved bits) against every write without reserved
 * bits, plus writes with bits above the low 8; and every write with reserved bits against the
 * statuses a bring-up passes through (so the reserved-bit rule has its own 1,728 cases).
 */
const CURRENTS = Array.from({ length: 256 }, (_, i) => i).filter((c) => (c & RESERVED) === 0);
const WRITES = [...CURRENTS, 0x100, 0x103, 0xff00, 0xffff_ff0f];
const STAGE_STATUSES = [0x00, 0x01, 0x03, 0x0b, 0x0f, 0x40, 0x4b, 0x83, 0x8b];
const pairs = (cs: number[], ws: number[]) =>
  cs.flatMap((c) => ws.map((w) => [c, w] as [number, number]));
const PLAIN = pairs(CURRENTS, WRITES);
const WITH_RESERVED = pairs(
  STAGE_STATUSES,
  Array.from({ length: 256 }, (_, i) => i).filter((w) => w & RESERVED),
);
const ALL = every(PLAIN);

const status = ruleFor<Impl, [number, number], StatusTransition>({
  run: (impl, current, written) => impl.nextDeviceStatus(current, written),
  reference: referenceNext,
  key: (c, w) => c * 0x1_0000_0000 + w,
  show: (c, w) => `nextDeviceStatus(${show.status(c)}, ${show.byte(w)})`,
  result: (t) =>
    `{ status: ${show.status(t.status)}, reset: ${t.reset}, negotiate: ${t.negotiate}, ` +
    `activate: ${t.activate}, violations: [${ids(t).join(", ")}] }`,
  shape: (t) => {
    const x = (t ?? {}) as StatusTransition;
    const flags = [x.reset, x.negotiate, x.activate].every((f) => typeof f === "boolean");
    return typeof x.status === "number" && flags && Array.isArray(x.violations)
      ? undefined
      : "a StatusTransition: { status, reset, negotiate, activate, violations: [] }";
  },
}, { cases: ALL, hint: 2 });

const kept = (t: StatusTransition) => ({ status: t.status, clears: has(t, "2.1.1/2") });

// ------------------------------------------------------------ driver side

const addStatus = ruleFor<Impl, [before: number, bits: number], WindowRun>({
  run: (impl, before, bits) =>
    runOnWindow(slowResetDevice(before, 0), (w) => impl.addStatus(w, bits)),
  reference: (before, bits) =>
    runOnWindow(slowResetDevice(before, 0), (w) => reference.addStatus(w, bits)),
  show: (before, bits) => `addStatus(window, ${show.byte(bits)}) on Status ${show.status(before)}`,
  result: describeRun,
});

type Resetting = "resetDevice" | "beginInitialization";
const reset = (part: Impl | typeof reference, fn: Resetting, reads: number, maxPolls?: number) =>
  runOnWindow(
    slowResetDevice(0x0f, reads, 200_000),
    (w) =>
      fn === "beginInitialization"
        ? part.beginInitialization(w)
        : maxPolls === undefined
        ? part.resetDevice(w)
        : part.resetDevice(w, maxPolls),
  );
const resetDevice = ruleFor<Impl, [fn: Resetting, reads: number, maxPolls?: number], WindowRun>({
  run: (impl, ...c) => reset(impl, ...c),
  reference: (...c) => reset(reference, ...c),
  show: (fn, reads, maxPolls) =>
    `${fn}(window${maxPolls === undefined ? "" : `, ${maxPolls}`}) on a device whose reset ` +
    (reads === Infinity ? "never finishes" : `takes ${reads + 1} reads of Status`),
  result: describeRun,
});

/** A reset from its write of 0 on; before it, the contract allows only reads of Status. */
const fromTheReset = (r: WindowRun) => {
  const at = r.accesses.findIndex((a) => a.kind === "write" && a.offset === STATUS);
  const before = r.accesses.slice(0, Math.max(at, 0));
  const rest = trace({ ...r, accesses: at < 0 ? r.accesses : r.accesses.slice(at) });
  return { ...rest, looksFirst: before.every((a) => a.kind === "read" && a.offset === STATUS) };
};

/** How a reset gave up: the error's class and contract fields, and the reads after the write. */
const gaveUp = (r: WindowRun) => {
  const { name, status, polls } = thrownFields(r.outcome);
  const at = r.accesses.findIndex((a) => a.kind === "write" && a.offset === STATUS);
  return {
    name,
    status,
    polls,
    reads: r.accesses.slice(at + 1).filter((a) => a.kind === "read").length,
  };
};

/** Stages of a bring-up the lab's block device is taken to by the reference driver. */
const STAGES: Record<string, (w: RegisterWindow) => void> = {
  "fresh (status 0)": () => {},
  "ACKNOWLEDGE|DRIVER (0x03)": (w) => reference.beginInitialization(w),
  "FEATURES_OK (0x0b)": (
    w,
  ) => (STAGES["ACKNOWLEDGE|DRIVER (0x03)"](w), reference.negotiateFeatures(w, 0n)),
  "live (0x0f)": (w) => (STAGES["FEATURES_OK (0x0b)"](w), reference.addStatus(w, DRIVER_OK)),
  "given up (0x83)": (w) => (reference.beginInitialization(w), reference.failDevice(w)),
  "given up after features (0x8b)": (
    w,
  ) => (STAGES["FEATURES_OK (0x0b)"](w), reference.failDevice(w)),
};
function onStage(stage: string, step: (w: RegisterWindow) => unknown): WindowRun {
  const dev = deviceFixture();
  STAGES[stage](dev.raw);
  dev.accesses.length = 0;
  return runOnWindow(dev, step);
}
const onBlock = (step: "beginInitialization" | "failDevice") =>
  ruleFor<Impl, [stage: string], WindowRun>({
    run: (impl, stage) => onStage(stage, (w) => impl[step](w)),
    reference: (stage) => onStage(stage, (w) => reference[step](w)),
    show: (stage) => `${step}(window) on the lab's block device, ${stage}`,
    result: describeRun,
  });
const begin = onBlock("beginInitialization");
const fail = onBlock("failDevice");
const statusOnly = (r: WindowRun) => r.accesses.every((a) => a.offset === STATUS && a.width === 4);
const beginVerdict = (r: WindowRun) => ({
  writes: writesTo(r.accesses, STATUS),
  statusOnly: statusOnly(r),
  waited: r.accesses.findIndex((a) => a.kind === "read" && a.value === 0) <
    r.accesses.findIndex((a) => a.kind === "write" && a.value !== 0),
  status: r.status,
});
const stages = (...names: string[]) => every(names.map((n) => [n] as [string]));

export const grader = defineGrader<Impl>({
  lesson: "status-reset",
  checks: [
    // --------------------------------------------------- device side
    status({
      name: "writing 0 resets the device",
      requirement: "2.4.1/1",
      hint: 1,
      verdict: (t, _c, w) => (low(w) === 0 ? { ...t, violations: ids(t) } : t.reset),
      why: "a write with low 8 bits 0, and only such a write, to reset: status 0, no other flag",
    }),
    status({
      name: "the driver can only add bits",
      requirement: "2.1.1/2",
      when: (c, w) => low(w) !== 0 && !(c & NEEDS_RESET) && !(w & (RESERVED | NEEDS_RESET)),
      verdict: kept,
      why: "the old status OR the bits written; a bit left out stays set and breaks 2.1.1/2",
    }),
    status({
      name: "DEVICE_NEEDS_RESET belongs to the device",
      requirement: "2.1.2/3",
      when: (c, w) => low(w) !== 0 && !(w & RESERVED) && ((c | w) & NEEDS_RESET) !== 0,
      verdict: kept,
      why: "the driver's DEVICE_NEEDS_RESET ignored: written, it sets nothing; left out, it stays",
    }),
    status({
      name: "reserved bits 4 and 5 are dropped",
      requirement: "2.1.1/1",
      cases: every(WITH_RESERVED),
      verdict: kept,
      why: "the reserved bits 0x10 and 0x20 of a write dropped: they mark no step of §3.1",
    }),
    status({
      name: "FAILED stays until a reset, and nothing may follow it",
      requirement: "2.1.1/3",
      when: (_c, w) => low(w) !== 0,
      verdict: (t) => ({ failedKept: (t.status & FAILED) !== 0, after: has(t, "2.1.1/3") }),
      why: "FAILED kept until a reset; any bit added after FAILED breaks 2.1.1/3",
    }),
    status({
      name: "status bits arrive in the order of §3.1.1",
      requirement: "3.1.1/1",
      when: (_c, w) => low(w) !== 0,
      verdict: (t) => ({ status: t.status, order: has(t, "3.1.1/1") }),
      why: "a bit newly set before its predecessor breaks 3.1.1/1, and stays set",
    }),
    status({
      name: "violations name the rules broken, each with a message",
      requirement: "2.1.1/1",
      hint: 3,
      cases: every([...PLAIN, ...WITH_RESERVED]),
      verdict: (t) => ({
        ids: ids(t),
        messages: t.violations.every((v) => `${v.message ?? ""}`.trim() !== ""),
      }),
      why: "violations to list exactly the rules the write broke, each with a sentence",
    }),
    status({
      name: "FEATURES_OK asks the device to check the features",
      requirement: "2.2.2/2",
      hint: 3,
      verdict: (t) => t.negotiate,
      why: "negotiate exactly when the write newly sets FEATURES_OK",
    }),
    status({
      name: "DRIVER_OK after FEATURES_OK makes the device live",
      requirement: "2.1.2/1",
      verdict: (t) => t.activate,
      why: "activate when DRIVER_OK is newly set, with FEATURES_OK and without FAILED",
      note: (got, want) =>
        got.activate && !want.activate && (want.status & FAILED)
          ? "A device both FAILED and live is a combination that makes no sense: NetBSD PR kern/57357, the case file of this lesson."
          : undefined,
    }),
    // --------------------------------------------------- driver side
    addStatus({
      name: "addStatus reads Status, ORs the bits in and writes it back",
      requirement: "2.1.1/2",
      hint: 2,
      cases: every([[0, ACKNOWLEDGE], [1, DRIVER], [3, FEATURES_OK], [0x0b, DRIVER_OK], [
        0x0b,
        FAILED,
      ], [0x0f, 0x180]]),
      verdict: trace,
      why: "one read of Status, then one write of it OR the bits (low 8 bits), returned",
    }),
    resetDevice({
      name: "resetDevice writes 0, then waits until Status reads 0",
      requirement: "2.4.2/1",
      hint: 2,
      cases: every([["resetDevice", 0], ["resetDevice", 3], ["resetDevice", 7, 10]]),
      verdict: fromTheReset,
      why: "a write of 0, reads until one reads 0, and a return (reads before the write are free)",
      note: (got) =>
        got.accesses.length <= 2
          ? "The lab's own devices reset at once, so not waiting goes unnoticed there; hardware, or a vDPA device, takes its time."
          : undefined,
    }),
    resetDevice({
      name: "resetDevice gives up on a device that never finishes",
      requirement: "2.4.2/1",
      hint: 2,
      cases: every([["resetDevice", Infinity, 5], ["resetDevice", Infinity, 1], [
        "resetDevice",
        Infinity,
      ], [
        "beginInitialization",
        Infinity,
      ]]),
      verdict: (r, fn) => (fn === "resetDevice" ? gaveUp(r) : gaveUp(r).name),
      why:
        "after maxPolls reads (1000 by default) that are not 0, DeviceResetError(last status, maxPolls)",
      result: (r) => `${show.outcome(r.outcome)} after ${gaveUp(r).reads} reads of Status`,
    }),
    begin({
      name: "beginInitialization: reset, then ACKNOWLEDGE, then DRIVER",
      requirement: "3.1.1/1",
      hint: 3,
      cases: stages("fresh (status 0)", "ACKNOWLEDGE|DRIVER (0x03)", "live (0x0f)"),
      verdict: beginVerdict,
      why: "Status writes 0, 0x01, 0x03, a read of 0 before 0x01, Status only, 0x03 at the end",
    }),
    begin({
      name: "beginInitialization starts over after FAILED",
      requirement: "2.1.1/3",
      hint: 3,
      cases: stages("given up (0x83)", "given up after features (0x8b)"),
      verdict: beginVerdict,
      why: "a device holding FAILED reset before ACKNOWLEDGE is set again: writes 0, 0x01, 0x03",
    }),
    fail({
      name: "failDevice sets FAILED and keeps the other bits",
      requirement: "3.1.1/4",
      hint: 3,
      cases: stages(
        "fresh (status 0)",
        "ACKNOWLEDGE|DRIVER (0x03)",
        "FEATURES_OK (0x0b)",
        "live (0x0f)",
      ),
      verdict: (r) => ({
        status: r.status,
        writes: writesTo(r.accesses, STATUS).length,
        statusOnly: statusOnly(r),
      }),
      why: "Status to read what it read plus FAILED, after one write to Status and nothing else",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "status-reset",
      name: "your status code runs the lab machine",
      requirement: "3.1.1/1",
      hint: 4,
      expects:
        "the lab machine, on your nextDeviceStatus, beginInitialization and failDevice and a strict log, to bring both devices up and carry console and disk traffic",
      lesson,
    }),
    {
      name: "the register file applies your transitions",
      requirement: "2.1.1/2",
      hint: 4,
      expects:
        "the lab's block device register file, on your nextDeviceStatus, to keep its bits and log a clearing write, reset on 0, and log DRIVER_OK out of order",
      run(impl) {
        const dev = deviceFixture({
          strict: false,
          parts: { nextDeviceStatus: impl.nextDeviceStatus },
        });
        STAGES["live (0x0f)"](dev.raw);
        dev.log.clear();
        dev.raw.write32(STATUS, ACKNOWLEDGE);
        expectViolation(dev.log, "2.1.1/2", "a write of 0x01 over status 0x0f");
        expectEqual(dev.raw.read32(STATUS), 0x0f, "Status after the write of 0x01", {
          format: show.status,
          requires: "the bits to stay set: Status still reads 0x0f",
        });
        dev.raw.write32(STATUS, 0);
        expectEqual(dev.raw.read32(STATUS), 0, "Status after a write of 0", {
          format: show.status,
          requires: "a write of 0 to reset the device",
          requirement: "2.4.1/1",
        });
        dev.log.clear();
        dev.raw.write32(STATUS, DRIVER_OK);
        expectViolation(dev.log, "3.1.1/1", "a write of DRIVER_OK right after the reset", {
          requirement: "3.1.1/1",
        });
        expectEqual(
          dev.transport.active,
          false,
          "the device's state after DRIVER_OK out of order",
          {
            format: (live) => (live ? "live" : "not live"),
            requires: "no activation: DRIVER_OK without FEATURES_OK does not make the device live",
            requirement: "2.1.2/1",
          },
        );
      },
    },
  ],
});
