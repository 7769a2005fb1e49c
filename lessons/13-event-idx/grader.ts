/**
 * The grader of "VIRTIO_F_EVENT_IDX". Device side: `updateAvailEvent` after a take near the
 * wrap, notifications on and off, judged by what the driver would decide next (and, without the
 * feature, by the bytes after the used ring: rust-hypervisor-firmware PR #34); `needsInterrupt`
 * over batches of entries against every `used_event` around them, with and without the feature.
 * Driver side: `updateUsedEvent` after a reap (rcore-os/virtio-drivers PR #121), the callbacks on
 * and off, and the re-enable race (Cloud Hypervisor PR #2179, mirrored). Then round trips across
 * the wrap against peers that notify only as asked, each half on its own, and the lab machine.
 *
 * @module
 */

import { defineGrader, fail } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as reference from "./reference.ts";
import { vringNeedEvent as need } from "../../virtqueue/event_idx.ts";
import { REFERENCE_SPLIT_RING_DEVICE_PARTS as DEVICE } from "../../virtqueue/parts.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor } from "../kit/rules.ts";
import { ringFixture } from "../kit/ring.ts";
import { publishChains, type RingRun, runOnRing, showRingRun } from "../kit/ring_steps.ts";
import { callbackRaceCheck } from "../kit/ring_checks.ts";
import { roundTripCheck } from "../kit/round_trips.ts";
import { machineCheck, within } from "../kit/machine.ts";

type Impl = typeof Exercise;
const REF = reference as Impl;
const x = (i: number) => show.ringIdx(i);
const hex16 = (v: number) => `0x${v.toString(16).padStart(4, "0")}`;
const ev = (e: boolean) => (e ? "with VIRTIO_F_EVENT_IDX" : "without VIRTIO_F_EVENT_IDX");
const value = <R>(r: RingRun<R>) => ("returned" in r.outcome ? r.outcome.returned : "threw");
/** What is in a field nobody should write: a stale value the grader can recognise. */
const SENTINEL = 0x5a5a;
const RCORE = "Case file: rcore-os/virtio-drivers negotiated VIRTIO_F_EVENT_IDX and never moved " +
  "used_event until PR #121: the device, honouring it, stopped interrupting.";
const FIRMWARE = "Case file: rust-hypervisor-firmware kept a field of its own right after the " +
  "used ring; a device writing avail_event without the feature overwrote it (PR #34).";
const CH2179 = "Cloud Hypervisor PR #2179 is this order on the device's side (store avail_event, " +
  "then read avail idx): without it, virtio-net with EVENT_IDX hung under iperf.";

// ------------------------------------------------------------ updateAvailEvent

/** A take at `start` (notifications on or off), `waiting` more published and not taken. */
type TakeCase = [eventIdx: boolean, start: number, on: boolean, waiting: number];
interface Took extends RingRun<void> {
  readonly availEvent: number;
  /** What the reference driver would decide after publishing 1, 2, ... more chains. */
  readonly kicks: readonly boolean[];
}
function take(part: Impl["updateAvailEvent"], ...[e, start, on, waiting]: TakeCase): Took {
  const f = ringFixture({ size: 8, startIdx: start, eventIdx: e, ramSize: 16 * 1024 });
  const d = f.device;
  publishChains(f, 1 + waiting);
  f.memory.quietly(() => {
    if (!on) DEVICE.disableNotifications(d);
    DEVICE.availableCount(d);
    DEVICE.availHead(d);
    f.memory.writeU16(d.availEventAddr, SENTINEL);
  });
  const run = runOnRing(f, e ? [d.availEventAddr] : [], () => part(d));
  const availEvent = f.memory.quietly(() => f.memory.readU16(d.availEventAddr));
  const avail = f.availIdx();
  const flags = f.memory.quietly(() => f.memory.readU16(f.addresses.usedAddr));
  const kicks = Array.from(
    { length: 7 - waiting },
    (_, k) => e ? need(availEvent, (avail + k + 1) & 0xffff, avail) : (flags & 1) === 0,
  );
  return { ...run, availEvent, kicks };
}
const takes = ruleFor<Impl, TakeCase, Took>({
  run: (impl, ...c) => take(impl.updateAvailEvent, ...c),
  reference: (...c) => take(REF.updateAvailEvent, ...c),
  show: (e, start, on, waiting) =>
    `updateAvailEvent(ring) (entry ${x(start)} just taken, ${ev(e)}, notifications ` +
    `${on ? "on" : "off"}, ${waiting} more chain(s) waiting)`,
  result: (r) =>
    `${showRingRun(r)}; then avail_event ${x(r.availEvent)}, and the driver would notify after ` +
    `publishing 1, 2... more: ${JSON.stringify(r.kicks)}`,
}, {
  cases: every(
    [false, true].flatMap((e) =>
      [0xfffe, 0xffff, 0, 0x7fff].flatMap((s) =>
        [true, false].flatMap((on) => [0, 2].map((w) => [e, s, on, w] as TakeCase))
      )
    ),
  ),
  hint: 3,
});

