/**
 * One part of a ring, run on a fixture the way a grader observes it: the
 * other side's moves made with the reference parts and unobserved
 * ({@linkcode publishChains}, {@linkcode drainRing}), then the part under
 * test run once ({@linkcode runOnRing}), with what it returned or threw, the
 * rules it reported, and the stores it made outside the fields it may write.
 *
 * For parts whose contract is a decision on ring state plus a few field
 * stores: the kick decision, notification and callback suppression, the
 * interrupt decision. A grader builds a fresh {@linkcode ringFixture} per
 * case (at the 16-bit wrap, with or without `VIRTIO_F_EVENT_IDX`), moves the
 * other side into the state the case needs, and compares the learner's
 * {@linkcode RingRun} with the reference's.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import type { RequirementId } from "../../conformance/requirements.ts";
import { REFERENCE_SPLIT_RING_DRIVER_PARTS } from "../../virtqueue/parts.ts";
import { outcome as showOutcome } from "./format.ts";
import type { RingFixture } from "./ring.ts";
import { attempt, type Outcome } from "./rules.ts";

/**
 * The driver places `n` chains of one 16-byte device-writable buffer each and
 * publishes them, with the reference parts and unobserved (a notification
 * decision is not taken).
 *
 * @param f The fixture.
 * @param n How many chains (the descriptors must be free).
 * @returns The available `idx` before the publish.
 * @throws {VirtqueueFullError} If the ring has no room for them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { publishChains } from "./ring_steps.ts";
 *
 * const f = ringFixture({ startIdx: 0xffff });
 * assert.equal(publishChains(f, 2), 0xffff);
 * assert.equal(f.availIdx(), 0x0001);
 * assert.equal(f.memory.stores, 0); // unobserved
 * ```
 */
export function publishChains(f: RingFixture<unknown>, n: number): number {
  return f.memory.quietly(() => {
    for (let k = 0; k < n; k++) f.driverQueue.add([], [f.buffer(16)], `chain ${k}`);
    const old = f.driver.availIdx;
    REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail(f.driver);
    return old;
  });
}

/**
 * The device takes every chain published and returns it (`len` 0), and the
 * driver reaps everything returned, through the fixture's queue objects
 * (whatever parts they run on), unobserved.
 *
 * @param f The fixture.
 * @returns How many chains went round.
 */
export function drainRing(f: RingFixture<unknown>): number {
  return f.memory.quietly(() => {
    let n = 0;
    for (let c = f.deviceQueue.pop(); c !== null; c = f.deviceQueue.pop(), n++) {
      f.deviceQueue.push(c.head, 0);
    }
    for (let k = 0; k <= f.size && f.driverQueue.getBuf() !== null; k++) { /* reap */ }
    return n;
  });
}

/** What one part did on a ring. */
export interface RingRun<R> {
  /** What it returned, or threw (a stub's `todo()` and a strict log's violation pass through). */
  readonly outcome: Outcome<R>;
  /** The rules it reported while it ran, each id once, in order. */
  readonly reported: readonly RequirementId[];
  /** Its stores that touched anything but the `allowed` fields (or were wider than 16 bits). */
  readonly stray: number;
}

/**
 * Runs one step of the side under test on a fixture, observed.
 *
 * @param f The fixture.
 * @param allowed Addresses of the 16-bit fields the step may store into (none: it only reads).
 * @param step The step, e.g. `() => impl.needsKick(f.driver, old)`.
 * @returns What it did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ringFixture } from "./ring.ts";
 * import { runOnRing } from "./ring_steps.ts";
 *
 * const f = ringFixture();
 * const run = runOnRing(f, [f.addresses.usedAddr], () => {
 *   f.memory.writeU16(f.addresses.usedAddr, 1); // used flags: allowed
 *   f.memory.writeU16(f.addresses.usedAddr + 2, 7); // used idx: not
 *   return true;
 * });
 * assert.deepEqual(run, { outcome: { returned: true }, reported: [], stray: 1 });
 * ```
 */
export function runOnRing<R>(
  f: RingFixture<unknown>,
  allowed: readonly number[],
  step: () => R,
): RingRun<R> {
  let stray = 0;
  const stop = f.memory.onStore((s) => {
    const inside = allowed.some((a) => s.address <= a && a < s.address + s.width);
    if (!inside || s.width > 2) stray++;
  });
  const before = f.log.entries.length;
  try {
    const outcome = attempt(step);
    const reported = [...new Set(f.log.entries.slice(before).map((v) => v.id))];
    return { outcome, reported, stray };
  } finally {
    stop();
  }
}

/**
 * A run, for a failure message: `returned true, reported 2.7.10.2/1`.
 *
 * @param r The run.
 */
export function showRingRun(r: RingRun<unknown>): string {
  const did = "returned" in r.outcome
    ? `returned ${JSON.stringify(r.outcome.returned) ?? "nothing"}`
    : showOutcome(r.outcome);
  return `${did}, reported ${r.reported.join(", ") || "nothing"}${
    r.stray ? `, with ${r.stray} store(s) outside the fields it may write` : ""
  }`;
}
