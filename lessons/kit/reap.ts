/**
 * Reap loops on trial: a driver's drain (`drainUsed`'s signature) against a
 * device that returns chains while the driver reaps, right after chosen
 * calls of `getBuf`, or breaks the queue with an entry it was never given.
 * A case is data ({@linkcode REAP_CASES}); {@linkcode runReap} records what
 * the loop handed to its callback, whether used buffer notifications were
 * off each time it did, and what it left: notifications on or off, entries
 * waiting or not. {@linkcode reapSubject} makes it the subject of rule rows.
 * (`callbackRaceCheck` in `ring_checks.ts` is the other half: a device that
 * returns a chain right after each read of the used `idx`.)
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { UsedBuffer } from "../../virtqueue/types.ts";
import type { UsedBufferSource } from "../../virtqueue/driver/drain.ts";
import { readBudget } from "./budget.ts";
import { ringIdx } from "./format.ts";
import { ringFixture } from "./ring.ts";
import type { Subject } from "./rules.ts";

/** A reap loop: `drainUsed`'s signature. */
export type ReapPart = (
  queue: UsedBufferSource<string>,
  onUsed: (used: UsedBuffer<string>) => void,
) => void;

/** One drain, as data. */
export interface ReapCase {
  /** The 16-bit index the ring starts at. */
  readonly start: number;
  /** Entries returned and waiting when the drain starts. */
  readonly waiting: number;
  /** After these calls of `getBuf` (counted from 1), the device returns one more chain. */
  readonly late: readonly number[];
  /** Whether, after the waiting entries, the device writes one with an id it was never given. */
  readonly hostile?: boolean;
}

/** The cases, on an 8-entry ring: nothing, entries waiting, late ones, and a hostile one. */
export const REAP_CASES: readonly ReapCase[] = Object.freeze([
  { start: 0, waiting: 0, late: [] },
  { start: 0, waiting: 2, late: [] },
  { start: 0xfffe, waiting: 3, late: [1] },
  { start: 0xfffe, waiting: 1, late: [2] },
  { start: 0, waiting: 2, late: [3, 5] },
  { start: 0xfffd, waiting: 0, late: [1, 2, 3] },
  { start: 0, waiting: 2, late: [], hostile: true },
]);

/** What a reap loop did with one case. */
export interface ReapRun {
  /** The tokens handed to the callback, in order. */
  readonly delivered: readonly string[];
  /** Whether notifications were off every time the callback ran. */
  readonly offWhileReaping: boolean;
  /** Whether notifications were on when the loop returned. */
  readonly onAtEnd: boolean;
  /** Whether entries were left waiting on a healthy queue. */
  readonly waiting: boolean;
}

/**
 * Runs a reap loop on one case, over a fixture's driver half (reference
 * parts) on an 8-entry ring, under a read budget (a loop that never ends
 * throws `RunawayReadsError` out of here). Each late chain is returned, and
 * the device's interrupt decision taken, right after the `getBuf` call it
 * follows, before the loop sees that call's result.
 *
 * @param part The reap loop.
 * @param c The case.
 * @returns What it did.
 */
export function runReap(part: ReapPart, c: ReapCase): ReapRun {
  const f = ringFixture({ size: 8, startIdx: c.start, ramSize: 64 * 1024 });
  const held = f.memory.quietly(() => {
    for (let k = 0; k <= c.waiting + c.late.length; k++) {
      f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    }
    f.driverQueue.kickPrepare();
    const heads: number[] = [];
    for (let chain = f.deviceQueue.pop(); chain !== null; chain = f.deviceQueue.pop()) {
      heads.push(chain.head);
    }
    for (const head of heads.splice(0, c.waiting)) f.deviceQueue.push(head, 4);
    if (c.hostile) f.completeUsed({ id: 7, len: 0 }); // descriptor 7 heads no chain
    return heads;
  });
  const off = () =>
    !f.driver.callbacks &&
    (f.eventIdx || f.memory.quietly(() => f.memory.readU16(f.addresses.availAddr)) === 1);
  const budget = readBudget(f.memory, 4096, { doing: "draining the used ring", place: f.place });
  const delivered: string[] = [];
  let offWhileReaping = true;
  let calls = 0;
  try {
    part({
      getBuf() {
        const used = f.driverQueue.getBuf();
        if (c.late.includes(++calls)) {
          f.memory.quietly(() => {
            f.deviceQueue.push(held.shift()!, 4);
            f.deviceQueue.needsInterrupt();
          });
        }
        return used;
      },
      disableCallbacks: () => f.driverQueue.disableCallbacks(),
      enableCallbacks: () => f.driverQueue.enableCallbacks(),
    }, (used) => {
      delivered.push(used.token);
      offWhileReaping &&= off();
    });
  } finally {
    budget.stop();
  }
  return {
    delivered,
    offWhileReaping,
    onAtEnd: f.driver.callbacks && !off(),
    waiting: f.driverQueue.broken === null && f.usedIdx() !== f.driver.lastUsed,
  };
}

/**
 * The subject of reap loop rows: the learner's loop against the reference
 * one, on {@linkcode REAP_CASES}.
 *
 * @param learner The learner's loop, from their module.
 * @param reference The reference loop.
 */
export function reapSubject<I>(
  learner: (impl: I) => ReapPart,
  reference: ReapPart,
): Subject<I, [ReapCase], ReapRun> {
  return {
    run: (impl, c) => runReap(learner(impl), c),
    reference: (c) => runReap(reference, c),
    show: (c) =>
      `drainUsed(queue, onUsed) with ${c.waiting} entr${c.waiting === 1 ? "y" : "ies"} ` +
      `waiting at ${ringIdx(c.start)}${
        c.late.length
          ? `, the device returning one more after getBuf call ${c.late.join(", ")}`
          : ""
      }${c.hostile ? ", then a used id the driver never posted" : ""}`,
    result: (r) =>
      `onUsed got [${r.delivered.join(", ")}]${
        r.offWhileReaping ? "" : " (notifications on meanwhile)"
      }; notifications ${r.onAtEnd ? "on" : "off"} at the end${
        r.waiting ? ", entries still waiting" : ""
      }`,
  };
}
