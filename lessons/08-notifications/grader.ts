/**
 * The grader of "Notifications and suppression". Driver side: `vringNeedEvent`
 * at every corner of the 16-bit wrap and on random triples (rcore's
 * `should_notify` forgets the wrap); `needsKick` on rings at the wrap, with and
 * without event idx, with bad used flags, and round after round while the
 * device changes its mind. Device side: `queueNotifyTarget` on every kind of
 * device and index (QEMU's CVE-2011-2512 read it signed); the suppression pair
 * judged by what the driver would decide next, the re-check and the kit's
 * re-enable race. Last, the lab machine on all four parts.
 *
 * @module
 */

import fc from "fast-check";
import { defineGrader, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import { vringNeedEvent as need } from "../../virtqueue/event_idx.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS as DEVICE,
  REFERENCE_SPLIT_RING_DRIVER_PARTS as DRIVER,
  type SplitRingDriverParts,
} from "../../virtqueue/parts.ts";
import {
  type NotifyContext,
  type NotifyTarget,
  queueNotifyTarget,
} from "../../transport/queue_notify.ts";
import * as show from "../kit/format.ts";
import { attempt, every, type Outcome, ruleFor, sample } from "../kit/rules.ts";
import { ringFixture } from "../kit/ring.ts";
import {
  drainRing,
  publishChains,
  type RingRun,
  runOnRing,
  showRingRun,
} from "../kit/ring_steps.ts";
import { reenableRaceCheck } from "../kit/ring_checks.ts";
import { machineCheck, within } from "../kit/machine.ts";

type Impl = typeof Exercise;
const hex = (n: number) => `0x${n.toString(16).padStart(4, "0")}`;
const ring = (startIdx: number, eventIdx: boolean, driver?: Partial<SplitRingDriverParts>) =>
  ringFixture({ size: 8, startIdx, eventIdx, ramSize: 16 * 1024, driver });
const value = <R>(r: RingRun<R>) => ("returned" in r.outcome ? r.outcome.returned : "threw");
const evIdx = (ev: boolean) => (ev ? " with VIRTIO_F_EVENT_IDX" : "");
const RCORE = "Case file: that is what a compare forgetting the wrap answers, like rcore's " +
  "should_notify (avail_idx >= avail_event + 1): a batch published from 0xfffe to 0x0000 with " +
  "avail_event 0xfffe gets no notification, and the device sleeps on its chains.";
const SUPPRESSED = "most of them taken without a notification: the console asks for none while " +
  "it streams (your disableNotifications), the driver honours that (your needsKick)";
const CVE = "Case file: QEMU's virtio_queue_notify took the queue number as a signed int " +
  "(CVE-2011-2512); read the value as an unsigned 32-bit number, all of it.";

// ------------------------------------------------------------ vringNeedEvent

type Triple = [eventIdx: number, newIdx: number, oldIdx: number];
const needs = ruleFor<Impl, Triple, boolean>({
  run: (impl, e, n, o) => impl.vringNeedEvent(e, n, o),
  reference: need,
  key: (e, n, o) => (e * 0x10000 + n) * 0x10000 + o,
  show: (e, n, o) => `vringNeedEvent(${hex(e)}, ${hex(n)}, ${hex(o)})`,
  result: String,
  shape: (r) => (typeof r === "boolean" ? undefined : "true or false"),
}, { hint: 4 });
const near = (b: number) => Array.from({ length: 12 }, (_, i) => (b - 6 + i) & 0xffff);
const CORNERS: Triple[] = [];
for (const b of [0, 0x8000]) {
  for (const n of [1, 2, 3, 5, 8, 0]) {
    for (const o of near(b)) for (const e of near(b)) CORNERS.push([e, (o + n) & 0xffff, o]);
  }
}
const u16 = fc.integer({ min: 0, max: 0xffff });
const rcoreNote = (got: boolean, want: boolean, e: number, n: number) =>
  got !== want && got === n >= ((e + 1) & 0xffff) ? RCORE : undefined;