// ------------------------------------------------------------ needsInterrupt

/** `pushed` entries since the last decision at `start`; used_event `offset` from `start`. */
type Decision = [eventIdx: boolean, start: number, pushed: number, offset: number, flags: number];
function decide(part: Impl["needsInterrupt"], ...[e, start, pushed, offset, flags]: Decision) {
  const f = ringFixture({ size: 8, startIdx: start, eventIdx: e, ramSize: 16 * 1024 });
  f.memory.quietly(() => {
    for (let k = 0; k < pushed; k++) f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    f.driverQueue.kickPrepare();
    for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
      f.deviceQueue.push(c.head, 4);
    }
    f.memory.writeU16(f.addresses.availAddr, flags);
    f.memory.writeU16(f.device.usedEventAddr, (start + offset) & 0xffff);
  });
  const run = runOnRing(f, [], () => part(f.device));
  return { ...run, signalled: f.device.signalledUsed };
}
const DECISIONS = every(
  [true, false].flatMap((e) =>
    [0xfffe, 0xfffc, 0, 0x7fff].flatMap((s) =>
      [0, 1, 2, 4].flatMap((n) =>
        [-2, -1, 0, 1, 2, 3, 4, 5].flatMap((o) =>
          (e ? [0, 1, 3] : o === 0 ? [0, 1, 2, 0x8001] : []).map((fl) =>
            [e, s, n, o, fl] as Decision
          )
        )
      )
    )
  ),
);
const decision = ruleFor<Impl, Decision, ReturnType<typeof decide>>({
  run: (impl, ...c) => decide(impl.needsInterrupt, ...c),
  reference: (...c) => decide(REF.needsInterrupt, ...c),
  show: (e, start, n, o, flags) =>
    `needsInterrupt(ring) (${ev(e)}, ${n} entr${n === 1 ? "y" : "ies"} pushed since the last ` +
    `decision, from ${x(start)} to ${x(start + n)}, used_event ${x(start + o)}, avail flags ` +
    `${hex16(flags)})`,
  result: (r) => `${showRingRun(r)}, signalledUsed then ${x(r.signalled)}`,
}, { cases: DECISIONS, hint: 3 });

// ------------------------------------------------------------ the driver's fields

