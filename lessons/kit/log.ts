/**
 * The conformance log as graders read it: fail when anything was logged,
 * and turn a strict log's `ConformanceError` into a failure that cites the
 * rule the learner's code broke, with the values the device saw.
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import { fail, isNotWrittenYet } from "../../course/grader.ts";
import type { ConformanceLog, Violation } from "../../conformance/log.ts";
import { violation as showViolation } from "./format.ts";

/**
 * The violation a strict log threw, if `error` is such a throw.
 *
 * @param error Anything thrown.
 */
export function thrownViolation(error: unknown): Violation | undefined {
  if (!(error instanceof Error) || error.name !== "ConformanceError") return undefined;
  return (error as { violation?: Violation }).violation;
}

/**
 * Fails when the log recorded anything, citing the first violation's rule.
 *
 * @param log The conformance log.
 * @param during What was being done, e.g. `"the bring-up of the lab machine"`.
 * @param expected What the spec requires, in words.
 * @param note An extra line for some violations (e.g. the real bug behind them).
 */
export function failOnViolations(
  log: ConformanceLog,
  during: string,
  expected: string,
  note?: (v: Violation) => string | undefined,
): void {
  const first = log.entries[0];
  if (!first) return;
  fail({
    observed: `during ${during}, the conformance log recorded ${log.entries.length} ` +
      `violation(s); the first: ${showViolation(first)}`,
    expected,
    requirement: first.id,
    note: note?.(first),
  });
}

/**
 * Runs `fn` (usually the learner's code on a strict window) and turns a
 * violation the strict log throws into a failure citing that rule. Other
 * errors pass through unchanged, a stub's `todo()` included.
 *
 * @param fn The code to run.
 * @param doing What the code was doing, e.g. `"beginInitialization(window)"`.
 * @param expected What the spec requires, in words.
 * @param note An extra line for some violations.
 * @returns What `fn` returned.
 */
export async function citingViolations<T>(
  fn: () => T | Promise<T>,
  doing: string,
  expected: string,
  note?: (v: Violation) => string | undefined,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const v = isNotWrittenYet(error) ? undefined : thrownViolation(error);
    if (!v) throw error;
    fail({
      observed: `during ${doing}, the device reported ${showViolation(v)}`,
      expected,
      requirement: v.id,
      note: note?.(v),
    });
  }
}
