/**
 * Round trips against peers that notify only as asked: one ring, a driver
 * that sleeps until the device interrupts it and a device that sleeps until
 * the driver kicks it, each deciding from the other's suppression fields and
 * nothing else. A side that forgets to move `used_event` or `avail_event`
 * (or moves it wrong, or decides wrong from it) then does not slow the ring
 * down, it stops it: chains wait for a kick that never comes, or used
 * entries for an interrupt. {@linkcode roundTrips} finds that moment, the
 * quiet ring with work left, and says which notification was missing, with
 * the indices and the field that decided it.
 *
 * The schedule is seeded: how many chains the driver publishes at once, how
 * many the device takes before it returns some, in which order it returns
 * them, whether it asks for no kicks while it drains, and whether the driver
 * reaps with notifications on (a `getBuf` loop) or off (`drainUsed`). Every
 * step of both sides runs through the fixture's queue objects, so the
 * learner's parts (merged into the fixture) run where the reference's would.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { Violation } from "../../conformance/log.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { type Check, fail } from "../../course/grader.ts";
import type { SplitRingDeviceParts, SplitRingDriverParts } from "../../virtqueue/parts.ts";
import { vringNeedEvent } from "../../virtqueue/event_idx.ts";
import { VIRTQ_AVAIL_FLAGS_OFFSET, VIRTQ_USED_FLAGS_OFFSET } from "../../virtqueue/layout.ts";
import { readBudget } from "./budget.ts";
import { ringIdx, violation as showViolation } from "./format.ts";
import { ringFixture, type RingFixtureOptions } from "./ring.ts";
import { attempt, thrown } from "./rules.ts";

/** A schedule of round trips. */
export interface RoundTripOptions extends RingFixtureOptions {
  /** Chains to complete (default 400). */
  readonly trips?: number;
  /** Seed of the schedule (default 1). */
  readonly seed?: number;
}

/** Which notification never came. */
export interface Stall {
  /** `"kick"`: chains wait in the available ring, the device asleep; `"interrupt"`: used entries wait, the driver asleep. */
  readonly missing: "kick" | "interrupt";
  /** What the ring looks like, in words, with the field that decided. */
  readonly message: string;
}

/** What a schedule did. */
export interface RoundTripRun {
  /** Chains the driver got back. */
  readonly completed: number;
  /** Available buffer notifications the driver sent. */
  readonly kicks: number;
  /** Used buffer notifications the device sent. */
  readonly interrupts: number;
  /** The ring stopped with work left, or `null`. */
  readonly stall: Stall | null;
  /** What either side's code threw (a `todo()`, a `TypeError`, a runaway loop), or `null`. */
  readonly threw: { readonly error: unknown } | null;
  /** Rules either side reported. */
  readonly violations: readonly Violation[];
}

