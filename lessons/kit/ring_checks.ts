/**
 * The concurrent observers of `observer.ts` as grader checks, on an ordinary
 * workload: {@linkcode ringScenario} (a seeded run of adds, publishes,
 * out-of-order completions and reaps), {@linkcode storeOrderCheck} (the
 * learner's driver or device half under the observer of the other side,
 * 2.7.13.3.1/1 or 2.7.8.2/1) and {@linkcode kickRaceCheck} (the learner's
 * driver half against a device re-enabling notifications at the worst
 * moment, 2.7.13.4.1/1) and {@linkcode reenableRaceCheck} (the learner's
 * device half re-enabling while a driver publishes at the worst moment,
 * 2.7.10/D1) and {@linkcode callbackRaceCheck} (the learner's driver half
 * turning used buffer notifications back on while the device returns a chain
 * at the worst moment, 2.7.14/D1). A grader's store-order check is one of
 * these, a few lines long.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { type Check, fail } from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import type { SplitRingDeviceParts, SplitRingDriverParts } from "../../virtqueue/parts.ts";
import { ringIdx, violation as showViolation } from "./format.ts";
import {
  callbackRace,
  notificationRace,
  observeDevice,
  observeDriver,
  reenableRace,
} from "./observer.ts";
import { readBudget } from "./budget.ts";
import { type RingFixture, ringFixture, type RingFixtureOptions } from "./ring.ts";
import { attempt, thrown } from "./rules.ts";

/** Options of {@linkcode ringScenario}. */
export interface RingScenarioOptions {
  /** Rounds to run (default 40). */
  readonly rounds?: number;
  /** Seed of the pseudo-random choices (default 7): the same seed, the same scenario. */
  readonly seed?: number;
  /** Runs one step of the observed side (`observer.during`); other steps run as they are. */
  readonly during?: <R>(step: () => R) => R;
  /** Which side's steps go through `during` (default `"driver"`). */
  readonly watch?: "driver" | "device";
}

/**
 * A long, ordinary workload on a fixture: each round the driver adds one to
 * three chains of one to three buffers (readable first) and publishes them,
 * the device takes every chain available and completes about half of what
 * it holds, in a shuffled order, and the driver reaps everything returned.
 * Choices are pseudo-random from `seed`, so a failing round is reproducible.
 *
 * @param f The fixture (any token type: tokens are round-robin numbers).
 * @param options Rounds, seed, and which side runs inside `during`.
 * @returns How many chains the driver posted.
 */
export function ringScenario<T>(f: RingFixture<T>, options: RingScenarioOptions = {}): number {
  let x = (options.seed ?? 7) >>> 0 || 1;
  const r = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  const during = options.during ?? (<R>(step: () => R) => step());
  const plain = <R>(step: () => R) => step();
  const watch = options.watch ?? "driver";
  const driverStep = watch === "driver" ? during : plain;
  const deviceStep = watch === "device" ? during : plain;
  const held: number[] = [];
  let posted = 0;
  for (let round = 0; round < (options.rounds ?? 40); round++) {
    driverStep(() => {
      for (let k = 1 + r(3); k > 0 && f.driver.numFree >= 3; k--) {
        const n = 1 + r(3);
        const readable = Array.from({ length: r(n + 1) }, () => f.buffer(16 + r(64)));
        const writable = Array.from({ length: n - readable.length }, () => f.buffer(1 + r(512)));
        f.driverQueue.add(readable, writable, posted++ as T);
      }
      f.driverQueue.kickPrepare();
    });
    deviceStep(() => {
      for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) held.push(c.head);
      for (let k = held.length; k > 0; k--) {
        if (r(2) === 0) continue;
        const [head] = held.splice(r(held.length), 1);
        f.deviceQueue.push(head, Math.min(f.device.writable[head], r(600)));
      }
      f.deviceQueue.needsInterrupt();
    });
    driverStep(() => {
      for (let n = 0; n <= f.size && f.driverQueue.getBuf() !== null; n++) { /* reap */ }
    });
  }
  return posted;
}

/** The rings a store-order check runs its scenario on, unless it names its own. */
export const ORDER_CHECK_RINGS: readonly RingFixtureOptions[] = Object.freeze([
  { size: 8, startIdx: 0xfff0 },
  { size: 4, startIdx: 0xfffe, eventIdx: true },
  { size: 16, startIdx: 0x7ff8, indirect: true },
]);

