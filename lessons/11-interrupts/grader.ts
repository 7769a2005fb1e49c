/**
 * The grader of "Interrupts". Device side: `raiseInterrupt`, `acknowledgeInterrupt` swept over
 * every `InterruptStatus`, undefined bits and status byte; `needsInterrupt` near the wrap, with
 * and without `VIRTQ_AVAIL_F_NO_INTERRUPT`, bad flags, a contrary `used_event`, a broken ring.
 * Driver side: `handleInterrupt` behind the interrupt injector (spurious interrupts, undefined
 * bits, an event raised while a handler runs); the callbacks on rings with entries waiting and
 * against a device returning a chain after each read of the used `idx`; `drainUsed` while the
 * device returns chains or breaks the queue. Last, the lab machine on all seven.
 *
 * @module
 */

import { defineGrader } from "../../course/grader.ts";
import type * as Exercise from "./exercise.ts";
import lesson from "./lesson.json" with { type: "json" };
import * as reference from "./reference.ts";
import type { InterruptAcknowledgement, InterruptRaise } from "../../transport/interrupt_status.ts";
import {
  VIRTIO_MMIO_INT_CONFIG as CONFIG,
  VIRTIO_MMIO_INT_VRING as VRING,
  VIRTIO_MMIO_INTERRUPT_STATUS as STATUS,
} from "../../transport/mmio_registers.ts";
import { VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK } from "../../virtio/status.ts";
import { breakDeviceRing } from "../../virtqueue/device/ring.ts";
import * as show from "../kit/format.ts";
import { every, ruleFor } from "../kit/rules.ts";
import {
  expectQuietMachine,
  HANDLER_CASES,
  type HandlerCase,
  handlerSubject,
} from "../kit/interrupts.ts";
import { REAP_CASES, type ReapCase, reapSubject } from "../kit/reap.ts";
import { ringFixture } from "../kit/ring.ts";
import { callbackRaceCheck } from "../kit/ring_checks.ts";
import { machineCheck } from "../kit/machine.ts";

type Impl = typeof Exercise;
const REF = reference as Impl;

const irq = show.interruptBits;

// ------------------------------------------------------------ InterruptStatus and InterruptACK

/** Status bytes with and without DRIVER_OK (0x04), alone and with every other bit around it. */
const STATUSES = [0x00, 0x01, 0x03, 0x0b, 0x4b, 0x8b, 0xfb, 0x04, 0x07, 0x0f, 0x4f, 0x8f, 0xff];
const EVENTS = [VRING, CONFIG, VRING | 4, (CONFIG | 0x8000_0000) >>> 0, 4, 0];
const RAISES = every(function* () {
  for (const before of [0, 1, 2, 3]) {
    for (const event of EVENTS) {
      for (const s of STATUSES) yield [before, event, s] as [number, number, number];
    }
  }
});
const raise = ruleFor<Impl, [number, number, number], InterruptRaise>({
  run: (impl, before, event, status) => impl.raiseInterrupt(before, event, status),
  reference: REF.raiseInterrupt,
  key: (before, event, status) => `${before}/${event}/${status}`,
  show: (before, event, status) =>
    `raiseInterrupt(${irq(before)}, ${show.word(event)}, ${show.status(status)})`,
  result: (r) => `{ interruptStatus: ${irq(r.interruptStatus)}, sent: ${r.sent} }`,
}, { cases: RAISES, hint: 3 });

const ACK_VALUES = [0, 1, 2, 3, 4, 5, 7, 0x100, 0x101, 0x8000_0000, 0x8000_0003, 0xffff_fffc];
const ACKS = every(
  [0, 1, 2, 3].flatMap((b) => [...ACK_VALUES, 0xffff_ffff].map((v) => [b, v] as [number, number])),
);
const ack = ruleFor<Impl, [number, number], InterruptAcknowledgement>({
  run: (impl, before, value) => impl.acknowledgeInterrupt(before, value),
  reference: REF.acknowledgeInterrupt,
  key: (before, value) => `${before}/${value}`,
  show: (before, value) => `acknowledgeInterrupt(${irq(before)}, ${show.word(value)})`,
  result: (r) =>
    `{ interruptStatus: ${irq(r.interruptStatus)}, problem: ${
      r.problem ? `{ id: "${r.problem.id}", ... }` : "null"
    } }`,
}, { cases: ACKS, hint: 3 });

// ------------------------------------------------------------ needsInterrupt

