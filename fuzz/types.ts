/**
 * What the fuzz engine reports: failures with the seed and step that
 * reproduce them, and, per hostile case class, what the code under test did
 * with each case.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";

/**
 * What one engine run drives: a hostile driver against a device model
 * (`blk`, `console`), a hostile device against the driver half of the ring
 * (`driver`), or a hostile MMIO window against a real device driver bound
 * through the real driver transport (`blk-driver`, `console-driver`).
 */
export type FuzzTarget =
  | "blk"
  | "console"
  | "driver"
  | "blk-driver"
  | "console-driver"
  | "blk-bringup"
  | "console-bringup";

/** Every target, in the order `--target all` runs them. */
export const FUZZ_TARGETS: readonly FuzzTarget[] = Object.freeze([
  "blk",
  "console",
  "driver",
  "blk-driver",
  "console-driver",
  "blk-bringup",
  "console-bringup",
]);

/**
 * How a failure showed itself:
 *
 * - `threw`: an exception escaped the code under test (a hostile peer must never crash it);
 * - `uncaught`: an error escaped from a promise callback or a microtask nobody awaited;
 * - `hung`: the step's read budget stopped a loop that never ends;
 * - `invariant`: the code broke a rule the engine checks after every step (see `invariant`);
 * - `silent`: the code accepted a hostile case the spec forbids, without a report;
 * - `memory`: the process grew past the memory bound.
 */
export type FailureKind = "threw" | "uncaught" | "hung" | "invariant" | "silent" | "memory";

/** One failure, with what reproduces it. */
export interface FuzzFailure {
  /** The target it happened on. */
  readonly target: FuzzTarget;
  /** How it showed itself. */
  readonly kind: FailureKind;
  /** The invariant broken, for `invariant` (e.g. `"device-stored-into-descriptor-table"`). */
  readonly invariant?: string;
  /** The requirement broken, when one applies. */
  readonly requirement: RequirementId | null;
  /** The hostile case class of the step, when it was one (`"loop in a chain"`). */
  readonly caseClass?: string;
  /** What happened, in one sentence with the values that matter. */
  readonly message: string;
  /** The episode's seed: `--seed <seed>` runs this episode first. */
  readonly seed: number;
  /** The step of the episode, from 0. */
  readonly step: number;
  /** What the step did, in words. */
  readonly op: string;
  /** Set when this is a known bug of the reference, with a pointer to its issue. */
  readonly known?: string;
}

/** What the code under test did with the cases of one hostile class. */
export interface CaseClassTally {
  /** The class, e.g. `"a chain that loops"`. */
  readonly name: string;
  /** The target the class belongs to. */
  readonly target: FuzzTarget;
  /** The rule a case of the class breaks (the id the code under test should report), if any. */
  readonly rule: RequirementId | null;
  /** Cases delivered (the queue live, so the code under test had to act). */
  runs: number;
  /** Reported, by requirement id. */
  readonly reported: Record<string, number>;
  /** Cases after which the code broke the queue (DEVICE_NEEDS_RESET or a broken driver ring). */
  broke: number;
  /** Cases the code threw on. */
  threw: number;
  /** Cases the read budget stopped. */
  hung: number;
  /** Cases it accepted without a word (a failure when `rule` is set). */
  silent: number;
  /** Requests that settled with an error during the class's cases, by error code. */
  readonly settled: Record<string, number>;
  /** The first thrown error's message, if any. */
  firstThrown?: string;
  /** The seed and step of the first failing case, if any. */
  firstFailure?: { readonly seed: number; readonly step: number };
}

/** One target's share of a run. */
export interface TargetReport {
  /** Which target. */
  readonly target: FuzzTarget;
  /** Steps run. */
  readonly ops: number;
  /** Episodes (fresh devices or queues) run. */
  readonly episodes: number;
  /** Wall time, in milliseconds. */
  readonly elapsedMs: number;
}

/** What one run found. */
export interface FuzzReport {
  /** The run's seed. */
  readonly seed: number;
  /** Steps run, over every target. */
  readonly ops: number;
  /** Wall time, in milliseconds. */
  readonly elapsedMs: number;
  /** Steps per second. */
  readonly opsPerSecond: number;
  /** Per target. */
  readonly targets: readonly TargetReport[];
  /**
   * Rules the hostile side broke that the code under test reported, by id: what its checks caught.
   */
  readonly violations: Readonly<Record<string, number>>;
  /** Every failure kept (the first of each kind, invariant and class per target), in order. */
  readonly failures: readonly FuzzFailure[];
  /** Failures of each kind, counted before keeping only the first of each. */
  readonly failureCounts: Readonly<Record<FailureKind, number>>;
  /** Per hostile case class. */
  readonly classes: readonly CaseClassTally[];
  /** Peak resident set size seen, in bytes. */
  readonly peakRss: number;
  /** Peak V8 heap in use seen, in bytes. */
  readonly peakHeapUsed: number;
  /** Whether the run passed: no failure other than known ones. */
  readonly passed: boolean;
}