/** What {@linkcode storeOrderCheck} takes. */
export type StoreOrderCheckOptions<I> =
  & {
    /** The check's name (default: what the rule asks). */
    readonly name?: string;
    /** The hint that helps. */
    readonly hint: number;
    /** What the spec requires, in words (default: the rule's wording here). */
    readonly expects?: string;
    /** An extra line for a failure (the real bug behind it). */
    readonly note?: string;
    /** The rings to run the scenario on (default {@linkcode ORDER_CHECK_RINGS}). */
    readonly rings?: readonly RingFixtureOptions[];
  }
  & (
    | {
      /** The driver half is the learner's: 2.7.13.3.1/1. */
      readonly side: "driver";
      /** The learner's driver-side parts. */
      readonly parts: (impl: I) => Partial<SplitRingDriverParts>;
    }
    | {
      /** The device half is the learner's: 2.7.8.2/1. */
      readonly side: "device";
      /** The learner's device-side parts. */
      readonly parts: (impl: I) => Partial<SplitRingDeviceParts>;
    }
  );

/**
 * A check that runs {@linkcode ringScenario} with the learner's parts on one
 * side, under the concurrent observer of the other, on each of `rings`: the
 * driver's side must store every chain before the `idx` that publishes it
 * (2.7.13.3.1/1), the device's every used element before the used `idx`
 * (2.7.8.2/1). It fails with the first finding, or the first rule the
 * reference half of the other side saw broken, or what the learner's code
 * threw (a stub's `todo()` passes through).
 *
 * @param options Side, parts, name, hint.
 * @returns The check.
 */
export function storeOrderCheck<I>(options: StoreOrderCheckOptions<I>): Check<I> {
  const driverSide = options.side === "driver";
  const requirement: RequirementId = driverSide ? "2.7.13.3.1/1" : "2.7.8.2/1";
  const expects = options.expects ??
    (driverSide
      ? "every store of a chain (its descriptors, its available slot) to come before the " +
        "available idx store that publishes it"
      : "every used element (id and len) to be stored before the used idx store that returns it");
  return {
    name: options.name ??
      (driverSide
        ? "a chain is complete in memory before idx publishes it"
        : "a used element is complete in memory before the used idx moves"),
    requirement,
    hint: options.hint,
    expects,
    run(impl: I) {
      for (const ring of options.rings ?? ORDER_CHECK_RINGS) {
        const f = ringFixture<number>({
          ...ring,
          ...(options.side === "driver"
            ? { driver: options.parts(impl) }
            : { device: options.parts(impl) }),
        });
        const observer = driverSide ? observeDriver(f) : observeDevice(f);
        const where = `on a ring of ${f.size} starting at ${ringIdx(f.startIdx)}` +
          `${f.eventIdx ? " with VIRTIO_F_EVENT_IDX" : ""}${
            f.indirect ? " with VIRTIO_F_INDIRECT_DESC" : ""
          }`;
        const outcome = attempt(() =>
          ringScenario(f, { during: observer.during, watch: options.side })
        );
        const finding = observer.finish()[0];
        if (finding) {
          fail({
            observed: `${where}, ${finding.message}`,
            expected: expects,
            requirement: finding.id,
            note: options.note,
          });
        }
        if ("threw" in outcome) {
          fail({
            observed: `${where}, your code threw ${thrown(outcome.threw)}`,
            expected: expects,
          });
        }
        const broken = f.log.entries[0];
        if (broken) {
          fail({
            observed: `${where}, the other half reported ${showViolation(broken)}`,
            expected: expects,
            requirement: broken.id,
          });
        }
      }
    },
  };
}

/** What {@linkcode kickRaceCheck} takes. */
export interface KickRaceCheckOptions<I> {
  /** The check's name (default: what the rule asks). */
  readonly name?: string;
  /** The hint that helps. */
  readonly hint: number;
  /** The learner's driver-side parts. */
  readonly parts: (impl: I) => Partial<SplitRingDriverParts>;
  /** An extra line for a failure. */
  readonly note?: string;
}

/**
 * A check that puts the learner's driver half through
 * {@linkcode notificationRace} round after round (one to three chains
 * published each time), without and with `VIRTIO_F_EVENT_IDX`, across the
 * 16-bit wrap: no notification may be lost (2.7.13.4.1/1).
 *
 * @param options Parts, name, hint.
 * @returns The check.
 */