type DriverOp = "updateUsedEvent" | "disableCallbacks" | "enableCallbacks";
/** A driver ring at `start`: 4 chains out, `returned` of them back, `reaped` of those reaped. */
type FieldCase = [eventIdx: boolean, start: number, on: boolean, returned: number, reaped: number];
interface Fields extends RingRun<unknown> {
  readonly flags: number;
  readonly usedEvent: number;
  readonly callbacks: boolean;
  /** What the reference device would decide after returning 1, 2, ... more entries at once. */
  readonly interrupts: readonly boolean[];
}
function fields(part: (ring: never) => unknown, op: DriverOp, ...c: FieldCase): Fields {
  const [e, start, on, returned, reaped] = c;
  const f = ringFixture({
    size: 8,
    startIdx: start,
    eventIdx: e,
    ramSize: 16 * 1024,
    driver: { updateUsedEvent: () => {} }, // the grader moves nothing behind the part's back
  });
  const drv = f.driver;
  f.memory.quietly(() => {
    for (let k = 0; k < 4; k++) f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    f.driverQueue.kickPrepare();
    for (let k = 0; k < 4; k++) {
      const chain = f.deviceQueue.pop()!;
      if (k < returned) f.deviceQueue.push(chain.head, 4);
    }
    f.deviceQueue.needsInterrupt();
    if (!on) REF.disableCallbacks(drv as never);
    for (let k = 0; k < reaped; k++) f.driverQueue.getBuf();
    f.memory.writeU16(drv.usedEventAddr, e && on ? (drv.lastUsed - reaped) & 0xffff : SENTINEL);
    if (!e) f.memory.writeU16(drv.usedEventAddr, SENTINEL);
  });
  const allowed = op === "updateUsedEvent" || e ? [drv.usedEventAddr] : [f.addresses.availAddr];
  const run = runOnRing(f, e || op !== "updateUsedEvent" ? allowed : [], () => part(drv as never));
  const [flags, usedEvent] = f.memory.quietly(() =>
    [f.addresses.availAddr, drv.usedEventAddr].map((a) => f.memory.readU16(a))
  );
  const used = f.usedIdx();
  const interrupts = Array.from(
    { length: 4 - returned },
    (_, k) => e ? need(usedEvent, (used + k + 1) & 0xffff, used) : (flags & 1) === 0,
  );
  return { ...run, flags, usedEvent, callbacks: drv.callbacks, interrupts };
}
const fieldRule = (op: DriverOp, cases: FieldCase[]) =>
  ruleFor<Impl, FieldCase, Fields>({
    run: (impl, ...c) => fields(impl[op] as never, op, ...c),
    reference: (...c) => fields(REF[op] as never, op, ...c),
    show: (e, start, on, returned, reaped) =>
      `${op}(ring) (${ev(e)}, notifications ${on ? "on" : "off"}, a ring that started at ` +
      `${x(start)} with 4 chains out, ${returned} returned and ${reaped} of those reaped)`,
    result: (r) =>
      `${showRingRun(r)}; then avail flags ${hex16(r.flags)}, used_event ${
        x(r.usedEvent)
      }, ring.callbacks ${r.callbacks}, and the device would notify after returning 1, 2... ` +
      `more: ${JSON.stringify(r.interrupts)}`,
  }, { cases: every(cases), hint: 3 });
const fieldCases = (on: boolean[], reaped: (returned: number) => number[]) =>
  [false, true].flatMap((e) =>
    [0xfffd, 0xffff, 0x7fff].flatMap((s) =>
      on.flatMap((o) =>
        [0, 1, 3].flatMap((r) => reaped(r).map((k) => [e, s, o, r, k] as FieldCase))
      )
    )
  );
const reapedOne = (r: number) => (r === 0 ? [] : [1, r]);
const update = fieldRule("updateUsedEvent", fieldCases([true, false], reapedOne));
const disable = fieldRule("disableCallbacks", fieldCases([true], (r) => [0, r]));
const enable = fieldRule("enableCallbacks", fieldCases([false], (r) => [0, r]));
const [isEv, noEv] = [(e: boolean) => e, (e: boolean) => !e];