/** A device ring that pushed `pushed` entries since its last decision, with the driver's flags. */
interface Decision {
  readonly start: number;
  readonly pushed: number;
  readonly flags: number;
  /** Where `used_event` points: at the first new entry, or just behind it (ignored anyway). */
  readonly usedEvent: "at" | "behind";
  readonly broken?: boolean;
}
const DECISIONS: Decision[] = [0, 0xfffe].flatMap((start) =>
  [0, 1, 2].flatMap((pushed) =>
    [0, 1, 2, 3, 0x8000, 0xffff].flatMap((flags) =>
      (["at", "behind"] as const).map((usedEvent) => ({ start, pushed, flags, usedEvent }))
    )
  )
);
DECISIONS.push({ start: 0, pushed: 1, flags: 0, usedEvent: "at", broken: true });

function decide(part: Impl["needsInterrupt"], c: Decision) {
  const f = ringFixture({ size: 8, startIdx: c.start, ramSize: 64 * 1024 });
  f.memory.quietly(() => {
    for (let k = 0; k < c.pushed; k++) f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    f.driverQueue.kickPrepare();
    for (let chain = f.deviceQueue.pop(); chain !== null; chain = f.deviceQueue.pop()) {
      f.deviceQueue.push(chain.head, 4);
    }
    f.memory.writeU16(f.addresses.availAddr, c.flags);
    f.memory.writeU16(f.device.usedEventAddr, (c.start - (c.usedEvent === "at" ? 0 : 1)) & 0xffff);
    if (c.broken) breakDeviceRing(f.device, "2.7.6/D1", "broken by the grader", {});
  });
  const before = f.log.entries.length;
  const log = f.memory.record();
  const answer = part(f.device);
  f.memory.record(false);
  return {
    answer,
    signalled: f.device.signalledUsed,
    reported: f.log.entries.slice(before).map((v) => v.id),
    stores: log.filter((a) => a.kind !== "load").length,
  };
}
const decision = ruleFor<Impl, [Decision], ReturnType<typeof decide>>({
  run: (impl, c) => decide(impl.needsInterrupt, c),
  reference: (c) => decide(REF.needsInterrupt, c),
  show: (c) =>
    `needsInterrupt(ring) with ${c.pushed} entr${c.pushed === 1 ? "y" : "ies"} pushed since the ` +
    `last decision (at ${show.ringIdx(c.start)}), avail flags ${show.word(c.flags)}, used_event ` +
    `${c.usedEvent} the first new entry${c.broken ? ", on a broken ring" : ""}`,
  result: (r) =>
    `returned ${r.answer}, signalledUsed ${show.ringIdx(r.signalled)}, reported [${
      r.reported.join(", ")
    }]${r.stores ? `, ${r.stores} store(s)` : ""}`,
}, { cases: every(DECISIONS.map((c) => [c] as [Decision])), hint: 2 });

// ------------------------------------------------------------ handleInterrupt

const interrupt = ruleFor(
  handlerSubject<Impl>((impl) => impl.handleInterrupt, REF.handleInterrupt),
  {
    cases: every(HANDLER_CASES.map((c) => [c] as [HandlerCase])),
    hint: 2,
  },
);
const defined = (c: HandlerCase) => (c.bits & 3) !== 0;
const withUndefined = (c: HandlerCase) => (c.bits & ~3) !== 0;

// ------------------------------------------------------------ disable/enable, drainUsed

/** A driver ring with `waiting` entries returned and not reaped, notifications on or off. */
function callbacks(part: (ring: never) => unknown, start: number, waiting: number, on: boolean) {
  const f = ringFixture({ size: 8, startIdx: start, ramSize: 64 * 1024 });
  f.memory.quietly(() => {
    for (let k = 0; k < 3; k++) f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    f.driverQueue.kickPrepare();
    for (let k = 0; k < waiting; k++) f.deviceQueue.push(f.deviceQueue.pop()!.head, 4);
    if (!on) REF.disableCallbacks(f.driver);
  });
  const log = f.memory.record();
  const answer = part(f.driver as never);
  f.memory.record(false);
  return {
    answer,
    flags: f.memory.quietly(() => f.memory.readU16(f.addresses.availAddr)),
    callbacks: f.driver.callbacks,
    stored: [...new Set(log.filter((a) => a.kind !== "load").map((a) => f.place(a.address)))],
  };
}
const CALLBACK_CASES = every(
  [0, 0xfffe].flatMap((s) => [0, 1, 3].map((w) => [s, w] as [number, number])),
);
const onOff = (name: "disableCallbacks" | "enableCallbacks") =>
  ruleFor<Impl, [number, number], ReturnType<typeof callbacks>>({
    run: (impl, s, w) => callbacks(impl[name], s, w, name === "disableCallbacks"),
    reference: (s, w) => callbacks(REF[name], s, w, name === "disableCallbacks"),
    show: (s, w) =>
      `${name}(ring) with lastUsed ${show.ringIdx(s)} and ${w} entr${
        w === 1 ? "y" : "ies"
      } waiting`,
    verb: "left",
    result: (r) =>
      `avail flags ${show.word(r.flags)}, ring.callbacks ${r.callbacks}, stored into [${
        r.stored.join(", ")
      }]${r.answer === undefined ? "" : `, and returned ${show.value(r.answer)}`}`,
  }, { cases: CALLBACK_CASES, hint: 2 });
