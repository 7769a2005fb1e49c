/**
 * A read budget for guest memory: a chain walk without loop detection, or a
 * loop polling a ring index that never moves, is stopped after a fixed number
 * of loads with a {@linkcode RunawayReadsError} that says so, instead of
 * hanging the grader. The register windows of `mmio.ts` have the same kind of
 * budget for register accesses.
 *
 * The budget counts the loads a {@linkcode SnoopingMemory} observes (in one
 * range, or anywhere); once they exceed the limit, that load and every later
 * one throws. A loop that catches every error and goes on reading cannot be
 * stopped by any budget; the grading sandbox's time limit ends it.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { hexAddress } from "../../memory/guest_memory.ts";
import type { AddressRange, MemoryAccess, SnoopingMemory } from "./snoop.ts";

/** Loads a budget allows by default: far more than any correct ring step makes. */
export const READ_BUDGET = 100_000;

/** Thrown by an exhausted read budget: the code reading guest memory is looping. */
export class RunawayReadsError extends Error {
  /** The number of loads allowed. */
  readonly budget: number;
  /** The load that went over the budget. */
  readonly last: MemoryAccess;
  /** What was being done, e.g. `"walking the chain at head 0"`; `""` if not said. */
  readonly doing: string;

  /**
   * @param budget The number of loads allowed.
   * @param last The load that went over.
   * @param doing What was being done.
   * @param place Where the last load was, in words (a ring field), or `""`.
   */
  constructor(budget: number, last: MemoryAccess, doing: string, place: string) {
    const at = `${last.width * 8}-bit load at ${hexAddress(last.address)}${
      place ? ` (${place})` : ""
    }`;
    super(
      `Your code made more than ${budget.toLocaleString("en")} guest memory reads` +
        `${doing ? ` while ${doing}` : ""} (the last: ${at}): it looks like a loop that ` +
        "never ends",
    );
    this.name = "RunawayReadsError";
    this.budget = budget;
    this.last = last;
    this.doing = doing;
  }
}

/** Options for {@linkcode readBudget}. */
export interface ReadBudgetOptions {
  /** Count only loads that start inside this range (default: every load). */
  readonly range?: AddressRange;
  /** What the code is doing, for the message: `"walking the chain at head 0"`. */
  readonly doing?: string;
  /** Names the place of an address (a ring field), for the message. */
  readonly place?: (address: number) => string | undefined;
}

/** A budget installed on a memory. */
export interface ReadBudget {
  /** Loads allowed. */
  readonly limit: number;
  /** Loads counted so far. */
  readonly used: number;
  /** Whether the budget ran out (a load threw). */
  readonly exhausted: boolean;
  /** Starts counting from 0 again. */
  reset(): void;
  /** Removes the budget. */
  stop(): void;
}

/**
 * Installs a read budget: after `limit` counted loads, the next one (and
 * every one after it) throws {@linkcode RunawayReadsError}.
 *
 * @param memory The memory the code under test reads.
 * @param limit Loads allowed (default {@linkcode READ_BUDGET}).
 * @param options Which loads count, and words for the message.
 * @returns The budget; `stop()` it when the step is done.
 * @throws {RangeError} If `limit` is not a non-negative integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnoopingMemory } from "./snoop.ts";
 * import { readBudget, RunawayReadsError } from "./budget.ts";
 *
 * const memory = new SnoopingMemory(0x1000);
 * const budget = readBudget(memory, 100, { doing: "waiting for the used idx to move" });
 * assert.throws(() => {
 *   let polls = 0;
 *   while (memory.readU16(0x802) === 0) polls++; // a device that never answers
 * }, RunawayReadsError);
 * assert.equal(budget.exhausted, true);
 * budget.stop();
 * ```
 */
export function readBudget(
  memory: SnoopingMemory,
  limit: number = READ_BUDGET,
  options: ReadBudgetOptions = {},
): ReadBudget {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`Read budget ${limit} is not a non-negative integer`);
  }
  const range = options.range;
  let used = 0;
  let exhausted = false;
  const stop = memory.onLoad((load) => {
    if (range && !(load.address >= range.start && load.address < range.start + range.bytes)) {
      return;
    }
    if (++used <= limit) return;
    exhausted = true;
    throw new RunawayReadsError(
      limit,
      load,
      options.doing ?? "",
      options.place?.(load.address) ?? "",
    );
  });
  return {
    limit,
    get used() {
      return used;
    },
    get exhausted() {
      return exhausted;
    },
    reset() {
      used = 0;
      exhausted = false;
    },
    stop,
  };
}