/** mulberry32: a small seeded generator, so every run of a schedule is the same. */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Runs `trips` round trips on one ring (default size 8, event idx on, from
 * index 0xfff0 so the schedule crosses the 16-bit wrap), driver and device
 * notifying only as the other side's fields ask, until every chain is back,
 * the ring stalls, or either side throws. Every load is under a read budget
 * (20,000 per step), so a loop that never ends is a throw, not a hang.
 *
 * @param options The ring (the learner's parts in `driver` or `device`) and the schedule.
 * @returns Counts, and the stall or the error if there was one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundTrips } from "./round_trips.ts";
 *
 * const good = roundTrips({ trips: 200 });
 * assert.equal(good.stall, null);
 * assert.equal(good.completed, 200);
 * assert.ok(good.interrupts < good.completed); // batches are announced once
 *
 * // A driver that never moves used_event (rcore-os/virtio-drivers before PR #121).
 * const stuck = roundTrips({ trips: 200, driver: { updateUsedEvent: () => {} } });
 * assert.equal(stuck.stall?.missing, "interrupt");
 * ```
 */
export function roundTrips(options: RoundTripOptions = {}): RoundTripRun {
  const { trips = 400, seed = 1, ...ring } = options;
  const f = ringFixture<number>({
    size: 8,
    startIdx: 0xfff0,
    eventIdx: true,
    ramSize: 64 * 1024,
    ...ring,
  });
  const rand = random(seed);
  const { driverQueue: drv, deviceQueue: dev, memory } = f;
  let kicks = 0, interrupts = 0, completed = 0, posted = 0;
  let awake = false, interrupted = false, suppressing = false;
  const held: { head: number; len: number }[] = [];
  const budget = readBudget(memory, 20_000, { doing: "a round trip", place: f.place });
  const step = <R>(fn: () => R): R => {
    budget.reset();
    return fn();
  };
  const reaped = () => void completed++;
  // Buffers are reused round the ring: nobody looks at their bytes here.
  const buffers = Array.from({ length: f.size }, () => f.buffer(16));

  const outcome = attempt((): Stall | null => {
    for (let turn = 0; completed < trips; turn++) {
      if (turn > trips * 40) throw new Error(`No end after ${turn} turns of the schedule`);
      // The driver publishes a batch when it has room, and kicks if asked.
      const batch = Math.min(1 + rand(3), f.driver.numFree, trips - posted);
      if (batch > 0 && (rand(4) > 0 || (!awake && held.length === 0 && !interrupted))) {
        for (let k = 0; k < batch; k++) drv.add([], [buffers[posted % f.size]], posted++);
        if (step(() => drv.kickPrepare())) {
          kicks++;
          awake = true;
        }
      }
      // A kicked device takes chains, some or all, with or without suppression.
      if (awake) {
        if (!suppressing && rand(3) === 0) {
          suppressing = true;
          step(() => dev.disableNotifications());
        }
        for (let take = 1 + rand(f.size); take > 0; take--) {
          const chain = step(() => dev.pop());
          if (chain !== null) {
            held.push({ head: chain.head, len: rand(chain.writableLength + 1) });
            continue;
          }
          if (suppressing) {
            suppressing = false;
            if (step(() => dev.enableNotifications())) continue;
          }
          awake = false;
          break;
        }
      }
      // It returns some of what it holds, in any order, and interrupts if asked.
      if (held.length > 0 && rand(3) > 0) {
        for (let give = 1 + rand(held.length); give > 0; give--) {
          const [{ head, len }] = held.splice(rand(held.length), 1);
          step(() => dev.push(head, len));
        }
        if (step(() => dev.needsInterrupt())) {
          interrupts++;
          interrupted = true;
        }
      }
      // An interrupted driver reaps: notifications off (drainUsed) or left on.
      if (interrupted && rand(2) === 0) {
        interrupted = false;
        if (rand(2) === 0) step(() => drv.drainUsed(reaped));
        else step(() => void (drv.getBuf() !== null && reaped()));
        step(() => {
          for (let n = 0; n <= f.size && drv.getBuf() !== null; n++) reaped();
        });
      }
      if (f.broken.length > 0) return null;
      const quiet = !awake && !interrupted && held.length === 0 &&
        (f.driver.numFree === 0 || posted === trips);
      if (quiet && completed < trips) return stall(f);
    }
    return null;
  });
  budget.stop();
  return {
    completed,
    kicks,
    interrupts,
    stall: "returned" in outcome ? outcome.returned : null,
    threw: "threw" in outcome ? { error: outcome.threw } : null,
    violations: f.log.entries,
  };
}

/** The quiet ring in words: what waits, and the field that said no. */
function stall(f: ReturnType<typeof ringFixture<number>>): Stall {
  return f.memory.quietly(() => {
    const m = f.memory;
    const availIdx = f.availIdx(), lastAvail = f.device.lastAvail;
    const usedIdx = f.usedIdx(), lastUsed = f.driver.lastUsed;
    const x = (i: number) => ringIdx(i);
    if (availIdx !== lastAvail) {
      const event = m.readU16(f.driver.availEventAddr);
      const flags = m.readU16(f.addresses.usedAddr + VIRTQ_USED_FLAGS_OFFSET);
      return {
        missing: "kick",
        message: `the driver published up to avail idx ${x(availIdx)} and the device, asleep, ` +
          `took only up to ${x(lastAvail)}: no kick came for the ${
            (availIdx - lastAvail) & 0xffff
          } chain(s) waiting, ` + (f.eventIdx
            ? `avail_event being ${x(event)}, ${
              vringNeedEvent(event, availIdx, lastAvail) ? "inside" : "outside"
            } what was published since`
            : `used flags being 0x${flags.toString(16)}`),
      };
    }
    const event = m.readU16(f.driver.usedEventAddr);
    const flags = m.readU16(f.addresses.availAddr + VIRTQ_AVAIL_FLAGS_OFFSET);
    return {
      missing: "interrupt",
      message: `the device returned up to used idx ${x(usedIdx)} and the driver, asleep, ` +
        `reaped only up to ${x(lastUsed)}: no interrupt came for the ${
          (usedIdx - lastUsed) & 0xffff
        } entr${((usedIdx - lastUsed) & 0xffff) === 1 ? "y" : "ies"} waiting, ` +
        (f.eventIdx
          ? `used_event being ${x(event)}, ${
            vringNeedEvent(event, usedIdx, lastUsed) ? "inside" : "outside"
          } what was returned since`
          : `avail flags being 0x${flags.toString(16)}`),
    };
  });
}

/** The schedules {@linkcode roundTripCheck} runs: sizes 2 to 16, all crossing the 16-bit wrap. */
export const ROUND_TRIP_SCHEDULES: readonly Required<
  Pick<RoundTripOptions, "seed" | "startIdx" | "size">
>[] = Object.freeze([
  { seed: 1, startIdx: 0xfff0, size: 8 },
  { seed: 2, startIdx: 0xffe8, size: 4 },
  { seed: 3, startIdx: 0xffc0, size: 16 },
  { seed: 4, startIdx: 0xfff8, size: 2 },
]);

/** What {@linkcode roundTripCheck} takes. */
export interface RoundTripCheckOptions<I> {
  /** Which half is the learner's: the other is the library's, notifying only as asked. */
  readonly side: "driver" | "device";
  /** The hint that helps. */
  readonly hint: number;
  /** The learner's parts, for that half. */
  readonly parts: (impl: I) => {
    readonly driver?: Partial<SplitRingDriverParts>;
    readonly device?: Partial<SplitRingDeviceParts>;
  };
  /** Round trips per schedule (default 300). */
  readonly trips?: number;
  /** An extra line for a stall (the real bug behind it). */
  readonly note?: string;
}

/**
 * A check that runs {@linkcode roundTrips} with one half on the learner's
 * parts, over {@linkcode ROUND_TRIP_SCHEDULES}, each compared with the same
 * schedule on the library's parts. It fails on the first schedule where the
 * learner's code threw, the other half reported a rule, the ring stopped
 * with work left (citing 2.7.7/D1 for the driver half; 2.7.10/D2 for a
 * missing kick and 2.7.7.2/2 for a missing interrupt on the device half),
 * or the number of kicks or interrupts differs from the library's: the
 * peers notify only as asked, so a right answer asks exactly as often.
 *
 * @param options The side, the learner's parts, the hint.
 * @returns The check.
 */
export function roundTripCheck<I>(options: RoundTripCheckOptions<I>): Check<I> {
  const { side, trips = 300 } = options;
  const expected = side === "driver"
    ? "every chain back, with the device interrupting only where used_event asks: after each " +
      "reap used_event names the next entry not reaped, while notifications are on"
    : "every chain back, with the driver kicking only where avail_event asks and the driver " +
      "interrupted exactly where used_event asks";
  return {
    name: side === "driver"
      ? "your driver half runs round trips across the wrap, interrupted only as it asks"
      : "your device half runs round trips across the wrap, kicked only as it asks",
    requirement: side === "driver" ? "2.7.7/D1" : "2.7.10/D2",
    hint: options.hint,
    expects: expected,
    run(impl: I) {
      const parts = options.parts(impl);
      for (const s of ROUND_TRIP_SCHEDULES) {
        const where = `in ${trips} round trips on a ${s.size}-entry ring from ` +
          `${ringIdx(s.startIdx)} (schedule ${s.seed})`;
        const got = roundTrips({ ...s, trips, ...parts });
        if (got.threw) {
          fail({ observed: `${where}, your code threw ${thrown(got.threw.error)}`, expected });
        }
        const broke = got.violations[0];
        if (broke) {
          fail({
            observed: `${where}, the other half reported ${showViolation(broke)}`,
            expected,
            requirement: broke.id,
          });
        }
        if (got.stall) {
          const id: RequirementId = side === "driver"
            ? "2.7.7/D1"
            : got.stall.missing === "kick"
            ? "2.7.10/D2"
            : "2.7.7.2/2";
          fail({
            observed: `${where}, the ring stopped after ${got.completed} of them: ` +
              got.stall.message,
            expected,
            requirement: id,
            note: options.note,
          });
        }
        const want = roundTrips({ ...s, trips });
        if (got.kicks !== want.kicks || got.interrupts !== want.interrupts) {
          fail({
            observed: `${where}, the device interrupted ${got.interrupts} time(s) and the ` +
              `driver kicked ${got.kicks} time(s), where the same schedule on the library's ` +
              `parts takes ${want.interrupts} and ${want.kicks}`,
            expected: `${expected}, so exactly as many notifications as asked for`,
            requirement: side === "driver"
              ? "2.7.7.1/2"
              : got.interrupts !== want.interrupts
              ? "2.7.7.2/2"
              : "2.7.10.2/2",
          });
        }
      }
    },
  };
}
