/**
 * Running checks in this process: {@linkcode runCheck} for one check and
 * {@linkcode gradeInProcess} for a whole grader. The project's own tests use
 * them on the stub and the reference; learners are graded out of process by
 * `course/runner.ts`, whose harness runs the same {@linkcode runCheck}.
 *
 * @example
 * ```ts
 * import { defineGrader } from "./define.ts";
 * import { expectEqual } from "./expect.ts";
 * import { gradeInProcess } from "./run.ts";
 * const grader = defineGrader<{ two(): number }>({
 *   lesson: "mmio-window",
 *   checks: [{
 *     name: "two is 2",
 *     requirement: "4.2.2.1/2",
 *     hint: 1,
 *     run: (impl) => expectEqual(impl.two(), 2, "two()"),
 *   }],
 * });
 * const [result] = await gradeInProcess(grader, { two: () => 2 });
 * if (result.status !== "passed") throw new Error(result.message);
 * ```
 *
 * @module
 */

import {
  findRequirement,
  requirement as lookupRequirement,
} from "../../conformance/requirements.ts";
import type { Check, Grader } from "./define.ts";
import { explainFailure, explainLoadFailure } from "./explain.ts";
import type { GradeFailure } from "./failure.ts";

/** The outcome of one check run in-process. */
export interface CheckResult {
  /** The check's name. */
  readonly name: string;
  /** Whether it passed. */
  readonly status: "passed" | "failed";
  /** The teaching message ("" when passed). */
  readonly message: string;
  /** The requirement id the failure cites (the check's, or the rule a strict log saw broken). */
  readonly requirement: string;
  /** The requirement's spec section. */
  readonly section: string;
  /** The hint to read on failure. */
  readonly hint: number;
  /** How long the check took, in milliseconds. */
  readonly durationMs: number;
  /** The failure, when it failed. */
  readonly failure?: GradeFailure;
}

/**
 * Runs one check and explains any failure.
 *
 * @param grader The grader the check belongs to.
 * @param check The check.
 * @param impl The implementation under test.
 * @returns The result; never throws for a failing check.
 */
export async function runCheck<I>(
  grader: Grader<I>,
  check: Check<I>,
  impl: I,
): Promise<CheckResult> {
  const started = performance.now();
  const section = lookupRequirement(check.requirement).section;
  try {
    await check.run(impl);
    return {
      name: check.name,
      status: "passed",
      message: "",
      requirement: check.requirement,
      section,
      hint: check.hint,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    return failedResult(grader, check, explainFailure(error, grader, check), started);
  }
}

/**
 * The result of a check that could not run because the module under test did
 * not load.
 *
 * @param grader The grader.
 * @param check The check.
 * @param error What importing the module threw.
 */
export function loadFailedResult<I>(
  grader: Grader<I>,
  check: Check<I>,
  error: unknown,
): CheckResult {
  return {
    ...failedResult(grader, check, explainLoadFailure(error, grader, check)),
    durationMs: 0,
  };
}

function failedResult<I>(
  _grader: Grader<I>,
  check: Check<I>,
  failure: GradeFailure,
  started = performance.now(),
): CheckResult {
  return {
    name: check.name,
    status: "failed",
    message: failure.message,
    requirement: failure.requirement ?? check.requirement,
    section: findRequirement(failure.requirement ?? "")?.section ??
      lookupRequirement(check.requirement).section,
    hint: failure.hint ?? check.hint,
    durationMs: performance.now() - started,
    failure,
  };
}

/**
 * Runs every check of a grader in this process (used by the project's own
 * tests for the stub and the reference; learners are graded out of process).
 *
 * @param grader The grader.
 * @param impl The implementation, or a promise of it (a rejected promise fails every check).
 * @returns One result per check, in order.
 */
export async function gradeInProcess<I>(
  grader: Grader<I>,
  impl: I | Promise<I>,
): Promise<CheckResult[]> {
  const loaded = await settle(impl);
  const results: CheckResult[] = [];
  for (const check of grader.checks) {
    results.push(
      loaded.ok
        ? await runCheck(grader, check, loaded.value)
        : loadFailedResult(grader, check, loaded.error),
    );
  }
  return results;
}

/** A promise's outcome, without rejections going unhandled. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Starts awaiting `value` now, so a rejection is never unhandled.
 *
 * @param value A value or a promise.
 */
export function settle<T>(value: T | Promise<T>): Promise<Settled<T>> {
  return Promise.resolve(value).then(
    (v): Settled<T> => ({ ok: true, value: v }),
    (error: unknown): Settled<T> => ({ ok: false, error }),
  );
}