// ------------------------------------------------------------ needsKick

/** A publish of `n` chains from `start`, the used flags and (event idx) avail_event set. */
type KickCase = [eventIdx: boolean, start: number, n: number, availEvent: number, flags: number];
function kickRun(part: Impl["needsKick"], ...[ev, start, n, event, flags]: KickCase) {
  const f = ring(start, ev);
  const old = publishChains(f, n);
  f.memory.quietly(() => {
    f.memory.writeU16(f.addresses.usedAddr, flags);
    if (ev) f.memory.writeU16(f.driver.availEventAddr, event);
  });
  return runOnRing(f, [], () => part(f.driver, old));
}
const kick = ruleFor<Impl, KickCase, RingRun<boolean>>({
  run: (impl, ...c) => kickRun(impl.needsKick, ...c),
  reference: (...c) => kickRun(DRIVER.needsKick, ...c),
  show: (ev, start, n, event, flags) =>
    `needsKick after publishing ${n} chain(s) from idx ${hex(start)} to ${
      hex((start + n) & 0xffff)
    }, used flags ${hex(flags)}${ev ? `, VIRTIO_F_EVENT_IDX, avail_event ${hex(event)}` : ""}`,
  result: showRingRun,
}, { hint: 3 });
const OFFS = [-2, -1, 0, 1, 2, 3, 4]; // avail_event from two before the old idx to four after
const kickCases = (ev: boolean, flagsList: number[], starts: number[], ns: number[], offs = [0]) =>
  flagsList.flatMap((flags) =>
    starts.flatMap((s) => ns.flatMap((n) => offs.map((o) => [ev, s, n, (s + o) & 0xffff, flags])))
  ) as KickCase[];

/** Six publishes on one ring, the device turning notifications off, on, off...: the kicks. */
function kickRounds(part: Impl["needsKick"], ev: boolean, start: number): Outcome<boolean[]> {
  const f = ring(start, ev, { needsKick: part });
  return attempt(() =>
    Array.from({ length: 6 }, (_, round) => {
      f.memory.quietly(() => {
        (round % 2 ? DEVICE.enableNotifications : DEVICE.disableNotifications)(f.device);
        f.driverQueue.add([], [f.buffer(16)], `round ${round}`);
      });
      const kicked = f.driverQueue.kickPrepare();
      drainRing(f);
      return kicked;
    })
  );
}
const rounds = ruleFor<Impl, [eventIdx: boolean, start: number], Outcome<boolean[]>>({
  run: (impl, ev, start) => kickRounds(impl.needsKick, ev, start),
  reference: (ev, start) => kickRounds(DRIVER.needsKick, ev, start),
  show: (ev, start) =>
    `six publishes on one ring from idx ${hex(start)}${evIdx(ev)}, the device asking for no ` +
    "notifications before the 1st, 3rd and 5th and for them again before the others",
  result: (o) => ("returned" in o ? `decided ${JSON.stringify(o.returned)}` : show.outcome(o)),
  verb: "and needsKick",
}, { hint: 2 });

// ------------------------------------------------------------ queueNotifyTarget