const disable = onOff("disableCallbacks");
const enable = onOff("enableCallbacks");

const drains = ruleFor(reapSubject<Impl>((impl) => impl.drainUsed, REF.drainUsed), {
  cases: every(REAP_CASES.map((c) => [c] as [ReapCase])),
  hint: 3,
});

export const grader = defineGrader<Impl>({
  lesson: "interrupts",
  checks: [
    // --------------------------------------------------- device side
    raise({
      name: "an event sets its bit and keeps the bits still pending",
      requirement: "4.2.2.1/3",
      when: (_b, event, status) => (event & 3) !== 0 && (status & DRIVER_OK) !== 0,
      why: "the event's bit ORed into InterruptStatus, nothing cleared, and sent true",
    }),
    raise({
      name: "no bit is ever set that no event defines",
      requirement: "4.2.2.1/4",
      when: (_b, event) => (event & ~3) !== 0 || event === 0,
      why: "bits 2 to 31 of the event dropped: only bit 0 or bit 1 may be set",
    }),
    raise({
      name: "nothing is raised before DRIVER_OK",
      requirement: "2.1.2/1",
      when: (_b, event, status) => (event & 3) !== 0 && (status & DRIVER_OK) === 0,
      why: "InterruptStatus unchanged and sent false while the status lacks DRIVER_OK",
    }),
    ack({
      name: "InterruptACK clears exactly the bits it names",
      requirement: "4.2.2.1/3",
      when: (_b, value) => value <= 3,
      verdict: (r) => r.interruptStatus,
      why: "the acknowledged bits cleared, every other pending bit kept, none set",
    }),
    ack({
      name: "undefined bits in InterruptACK are reported and change nothing",
      requirement: "4.2.2.2/13",
      when: (_b, value) => value > 3,
      verdict: (r) => ({
        status: r.interruptStatus,
        id: r.problem?.id ?? null,
        said: r.problem?.message,
      }),
      agrees: (got, want) =>
        got.status === want.status && got.id === want.id &&
        (want.id === null || (typeof got.said === "string" && got.said.trim() !== "")),
      why: 'only bits 0 and 1 acted on, and a problem { id: "4.2.2.2/13", message } returned',
    }),
    decision({
      name: "a push is notified unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT",
      requirement: "2.7.7.2/1",
      when: (c) => c.pushed > 0 && c.flags <= 1 && !c.broken,
      verdict: (r) => r.answer,
      why: "true with flags 0 and false with flags 1, whatever used_event says",
    }),
    decision({
      name:
        "every decision consumes what was pushed; nothing new, or a broken ring, is not notified",
      requirement: "2.7.7.2/1",
      when: (c) => (c.pushed === 0 || c.flags === 1 || !!c.broken) && c.flags <= 1,
      verdict: (r, c) => ({ answer: r.answer, signalled: c.broken ? "free" : r.signalled }),
      why: "false when nothing was pushed (or the ring is broken), and signalledUsed moved to " +
        "usedIdx by every call that found entries, even a suppressed one",
    }),
    decision({
      name: "avail flags other than 0 and 1 are reported, and bit 0 still decides",
      requirement: "2.7.7.1/1",
      when: (c) => c.pushed > 0 && c.flags > 1,
      verdict: (r) => ({ answer: r.answer, reported: r.reported, stores: r.stores }),
      why: "2.7.7.1/1 reported once, and the decision taken on bit 0 alone",
    }),
    // --------------------------------------------------- driver side
    interrupt({
      name: "handleInterrupt reads InterruptStatus first, and once",
      requirement: "4.2.3.4.1/1",
      verdict: (r) => ({
        first: r.trace[0],
        reads: r.trace.filter((t) => t.startsWith(`read ${show.register(STATUS)}`)).length,
      }),
      why: "one read of InterruptStatus (0x060), before any other access or handler",
    }),
    interrupt({
      name: "the events read are acknowledged at once, before they are handled",
      requirement: "4.2.3.4.1/3",
      when: defined,
      verdict: (r) => ({ acked: r.ackedFirst, late: r.lateAcks }),
      why: "the defined bits read written to InterruptACK before any handler runs, none after",
    }),
    interrupt({
      name: "an event that happens while the handlers run stays pending",
      requirement: "4.2.3.4.1/3",
      when: (c) => c.during !== undefined,
      verdict: (r) => r.pending,
      why: "the bit raised during a handler still set afterwards, so the line rises again",
      note: (got) =>
        got.pending === 0
          ? "xv6-riscv acknowledged after handling until aeaf610 (the case file): events like " +
            "this one were lost, and the disk hung."
          : undefined,
    }),
    interrupt({
      name: "InterruptACK never gets a bit no event defines",
      requirement: "4.2.2.2/13",
      when: withUndefined,
      verdict: (r) => r.acks.map((v) => (v & ~3) >>> 0).filter((v) => v !== 0),
      why: "bits 2 to 31 of InterruptStatus left out of every write to InterruptACK",
    }),
    interrupt({
      name: "undefined InterruptStatus bits are disregarded, and returned as read",
      requirement: "4.2.2.2/12",
      when: withUndefined,
      verdict: (r) => ({ calls: r.calls, result: r.result }),
      why: "no handler for bits 2 to 31, and status returned unsigned, as read",
    }),
    interrupt({
      name: "a spurious interrupt writes nothing and calls nothing",
      requirement: "2.7.7.1/3",
      when: (c) => !defined(c),
      verdict: (r) => ({
        did: r.trace.slice(1).filter((t) => !/^write InterruptACK .* = 0x0$/.test(t)),
        acknowledged: r.result.acknowledged,
      }),
      why: "after the read, no handler and no write (but a harmless 0), and acknowledged 0",
    }),
    interrupt({
      name: "each event is handled once, by its own handler",
      requirement: "4.2.3.4.1/2",
      when: defined,
      verdict: (r) => r.calls,
      why: "configChanged() for bit 1 and usedBuffers() for bit 0, once each",
    }),
    disable({
      name: "disableCallbacks sets VIRTQ_AVAIL_F_NO_INTERRUPT, and nothing else",
      requirement: "2.7.7.1/1",
      verdict: (r) => ({ flags: r.flags, callbacks: r.callbacks, stored: r.stored }),
      why: "avail flags 1, ring.callbacks false, no store but the flags",
    }),
    enable({
      name: "enableCallbacks clears the flag, and nothing else",
      requirement: "2.7.7.1/1",
      verdict: (r) => ({ flags: r.flags, callbacks: r.callbacks, stored: r.stored }),
      why: "avail flags 0, ring.callbacks true, no store but the flags",
      note: (got) =>
        got.flags === 1
          ? "An enable that disables: rcore-os/virtio-drivers 191d9b8 fixed exactly this."
          : undefined,
    }),
    enable({
      name: "enableCallbacks says whether entries are waiting",
      requirement: "2.7.14/D1",
      verdict: (r) => r.answer,
      why: "true when the used idx equals lastUsed, false when entries wait (across the wrap too)",
    }),
    callbackRaceCheck<Impl>({
      step: "enableCallbacks",
      hint: 2,
      eventIdx: [false],
      parts: (impl) => ({ enableCallbacks: impl.enableCallbacks }),
    }),
    drains({
      name: "drainUsed hands every entry to onUsed once, in used ring order",
      requirement: "2.7.14/D1",
      verdict: (r) => ({ delivered: r.delivered, waiting: r.waiting }),
      why: "every entry getBuf returns given to onUsed, the late ones too, none left waiting",
    }),
    drains({
      name: "notifications are off while onUsed runs, and on when drainUsed returns",
      requirement: "2.7.7.1/1",
      verdict: (r) => ({ off: r.offWhileReaping, on: r.onAtEnd }),
      why: "onUsed called between disableCallbacks and enableCallbacks, and flags 0 at the end",
    }),
    callbackRaceCheck<Impl>({
      step: "drainUsed",
      hint: 3,
      eventIdx: [false],
      parts: (impl) => ({ drainUsed: impl.drainUsed }),
      note: "§2.7.14 warns of this gap: notifications missed between emptying the ring and " +
        "turning them back on.",
    }),
    // --------------------------------------------------- both sides, for real
    machineCheck<Impl>({
      id: "interrupts",
      name: "your interrupts run the lab machine",
      requirement: "4.2.3.4.1/3",
      hint: 4,
      expects: "the lab machine, on your seven functions and a strict log, to carry console and " +
        "disk traffic, shrug off an interrupt with nothing pending, and end idle with no " +
        "interrupt pending and nothing left in a used ring",
      lesson,
      timeoutMs: 1500,
      also: (machine) => expectQuietMachine(machine),
    }),
  ],
});
