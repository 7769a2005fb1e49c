// Helpers for the kit's tests: grade a list of rule rows in-process, the way
// lesson graders are graded, and pick the failures apart.

import {
  type Check,
  type CheckResult,
  defineGrader,
  gradeInProcess,
} from "../../../course/grader.ts";

/** Grades `impl` on `checks` (bound to an existing lesson, for the hint pointers). */
export function gradeRows<I>(checks: readonly Check<I>[], impl: I): Promise<CheckResult[]> {
  return gradeInProcess(defineGrader<I>({ lesson: "mmio-window", checks }), impl);
}

/** The failed results, by check name. */
export function failed(results: readonly CheckResult[]): Map<string, CheckResult> {
  return new Map(results.filter((r) => r.status === "failed").map((r) => [r.name, r]));
}