const live = (...ready: boolean[]) => ({ status: 0x0f, active: true, ready });
const stopped = (status: number, ready = [true, true]) => ({ status, active: false, ready });
const DEVICES: Record<string, { status: number; active: boolean; ready: boolean[] }> = {
  "a live device with 2 ready queues": live(true, true),
  "a live device whose queue 1 is not ready": live(true, false),
  "a live device with no queue set up": live(),
  "a device before DRIVER_OK (status 0x0b)": stopped(0x0b),
  "a device right after reset (status 0x00)": stopped(0, [false, false]),
  "a FAILED device (status 0x8f)": stopped(0x8f),
  "a device that needs a reset (status 0x4f)": stopped(0x4f),
};
/** A fresh context per call: nothing a learner's code does to one reaches the next case. */
const context = (name: string): NotifyContext => {
  const c = DEVICES[name];
  return { status: c.status, active: c.active, queues: c.ready.map((ready) => ({ ready })) };
};
const VALUES = [0, 1, 2, 3, 0xffff, 0x1_0000, 0x1_0001, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
const TARGETS = every(
  VALUES.flatMap((v) => Object.keys(DEVICES).map((n) => [v, n] as [number, string])),
);
const isLive = (name: string) => DEVICES[name].active;
const names = (v: number, name: string) => v < DEVICES[name].ready.length;
const wellFormed = (t: NotifyTarget) =>
  typeof t?.deliver === "boolean" && (t.problem === null || (typeof t.problem?.message ===
      "string" && t.problem.message.trim() !== "" && typeof t.problem.values === "object"));
const target = ruleFor<Impl, [value: number, device: string], Outcome<NotifyTarget>>({
  run: (impl, v, name) => attempt(() => impl.queueNotifyTarget(v, context(name))),
  reference: (v, name) => attempt(() => queueNotifyTarget(v, context(name))),
  key: (v, name) => `${v} ${name}`,
  show: (v, name) => `queueNotifyTarget(${show.word(v)}, ${name})`,
  result: (o) =>
    "returned" in o
      ? `{ deliver: ${o.returned.deliver}, queue: ${show.value(o.returned.queue)}, problem: ${
        o.returned.problem ? `"${o.returned.problem.id}"` : "null"
      } }`
      : show.outcome(o),
  shape: (o) =>
    "threw" in (o as object) || wellFormed((o as { returned: NotifyTarget }).returned)
      ? undefined
      : "{ deliver, queue, problem: null or { id, message (a sentence), values (an object) } }",
}, { hint: 2 });
const where = (o: Outcome<NotifyTarget>) =>
  "returned" in o
    ? { deliver: o.returned.deliver, queue: o.returned.queue, id: o.returned.problem?.id }
    : "threw";

// ------------------------------------------------------------ suppression

/** One part on a ring at `start`: `taken` chains in flight, `waiting` published, not taken. */
type Op = "disable" | "enable";
type SuppressCase = [op: Op, eventIdx: boolean, start: number, taken: number, waiting: number];
interface Suppressed extends RingRun<boolean | void> {
  readonly flags: number;
  readonly notifications: boolean;
  /** What the reference driver would decide after publishing 1, 2, ... more chains. */
  readonly kicks: readonly boolean[];
}
type Pair = Pick<Impl, "disableNotifications" | "enableNotifications">;
function suppressRun(impl: Pair, ...[op, ev, start, taken, waiting]: SuppressCase): Suppressed {
  const f = ring(start, ev);
  const d = f.device;
  publishChains(f, taken);
  f.memory.quietly(() => {
    for (let k = 0; k < taken; k++) f.deviceQueue.pop();
    if (op === "enable") DEVICE.disableNotifications(d); // the device was busy
  });
  publishChains(f, waiting);
  const run = runOnRing(
    f,
    ev ? [f.addresses.usedAddr, d.availEventAddr] : [f.addresses.usedAddr],
    () => op === "enable" ? impl.enableNotifications(d) : impl.disableNotifications(d),
  );
  const [flags, availEvent] = f.memory.quietly(() =>
    [f.addresses.usedAddr, d.availEventAddr].map((a) => f.memory.readU16(a))
  );
  const avail = f.availIdx();
  const kicks = Array.from(
    { length: 8 - taken - waiting },
    (_, k) => ev ? need(availEvent, (avail + k + 1) & 0xffff, avail) : (flags & 1) === 0,
  );
  return { ...run, flags, notifications: d.notifications, kicks };
}
const suppress = ruleFor<Impl, SuppressCase, Suppressed>({
  run: (impl, ...c) => suppressRun(impl, ...c),
  reference: (...c) => suppressRun(DEVICE, ...c),
  show: (op, ev, start, taken, waiting) =>
    `${op}Notifications on a ring at ${hex(start)}${evIdx(ev)} (${taken} chain(s) in flight, ` +
    `${waiting} published and not taken)`,
  result: (r) =>
    `${showRingRun(r)}; then used flags ${hex(r.flags)}, ring.notifications ${r.notifications}, ` +
    `and the driver would notify after publishing 1, 2... more: ${JSON.stringify(r.kicks)}`,
}, { hint: 3 });
const rings = (ops: Op[], events: boolean[], waits = [0]) =>
  ops.flatMap((o) =>
    events.flatMap((ev) =>
      [0, 0xfffe, 0xffff].flatMap((s) => [0, 2].flatMap((t) => waits.map((w) => [o, ev, s, t, w])))
    )
  ) as SuppressCase[];
const state = (r: Suppressed) => ({
  flags: r.flags,
  on: r.notifications,
  kicks: r.kicks,
  stray: r.stray,
  returned: value(r),
});

export const grader = defineGrader<Impl>({
  lesson: "notifications",
  checks: [
    // --------------------------------------------------- the event index test
    needs({
      name: "vring_need_event is right at every corner of the 16-bit wrap",
      requirement: "2.7.10.1/3",
      cases: every(CORNERS),
      why: "true exactly when eventIdx is one of oldIdx, oldIdx + 1, ..., newIdx - 1, modulo 65536",
      note: rcoreNote,
    }),
    needs({
      name: "vring_need_event agrees with its definition on any three indices",
      requirement: "2.7.10.1/3",
      cases: sample(fc.tuple(u16, u16, u16), { seed: 0x8e7, runs: 400 }),
      why: "(u16)(newIdx - eventIdx - 1) < (u16)(newIdx - oldIdx)",
      note: rcoreNote,
    }),
    // --------------------------------------------------- the driver's kick
    kick({
      name: "without event idx, the driver kicks unless the device set VIRTQ_USED_F_NO_NOTIFY",
      requirement: "2.7.10.1/2",
      cases: every(kickCases(false, [0, 1], [0, 0xfffe, 0x7fff], [1, 3])),
      verdict: (r) => ({ kick: value(r), reported: r.reported, stray: r.stray }),
      why: "a notification when flags is 0, none when it is 1, nothing reported, nothing stored",
    }),
    kick({
      name: "bad used flags are reported, and only bit 0 honoured",
      requirement: "2.7.10.2/1",
      hint: 2,
      cases: every(kickCases(false, [2, 3, 0x8000, 0xffff], [0, 0xfffe], [1])),
      verdict: (r) => ({ kick: value(r), bad: r.reported.includes("2.7.10.2/1"), stray: r.stray }),
      why: "2.7.10.2/1 reported for flags other than 0 and 1, the decision taken on bit 0 alone",
    }),
    kick({
      name: "with event idx, the driver kicks exactly when it published the entry at avail_event",
      requirement: "2.7.10.1/3",
      cases: every(
        kickCases(true, [0, 1], [0xfffe, 0xfffc, 0xffff, 0x7ffe, 0], [1, 2, 3, 4], OFFS),
      ),
      verdict: (r) => ({ kick: value(r), stray: r.stray }),
      why: "vringNeedEvent(avail_event, new idx, old idx), whatever flags says, nothing stored",
      note: (got, want, _ev, start, n) =>
        value(got) === false && value(want) === true && start + n > 0xffff ? RCORE : undefined,
    }),
    rounds({
      name: "needsKick decides on the field as it is after the idx store",
      requirement: "2.7.13.4.1/1",
      cases: every([[false, 0xfffd], [true, 0xfffd], [true, 0x7ffe]]),
      why: "each decision on the used flags or avail_event as they are then, so the kicks follow " +
        "the device: none while it asked for none, one once it asked again",
    }),
    // --------------------------------------------------- the device's QueueNotify
    target({
      name: "a device that is not live takes no notification",
      requirement: "3.1.1/6",
      hint: 1,
      cases: TARGETS,
      when: (_v, name) => !isLive(name),
      verdict: where,
      why: "not delivered: before DRIVER_OK the driver broke 3.1.1/6; a FAILED device, or one " +
        "that needs a reset, ignores it silently",
    }),
    target({
      name: "an index beyond the queues names no queue, 0xffff_ffff included",
      requirement: "4.2.3.3/D1",
      cases: TARGETS,
      when: (v, name) => isLive(name) && !names(v, name),
      verdict: where,
      why: "not delivered, 4.2.3.3/D1, with the whole u32 as the queue index",
      note: (got) => ("threw" in got || got.returned.queue <= 0xffff ? CVE : undefined),
    }),
    target({
      name: "a queue that is not ready gets no notification",
      requirement: "4.2.3.3/D1",
      cases: every([[1, "a live device whose queue 1 is not ready"]]),
      verdict: where,
      why: "not delivered, 4.2.3.3/D1",
    }),
    target({
      name: "a ready queue of a live device gets its notification",
      requirement: "4.2.3.3/D1",
      cases: TARGETS,
      when: (v, name) => isLive(name) && names(v, name) && DEVICES[name].ready[v],
      verdict: where,
      why: "delivered to that queue, no problem",
    }),
    // --------------------------------------------------- the device's suppression
    suppress({
      name: "without event idx, the device sets and clears VIRTQ_USED_F_NO_NOTIFY, and only that",
      requirement: "2.7.10.2/1",
      cases: every(rings(["disable", "enable"], [false])),
      verdict: state,
      why:
        "disable: flags 1 and ring.notifications false, so the driver's next publishes bring no " +
        "notification; enable: flags 0, ring.notifications true, the next publish notifies",
    }),
    suppress({
      name: "with event idx, the device moves avail_event and keeps flags 0",
      requirement: "2.7.10.2/2",
      cases: every(rings(["disable", "enable"], [true])),
      verdict: state,
      why:
        "flags 0; disable: ring.notifications false, and no publish the driver can make before " +
        "the device takes a chain notifies; enable: avail_event = lastAvail, the next one notifies",
    }),
    suppress({
      name: "enableNotifications says whether chains are waiting",
      requirement: "2.7.10/D1",
      hint: 2,
      cases: every(rings(["enable"], [false, true], [0, 1, 3])),
      verdict: (r) => value(r),
      why: "true exactly when the available idx, read after re-enabling, is not lastAvail",
    }),
    reenableRaceCheck<Impl>({
      hint: 2,
      parts: (impl) => ({ enableNotifications: impl.enableNotifications }),
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "notifications",
      requirement: "2.7.10.1/2",
      hint: 4,
      expects: "the lab machine, on your four parts and a strict log, to carry console and disk " +
        "traffic, and a busy console to take chains it was not notified of",
      lesson,
      async also(machine) {
        const tx = () => machine.traffic().find((r) => r.role === "transmitq")!;
        const before = tx();
        const lines = Array.from({ length: 40 }, (_, i) => machine.console.driver!.write(`${i}\n`));
        await within(Promise.all(lines), 3000, "40 console writes in a row", SUPPRESSED, machine);
        const chains = tx().requests - before.requests;
        const kicks = tx().notifications - before.notifications;
        if (2 * kicks >= chains) {
          fail({
            observed: `40 writes in a row went out in ${chains} transmit chain(s) and ${kicks} ` +
              "notification(s): the driver notified a device that was busy streaming",
            expected: SUPPRESSED,
            requirement: "2.7.10.1/2",
          });
        }
      },
    }),
  ],
});