export const grader = defineGrader<Impl>({
  lesson: "event-idx",
  checks: [
    // --------------------------------------------------- device side
    takes({
      name: "with notifications on, avail_event names the next entry the device has not taken",
      requirement: "2.7.10/D2",
      when: (e, _s, on) => e && on,
      verdict: (r) => ({ availEvent: r.availEvent, stray: r.stray, threw: value(r) }),
      why: "avail_event = ring.lastAvail, the only store",
    }),
    takes({
      name: "with notifications off, a take keeps the driver's publishes quiet",
      requirement: "2.7.10.2/2",
      when: (e, _s, on) => e && !on,
      verdict: (r) => ({ kicks: r.kicks, stray: r.stray, threw: value(r) }),
      why: "an avail_event no publish can reach before the next take (lastAvail - 1 is one), " +
        "the only store",
    }),
    takes({
      name: "without event idx, the device never writes avail_event",
      requirement: "2.7.10/D3",
      when: noEv,
      verdict: (r) => ({ availEvent: r.availEvent, stray: r.stray, threw: value(r) }),
      why: "no store at all: the bytes after the used ring are the driver's",
      note: (got) => (got.stray > 0 ? FIRMWARE : undefined),
    }),
    decision({
      name: "with event idx, the device notifies exactly when it returned the entry at used_event",
      requirement: "2.7.7.2/2",
      when: (e, _s, n, _o, flags) => e && n > 0 && flags === 0,
      verdict: (r) => ({ answer: value(r), stray: r.stray }),
      why: "vringNeedEvent(used_event, usedIdx, signalledUsed): every entry of the batch counts, " +
        "across the wrap too; nothing stored",
    }),
    decision({
      name: "with event idx, the available ring's flags decide nothing",
      requirement: "2.7.7.2/2",
      when: (e, _s, n, _o, flags) => e && n > 0 && flags !== 0,
      verdict: (r) => ({ answer: value(r), stray: r.stray }),
      why: "the same answer as with flags 0: bit 0 is ignored with the feature",
    }),
    decision({
      name: "every decision consumes what was pushed; with nothing new there is nothing to say",
      requirement: "2.7.7.2/2",
      when: isEv,
      verdict: (r, _e, _s, n) => ({ signalled: r.signalled, answer: n === 0 ? value(r) : "any" }),
      why: "signalledUsed moved to usedIdx, and false when nothing was pushed",
    }),
    decision({
      name: "without event idx, bit 0 of the flags decides and used_event is ignored",
      requirement: "2.7.7.2/1",
      when: (e, _s, _n, _o, flags) => !e && flags <= 1,
      verdict: (r) => ({ answer: value(r), signalled: r.signalled, reported: r.reported }),
      why: "true with flags 0 and false with flags 1 (false with nothing pushed), whatever " +
        "used_event says",
    }),
    decision({
      name: "without event idx, bad flags are reported and bit 0 still decides",
      requirement: "2.7.7.1/1",
      when: (e, _s, n, _o, flags) => !e && n > 0 && flags > 1,
      verdict: (r) => ({ answer: value(r), reported: r.reported }),
      why: "2.7.7.1/1 reported, and the decision taken on bit 0 alone",
    }),
    // --------------------------------------------------- driver side
    update({
      name: "after a reap, used_event names the next entry the driver has not reaped",
      requirement: "2.7.7/D1",
      when: (e, _s, on) => e && on,
      verdict: (r) => ({ usedEvent: r.usedEvent, stray: r.stray, threw: value(r) }),
      why: "used_event = ring.lastUsed, the only store",
      note: (got, want) => (got.usedEvent !== want.usedEvent ? RCORE : undefined),
    }),
    update({
      name: "a reap with notifications off keeps them off",
      requirement: "2.7.7.1/2",
      when: (e, _s, on) => e && !on,
      verdict: (r) => ({ interrupts: r.interrupts, flags: r.flags, stray: r.stray }),
      why: "used_event left where it was, or moved where no entry the device returns reaches",
    }),
    update({
      name: "without event idx, the driver never writes used_event",
      requirement: "2.7.7/D2",
      when: noEv,
      verdict: (r) => ({ usedEvent: r.usedEvent, stray: r.stray, threw: value(r) }),
      why: "no store at all: the available ring ends before used_event",
    }),
    disable({
      name: "with event idx, disableCallbacks moves used_event and keeps flags 0",
      requirement: "2.7.7.1/2",
      when: isEv,
      verdict: (r) => ({ flags: r.flags, on: r.callbacks, irq: r.interrupts, stray: r.stray }),
      why: "flags 0, ring.callbacks false, and a used_event no entry the device returns before " +
        "the next reap reaches; no other store",
    }),
    disable({
      name: "without event idx, disableCallbacks sets VIRTQ_AVAIL_F_NO_INTERRUPT, and only that",
      requirement: "2.7.7.1/1",
      when: noEv,
      verdict: (r) => ({ flags: r.flags, callbacks: r.callbacks, stray: r.stray }),
      why: "avail flags 1, ring.callbacks false, no other store",
    }),
    enable({
      name: "with event idx, enableCallbacks sets used_event to lastUsed and keeps flags 0",
      requirement: "2.7.7/D1",
      when: isEv,
      verdict: (r) => ({ flags: r.flags, event: r.usedEvent, on: r.callbacks, stray: r.stray }),
      why: "flags 0, used_event = ring.lastUsed, ring.callbacks true, no other store",
    }),
    enable({
      name: "without event idx, enableCallbacks clears the flag, and only that",
      requirement: "2.7.7.1/1",
      when: noEv,
      verdict: (r) => ({ flags: r.flags, callbacks: r.callbacks, stray: r.stray }),
      why: "avail flags 0, ring.callbacks true, no other store",
    }),
    enable({
      name: "enableCallbacks says whether entries are waiting",
      requirement: "2.7.14/D1",
      verdict: (r) => value(r),
      why: "true when the used idx equals lastUsed, false when entries wait (across the wrap too)",
    }),
    callbackRaceCheck<Impl>({
      step: "enableCallbacks",
      hint: 2,
      eventIdx: [true, false],
      parts: (impl) => ({ enableCallbacks: impl.enableCallbacks }),
      note: CH2179,
    }),
    callbackRaceCheck<Impl>({
      name: "no used buffer is stranded by a reap loop on your used_event",
      step: "drainUsed",
      hint: 3,
      eventIdx: [true],
      parts: (impl) => ({
        updateUsedEvent: impl.updateUsedEvent,
        disableCallbacks: impl.disableCallbacks,
        enableCallbacks: impl.enableCallbacks,
      }),
    }),
    // --------------------------------------------------- both halves, against strict peers
    roundTripCheck<Impl>({
      side: "driver",
      hint: 2,
      parts: (impl) => ({
        driver: {
          updateUsedEvent: impl.updateUsedEvent,
          disableCallbacks: impl.disableCallbacks,
          enableCallbacks: impl.enableCallbacks,
        },
      }),
      note: RCORE,
    }),
    roundTripCheck<Impl>({
      side: "device",
      hint: 2,
      parts: (impl) => ({
        device: { updateAvailEvent: impl.updateAvailEvent, needsInterrupt: impl.needsInterrupt },
      }),
    }),
    machineCheck<Impl>({
      id: "event-idx",
      name: "your event indices run the lab machine",
      requirement: "2.7.7.2/2",
      hint: 4,
      expects: "the lab machine, on your five parts and a strict log, to negotiate " +
        "VIRTIO_F_EVENT_IDX with both devices and carry console and disk traffic on it",
      lesson,
      async also(machine) {
        for (const d of machine.devices().filter((d) => d.deviceId !== 0)) {
          if (!d.features.includes("VIRTIO_F_EVENT_IDX")) {
            fail({
              observed: `${d.type} negotiated ${d.features.join(", ")}`,
              expected: "VIRTIO_F_EVENT_IDX among the features of both devices",
              requirement: "2.7.7.2/2",
            });
          }
        }
        const lines = Array.from({ length: 20 }, (_, i) => machine.console.driver!.write(`${i}\n`));
        await within(
          Promise.all(lines),
          3000,
          "20 console writes in a row, with event idx",
          "every write completed: the device interrupting where used_event asks, the driver " +
            "kicking where avail_event asks",
          machine,
        );
      },
    }),
  ],
});
