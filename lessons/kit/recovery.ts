/**
 * Recovery on trial: a driver's recovery step (`recoverDevice`'s shape) run
 * on scripted devices live, broken, given up on, slow to reset and never
 * resetting, with its two steps (`release`, `reinitialize`) recorded in the
 * same sequence as its register accesses, so that a grader sees the order
 * of the reset, the wait, the release and the new bring-up.
 *
 * @module
 */

import { isNotWrittenYet } from "../../course/grader.ts";
import type { RecoveryOutcome, RecoverySteps } from "../../transport/driver_core.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import * as show from "./format.ts";
import { slowResetDevice } from "./mmio.ts";

/** A recovery step: the window, the features negotiated before, the steps, the poll bound. */
export type RecoverFn = (
  window: RegisterWindow,
  features: bigint,
  steps: RecoverySteps,
  maxPolls?: number,
) => Promise<RecoveryOutcome>;

/** One scripted device a recovery runs on. */
export interface RecoverCase {
  /** What the case is, for messages. */
  readonly name: string;
  readonly status: number;
  /** Reads of Status after the write of 0 before it reads 0 (Infinity: never). */
  readonly resetReads: number;
  readonly maxPolls?: number;
  /** What `reinitialize` does: resolves to these features, or rejects. */
  readonly reinit: bigint | "rejects";
}
export const FEATURES = (1n << 32n) | (1n << 28n) | 0x6n;
export const RECOVER_CASES: readonly RecoverCase[] = [
  { name: "a live device (0x0f)", status: 0x0f, resetReads: 0, reinit: FEATURES },
  { name: "a device before DRIVER_OK (0x0b)", status: 0x0b, resetReads: 0, reinit: FEATURES },
  { name: "a fresh device (0x00)", status: 0x00, resetReads: 0, reinit: FEATURES },
  { name: "a device asking for a reset (0x4f)", status: 0x4f, resetReads: 0, reinit: FEATURES },
  {
    name: "a device asking for a reset, slow to reset (0x4f, 6 reads)",
    status: 0x4f,
    resetReads: 5,
    reinit: FEATURES,
  },
  {
    name: "a device asking before DRIVER_OK (0x4b)",
    status: 0x4b,
    resetReads: 0,
    reinit: FEATURES,
  },
  { name: "a device given up on (0x8b)", status: 0x8b, resetReads: 2, reinit: FEATURES },
  { name: "a device given up on and asking (0xcf)", status: 0xcf, resetReads: 0, reinit: FEATURES },
  { name: "a device that offers less now (0x4f)", status: 0x4f, resetReads: 0, reinit: 1n << 32n },
  {
    name: "a device whose reset takes exactly maxPolls reads (0x4f)",
    status: 0x4f,
    resetReads: 4,
    maxPolls: 5,
    reinit: FEATURES,
  },
  {
    name: "a device whose reset takes maxPolls + 1 reads (0x4f)",
    status: 0x4f,
    resetReads: 5,
    maxPolls: 5,
    reinit: FEATURES,
  },
  {
    name: "a device that never resets (0x4f)",
    status: 0x4f,
    resetReads: Infinity,
    maxPolls: 50,
    reinit: FEATURES,
  },
  {
    name: "a device whose new bring-up fails (0x4f)",
    status: 0x4f,
    resetReads: 0,
    reinit: "rejects",
  },
];

export interface RecoverRun {
  /** Every access and step, in order: `read32 0x070 0x4f`, `write32 0x070 0x00`, `release`, `reinitialize(0x...)`. */
  readonly events: readonly string[];
  readonly outcome: { returned: unknown } | { threw: unknown };
}
export const REINIT_FAILED = new Error("the new bring-up failed (the grader's reinitialize)");

export async function runRecover(fn: RecoverFn, c: RecoverCase): Promise<RecoverRun> {
  const device = slowResetDevice(c.status, c.resetReads, 20_000);
  const events: string[] = [];
  let seen = 0;
  const sync = () => {
    for (; seen < device.accesses.length; seen++) {
      const a = device.accesses[seen];
      events.push(`${show.accessPattern(a)}${a.kind === "read" ? ` ${show.byte(a.value)}` : ""}`);
    }
  };
  const steps = {
    release: () => (sync(), void events.push("release")),
    reinitialize: (features: bigint) => {
      sync();
      events.push(`reinitialize(0x${features.toString(16)})`);
      return c.reinit === "rejects" ? Promise.reject(REINIT_FAILED) : Promise.resolve(c.reinit);
    },
  };
  let outcome: RecoverRun["outcome"];
  try {
    const promise = c.maxPolls === undefined
      ? fn(device.window, FEATURES, steps)
      : fn(device.window, FEATURES, steps, c.maxPolls);
    outcome = { returned: await promise };
  } catch (threw) {
    if (isNotWrittenYet(threw)) throw threw;
    outcome = { threw };
  }
  sync();
  return { events, outcome };
}

export function describeOutcome(r: RecoverRun): string {
  if ("threw" in r.outcome) {
    const e = r.outcome.threw;
    return `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  return show.outcome(r.outcome);
}
