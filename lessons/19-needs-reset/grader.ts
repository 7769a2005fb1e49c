/**
 * The grader of "DEVICE_NEEDS_RESET and recovery". Device side:
 * `markNeedsReset` over every status byte; `resetQueue` over queues idle,
 * live, stopped and just reset, with the values 0, 1, 2 and 0xffffffff, with
 * and without `VIRTIO_F_RING_RESET`. Driver side: `recoverDevice` on scripted
 * devices live, broken, given up on, slow to reset and never resetting, with
 * the steps recorded between the register accesses, so the order of the
 * reset, the release and the new bring-up is seen. Last, the lab machine on
 * all three, its disk broken in the middle and recovered.
 *
 * @module
 */

import { type Check, defineGrader, expectEqual, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as reference from "./reference.ts";
import {
  INITIAL_QUEUE_REGISTERS,
  type QueueRegisterOutcome,
  type QueueRegisters,
} from "../../transport/queue_registers.ts";
import type { NeedsResetTransition } from "../../transport/device_status.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import {
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { BlockDriverError } from "../../devices/blk/driver.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor, thrownFields } from "../kit/rules.ts";
import { machineCheck, within } from "../kit/machine.ts";
import {
  describeOutcome,
  RECOVER_CASES,
  type RecoverCase,
  type RecoverRun,
  REINIT_FAILED,
  runRecover,
} from "../kit/recovery.ts";

type Impl = typeof Exercise;
const REF = reference as Impl;

// ------------------------------------------------------------ markNeedsReset

const STATUSES = every(Array.from({ length: 256 }, (_, s) => [s] as [number]));
const mark = ruleFor<Impl, [status: number], NeedsResetTransition>({
  run: (impl, s) => impl.markNeedsReset(s),
  reference: REF.markNeedsReset,
  key: (s) => s,
  show: (s) => `markNeedsReset(${show.status(s)})`,
  result: (t) => `{ status: ${show.status(t.status)}, notify: ${t.notify} }`,
  shape: (t) => {
    const x = (t ?? {}) as NeedsResetTransition;
    return typeof x.status === "number" && typeof x.notify === "boolean"
      ? undefined
      : "a NeedsResetTransition: { status, notify }";
  },
}, { cases: STATUSES, hint: 2 });

// ---------------------------------------------------------------- resetQueue

const LIVE: QueueRegisters = Object.freeze({
  ...INITIAL_QUEUE_REGISTERS,
  num: 128,
  descLow: 0x4000_1000,
  driverLow: 0x4000_1800,
  deviceLow: 0x4000_2000,
  ready: true,
});
const QUEUES: Record<string, QueueRegisters> = {
  "never set up": INITIAL_QUEUE_REGISTERS,
  "configured, not ready": Object.freeze({ ...LIVE, ready: false }),
  "live": LIVE,
  "stopped, not read back": Object.freeze({ ...LIVE, ready: false, stopUnconfirmed: true }),
  "reset, not read back": Object.freeze({
    ...INITIAL_QUEUE_REGISTERS,
    resetUnconfirmed: true,
    wasReset: true,
  }),
  "re-enabled after a reset": Object.freeze({ ...LIVE, wasReset: true }),
};
type QueueCase = [queue: string, value: number, ringReset: boolean];
const QUEUE_CASES = every(
  Object.keys(QUEUES).flatMap((q) =>
    [1, 0, 2, 0xffff_ffff].flatMap((v) => [true, false].map((r) => [q, v, r] as QueueCase))
  ),
);
const asks = (_q: string, value: number, ringReset: boolean) => value === 1 && ringReset;
const queueFields = (r: QueueRegisters) =>
  `{ num: ${r.num}, ready: ${r.ready}, desc: ${show.word(r.descLow)}, driver: ${
    show.word(r.driverLow)
  }, device: ${show.word(r.deviceLow)}, stopUnconfirmed: ${r.stopUnconfirmed}, ` +
  `resetUnconfirmed: ${r.resetUnconfirmed}, wasReset: ${r.wasReset} }`;
const reset = ruleFor<Impl, QueueCase, QueueRegisterOutcome & { same: boolean }>({
  run: (impl, q, value, ringReset) => {
    const out = impl.resetQueue(QUEUES[q], { queue: 0, value, ringReset });
    return { ...out, same: out?.registers === QUEUES[q] };
  },
  reference: (q, value, ringReset) => {
    const out = REF.resetQueue(QUEUES[q], { queue: 0, value, ringReset });
    return { ...out, same: out.registers === QUEUES[q] };
  },
  key: (q, v, r) => `${q}/${v}/${r}`,
  show: (q, value, ringReset) =>
    `resetQueue(<${q}>, { value: ${show.word(value)}, ringReset: ${ringReset} })`,
  result: (o) =>
    `{ registers: ${o.same ? "the record given" : queueFields(o.registers)}, reset: ${o.reset}, ` +
    `stopped: ${o.stopped}, enabled: ${o.enabled}, problems: ${o.problems.length} }`,
  shape: (o) => {
    const x = (o ?? {}) as QueueRegisterOutcome;
    return x.registers && typeof x.reset === "boolean" && typeof x.stopped === "boolean" &&
        x.enabled === false && Array.isArray(x.problems) && x.problems.length === 0
      ? undefined
      : "a QueueRegisterOutcome: { registers, enabled: false, stopped, reset, problems: [] }";
  },
}, { cases: QUEUE_CASES, hint: 2 });

// ------------------------------------------------------------- recoverDevice

const asked = (c: RecoverCase) => (c.status & 0xc0) !== 0;
const statusOnly = (r: RecoverRun) =>
  r.events.every((e) => !/^(read|write)/.test(e) || /^(read|write)32 0x070/.test(e));
const firstWrite = (r: RecoverRun) => r.events.find((e) => e.startsWith("write"));
const at = (r: RecoverRun, step: string) => r.events.findIndex((e) => e.startsWith(step));
const zeroReadAt = (r: RecoverRun) => r.events.findIndex((e) => /^read32 0x070 0x00$/.test(e));

/** A row over the recovery cases: the learner's verdict must equal the reference's. */
function recoverRow<V>(row: {
  name: string;
  requirement: RequirementId;
  hint: number;
  when: (c: RecoverCase) => boolean;
  verdict: (r: RecoverRun, c: RecoverCase) => V;
  why: string;
}): Check<Impl> {
  return {
    name: row.name,
    requirement: row.requirement,
    hint: row.hint,
    expects: row.why,
    async run(impl) {
      for (const c of RECOVER_CASES.filter(row.when)) {
        const got = await runRecover(impl.recoverDevice, c);
        const want = await runRecover(REF.recoverDevice, c);
        const [g, w] = [row.verdict(got, c), row.verdict(want, c)];
        expectEqual(g, w, `recoverDevice on ${c.name}`, {
          format: () =>
            `${describeOutcome(got)} after [${got.events.slice(0, 14).join(", ")}${
              got.events.length > 14 ? `, … ${got.events.length - 14} more` : ""
            }]`,
          requires: `${row.why}: the reference ${describeOutcome(want)} after [${
            want.events.slice(0, 14).join(", ")
          }]`,
          requirement: row.requirement,
          hint: row.hint,
        });
      }
    },
  };
}
const outcomeFields = (r: RecoverRun) =>
  "threw" in r.outcome
    ? {
      threw: r.outcome.threw === REINIT_FAILED
        ? "the reinitialize error"
        : thrownFields(r.outcome).name,
    }
    : r.outcome.returned;

export const grader = defineGrader<Impl>({
  lesson: "needs-reset",
  checks: [
    // ------------------------------------------------------ device side
    mark({
      name: "DEVICE_NEEDS_RESET is set and no other bit changes",
      requirement: "2.1.2/3",
      hint: 1,
      verdict: (t) => t.status,
      why: "the status given with DEVICE_NEEDS_RESET (0x40) added, every other bit as it was",
    }),
    mark({
      name: "a live driver is told with a configuration change notification",
      requirement: "2.1.2/2",
      when: (s) => (s & DRIVER_OK) !== 0 && (s & NEEDS_RESET) === 0,
      verdict: (t) => t.notify,
      why: "notify: true when DRIVER_OK is set and the device had not asked for a reset yet",
    }),
    mark({
      name: "no notification before DRIVER_OK",
      requirement: "2.1.2/1",
      when: (s) => (s & DRIVER_OK) === 0,
      verdict: (t) => t.notify,
      why: "notify: false while DRIVER_OK is clear: a device not yet live sends the driver nothing",
    }),
    mark({
      name: "asking again changes nothing and notifies nothing",
      requirement: "2.1.2/2",
      when: (s) => (s & NEEDS_RESET) !== 0,
      verdict: (t) => t,
      why: "the status unchanged and notify: false: the driver was told when the bit was set",
    }),
    reset({
      name: "QueueReset 1 with VIRTIO_F_RING_RESET resets the queue",
      requirement: "4.2.2.1/10",
      when: asks,
      verdict: (o) => o.reset,
      why: "reset: true for a write of 1 when VIRTIO_F_RING_RESET was negotiated",
    }),
    reset({
      name: "a reset queue is back in its default state, QueueReady 0",
      requirement: "2.6.1.1.1/2",
      when: asks,
      verdict: (o) => ({ ...o.registers, resetUnconfirmed: false, wasReset: false }),
      why: "every register as after a device reset: num 0, every address 0, ready false, " +
        "stopUnconfirmed false (available and used state dropped with them)",
    }),
    reset({
      name:
        "the reset is remembered until QueueReset is read back, and the next setup is a re-enable",
      requirement: "4.2.2.2/14",
      when: asks,
      verdict: (o) => ({
        resetUnconfirmed: o.registers.resetUnconfirmed,
        wasReset: o.registers.wasReset,
      }),
      why:
        "resetUnconfirmed: true (the driver has not read QueueReset back yet) and wasReset: true",
    }),
    reset({
      name: "a queue in use is stopped by its reset",
      requirement: "2.6.1.1.1/1",
      when: asks,
      verdict: (o) => o.stopped,
      why: "stopped: true exactly when the queue was ready, so the device lets go of it",
    }),
    reset({
      name: "only 1 with VIRTIO_F_RING_RESET does anything",
      requirement: "4.2.2.1/10",
      when: (q, v, r) => !asks(q, v, r),
      verdict: (o) => ({ same: o.same, reset: o.reset, stopped: o.stopped }),
      why: "the same record back, reset: false, stopped: false",
    }),
    // ------------------------------------------------------ driver side
    recoverRow({
      name: "a device that asked for nothing is left alone",
      requirement: "2.1.1/4",
      hint: 3,
      when: (c) => !asked(c),
      verdict: (r) => ({
        events: r.events.filter((e) => !e.startsWith("read")),
        outcome: outcomeFields(r),
      }),
      why: "one look at Status, then { recovered: false, status }: no write, no step called",
    }),
    recoverRow({
      name: "the device is reset before it is initialized again",
      requirement: "2.1.1/3",
      hint: 2,
      when: (c) => asked(c) && c.resetReads < Infinity && (c.maxPolls ?? 1000) > c.resetReads,
      verdict: (r) => ({
        firstWrite: firstWrite(r),
        statusOnly: statusOnly(r),
        resetBeforeInit: at(r, "write") < at(r, "reinitialize"),
      }),
      why: "Status written 0 (and nothing else touched) before reinitialize is called",
    }),
    recoverRow({
      name: "the queues are released only once the reset is seen complete",
      requirement: "2.6.1.1.2/1",
      hint: 2,
      when: (c) => asked(c) && c.resetReads < Infinity && (c.maxPolls ?? 1000) > c.resetReads,
      verdict: (r) => ({
        releases: r.events.filter((e) => e === "release").length,
        afterZero: zeroReadAt(r) >= 0 && zeroReadAt(r) < at(r, "release"),
        beforeInit: at(r, "release") < at(r, "reinitialize"),
      }),
      why: "release called once, after a read of Status returned 0 and before reinitialize",
    }),
    recoverRow({
      name: "the device is offered the same features again",
      requirement: "2.2.2/3",
      hint: 3,
      when: (c) => asked(c) && c.resetReads < Infinity && (c.maxPolls ?? 1000) > c.resetReads,
      verdict: (r) => ({
        reinit: r.events.filter((e) => e.startsWith("reinitialize")),
        outcome: outcomeFields(r),
      }),
      why: "reinitialize called once with the features given, and { recovered: true, status " +
        "(as first read), features (what reinitialize resolved to) } returned, or its error thrown",
    }),
    recoverRow({
      name: "a reset that never completes ends in DeviceResetError, nothing released",
      requirement: "2.4.2/1",
      hint: 4,
      when: (c) => asked(c) && (c.resetReads === Infinity || (c.maxPolls ?? 1000) <= c.resetReads),
      verdict: (r, c) => ({
        outcome: outcomeFields(r),
        steps: r.events.filter((e) => !/^(read|write)/.test(e)),
        readsWithin: r.events.filter((e) =>
          e.startsWith("read")
        ).length <= (c.maxPolls ?? 1000) + 1,
      }),
      why:
        "a DeviceResetError after at most maxPolls reads of Status past the write, and no step called",
    }),
    machineCheck<Impl>({
      id: "needs-reset",
      name: "your recovery runs the lab machine, and its disk comes back",
      requirement: "2.1.2/2",
      hint: 4,
      expects: "the lab machine, on your three functions and a strict log, to carry console and " +
        "disk traffic; then, its disk broken, to fail the next read with DEVICE_NEEDS_RESET, " +
        "recover, and read the disk again",
      lesson,
      async also(machine) {
        const before = await within(machine.blk.driver!.read(8, 8), 3000, "a read", "", machine);
        const interrupts = machine.blk.transport.configInterrupts;
        machine.blk.transport.markNeedsReset("the grader broke the disk");
        await machine.idle();
        expectEqual(
          machine.blk.transport.configInterrupts,
          interrupts + 1,
          "configuration change notifications after the disk broke",
          { requires: "exactly one notification (2.1.2/2)", requirement: "2.1.2/2" },
        );
        const error = await within(
          machine.blk.driver!.read(8, 8).then(() => null, (e) => e),
          3000,
          "a read after the disk broke",
          "the read to fail at once: the driver saw DEVICE_NEEDS_RESET in Status",
          machine,
        );
        if (!(error instanceof BlockDriverError) || error.code !== "needs-reset") {
          fail({
            observed: `a read after the disk broke ${error ? `threw ${error}` : "succeeded"}`,
            expected: "a BlockDriverError 'needs-reset': the driver saw DEVICE_NEEDS_RESET",
            requirement: "2.1.2/2",
          });
        }
        const recovered = await within(machine.blk.recover(), 3000, "recovery", "", machine);
        expectEqual(recovered, true, "machine.blk.recover()", { requirement: "2.1.1/3" });
        const after = await within(machine.blk.driver!.read(8, 8), 3000, "a read", "", machine);
        expectEqual(
          after.length === before.length && after.every((b, i) => b === before[i]),
          true,
          "the disk read again after recovery",
          { requires: "the same bytes as before the disk broke", requirement: "2.1.1/3" },
        );
      },
    }),
  ],
});