export function kickRaceCheck<I>(options: KickRaceCheckOptions<I>): Check<I> {
  const expects = "the driver to read used.flags (or avail_event) only after storing the new " +
    "available idx, so that a device re-enabling notifications meanwhile is notified";
  return {
    name: options.name ?? "no notification is lost to a device re-enabling them",
    requirement: "2.7.13.4.1/1",
    hint: options.hint,
    expects,
    run(impl: I) {
      for (const eventIdx of [false, true]) {
        const f = ringFixture<number>({
          size: 8,
          startIdx: 0xfffd,
          eventIdx,
          driver: options.parts(impl),
        });
        for (let round = 0; round < 6; round++) {
          const outcome = attempt(() => {
            for (let k = 0; k <= round % 3; k++) f.driverQueue.add([], [f.buffer(64)], round);
            return notificationRace(f).run(() => f.driverQueue.kickPrepare());
          });
          const where = `round ${round + 1} on a ring starting at ${ringIdx(0xfffd)}${
            eventIdx ? " with VIRTIO_F_EVENT_IDX" : ""
          }`;
          if ("threw" in outcome) {
            fail({
              observed: `${where}: your code threw ${thrown(outcome.threw)}`,
              expected: expects,
            });
          }
          const finding = outcome.returned.finding;
          if (finding) {
            fail({
              observed: `${where}: ${finding.message}`,
              expected: expects,
              requirement: finding.id,
              note: options.note,
            });
          }
          f.memory.quietly(() => {
            for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
              f.deviceQueue.push(c.head, 0);
            }
          });
          attempt(() => {
            for (let n = 0; n <= f.size && f.driverQueue.getBuf() !== null; n++) { /* reap */ }
          });
        }
      }
    },
  };
}

/** What {@linkcode reenableRaceCheck} takes. */
export interface ReenableRaceCheckOptions<I> {
  /** The check's name (default: what the rule asks). */
  readonly name?: string;
  /** The hint that helps. */
  readonly hint: number;
  /** The learner's device-side parts (their `enableNotifications`, at least). */
  readonly parts: (impl: I) => Partial<SplitRingDeviceParts>;
  /** An extra line for a failure. */
  readonly note?: string;
}

/**
 * A check that puts the learner's device half through {@linkcode reenableRace}
 * round after round (one to three chains published at the re-enabling store
 * each time), without and with `VIRTIO_F_EVENT_IDX`, across the 16-bit wrap:
 * no chain may be left waiting for a notification (2.7.10/D1), and the
 * re-enabling step must store into the suppression field at all.
 *
 * @param options Parts, name, hint.
 * @returns The check.
 */
export function reenableRaceCheck<I>(options: ReenableRaceCheckOptions<I>): Check<I> {
  const expects = "the device to read the available idx only after its store that turns " +
    "notifications back on (used flags, or avail_event), and to say it found the chains there";
  return {
    name: options.name ?? "no chain is stranded by a driver publishing as the device re-enables",
    requirement: "2.7.10/D1",
    hint: options.hint,
    expects,
    run(impl: I) {
      for (const eventIdx of [false, true]) {
        const f = ringFixture<number>({
          size: 8,
          startIdx: 0xfffd,
          eventIdx,
          device: options.parts(impl),
        });
        for (let round = 0; round < 6; round++) {
          const where = `round ${round + 1} on a ring starting at ${ringIdx(0xfffd)}${
            eventIdx ? " with VIRTIO_F_EVENT_IDX" : ""
          }`;
          const outcome = attempt(() => {
            f.memory.quietly(() => {
              for (let k = 0; k <= round % 3; k++) f.driverQueue.add([], [f.buffer(64)], round);
            });
            return reenableRace(f).run(() => f.deviceQueue.enableNotifications());
          });
          if ("threw" in outcome) {
            fail({
              observed: `${where}: your code threw ${thrown(outcome.threw)}`,
              expected: expects,
            });
          }
          const { finding, stored } = outcome.returned;
          if (finding) {
            fail({
              observed: `${where}: ${finding.message}`,
              expected: expects,
              requirement: finding.id,
              note: options.note,
            });
          }
          if (!stored) {
            fail({
              observed: `${where}: enableNotifications stored nothing into ${
                eventIdx ? "avail_event" : "the used ring's flags"
              }, so notifications stayed off`,
              expected: expects,
            });
          }
          f.memory.quietly(() => {
            for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
              f.deviceQueue.push(c.head, 0);
            }
            for (let n = 0; n <= f.size && f.driverQueue.getBuf() !== null; n++) { /* reap */ }
          });
        }
      }
    },
  };
}

/** What {@linkcode callbackRaceCheck} takes. */
export interface CallbackRaceCheckOptions<I> {
  /** The check's name (default: what the rule asks). */
  readonly name?: string;
  /** The hint that helps. */
  readonly hint: number;
  /** The learner's driver-side parts. */
  readonly parts: (impl: I) => Partial<SplitRingDriverParts>;
  /**
   * The driver step that races: `"enableCallbacks"` (the queue's
   * `enableCallbacks` after its `disableCallbacks`, its answer taken as
   * whether the driver is done) or `"drainUsed"` (the whole reap loop,
   * `drainUsed`, done when it returns).
   */
  readonly step: "enableCallbacks" | "drainUsed";
  /** With and without `VIRTIO_F_EVENT_IDX` (default `[false, true]`). */
  readonly eventIdx?: readonly boolean[];
  /** An extra line for a failure (the real bug behind it). */
  readonly note?: string;
}

/** Entries returned before the step, and chains the device still holds, per round. */
const CALLBACK_RACE_ROUNDS: readonly (readonly [returned: number, held: number])[] = [
  [0, 1],
  [1, 1],
  [2, 2],
  [0, 3],
];

/**
 * A check that puts the learner's driver half through
 * {@linkcode callbackRace}: on a ring starting at 0xfffd, with none, one or
 * two used entries waiting, the device returns a chain before the step and
 * then right after each of the driver's reads of the used `idx`, one moment
 * per run, until the step no longer reads that often. No used entry may be
 * left unreaped and unannounced when the driver says it is done (2.7.14/D1).
 * Every run is under a read budget, so a reap loop that never ends fails
 * with a message instead of hanging.
 *
 * @param options Parts, step, features, name, hint.
 * @returns The check.
 */
export function callbackRaceCheck<I>(options: CallbackRaceCheckOptions<I>): Check<I> {
  const drain = options.step === "drainUsed";
  const expects = drain
    ? "the reap loop to turn used buffer notifications back on and look at the used idx once " +
      "more, going round again while entries arrived, so that none is left unreaped and unannounced"
    : "enableCallbacks to store the suppression field first and read the used idx after it, " +
      "returning false when an entry is waiting";
  return {
    name: options.name ??
      (drain
        ? "no used buffer is stranded by the reap loop"
        : "no used buffer is stranded when notifications come back on"),
    requirement: "2.7.14/D1",
    hint: options.hint,
    expects,
    run(impl: I) {
      for (const eventIdx of options.eventIdx ?? [false, true]) {
        for (const [returned, held] of CALLBACK_RACE_ROUNDS) {
          for (let at = 0; at < 64; at++) {
            const f = ringFixture<number>({
              size: 8,
              startIdx: 0xfffd,
              eventIdx,
              driver: options.parts(impl),
            });
            const where = `with ${returned} entr${returned === 1 ? "y" : "ies"} waiting and ` +
              `${held} chain(s) held by the device, on a ring starting at ${ringIdx(0xfffd)}` +
              `${eventIdx ? " with VIRTIO_F_EVENT_IDX" : ""}`;
            f.memory.quietly(() => {
              for (let k = 0; k < returned + held; k++) f.driverQueue.add([], [f.buffer(64)], k);
              f.driverQueue.kickPrepare();
              for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop()) {
                if (f.device.inFlight > held) f.deviceQueue.push(c.head, 8);
              }
            });
            const budget = readBudget(f.memory, 4096, {
              doing: drain ? "draining the used ring" : "turning notifications back on",
              place: f.place,
            });
            const outcome = attempt(() => {
              if (!drain) f.driverQueue.disableCallbacks();
              return callbackRace(f, { at }).run(() => {
                if (!drain) return f.driverQueue.enableCallbacks();
                f.driverQueue.drainUsed(() => {});
                return true;
              });
            });
            budget.stop();
            if ("threw" in outcome) {
              fail({
                observed: `${where}, your code threw ${thrown(outcome.threw)}`,
                expected: expects,
              });
            }
            const race = outcome.returned;
            if (race.finding) {
              fail({
                observed: `${where}: ${race.finding.message}`,
                expected: expects,
                requirement: race.finding.id,
                note: options.note,
              });
            }
            const broken = f.log.entries[0];
            if (broken) {
              fail({
                observed: `${where}, the device half reported ${showViolation(broken)}`,
                expected: expects,
                requirement: broken.id,
              });
            }
            if (at > 0 && race.idxLoads < at) break;
          }
        }
      }
    },
  };
}
