/**
 * The grader API, one import for lesson graders. A grader is a function of an
 * implementation: a list of checks, each citing the requirement id it
 * enforces and the hint that helps, run against whatever module exports the
 * lesson's names: the learner's workspace file, the pristine stub (must
 * fail) or the lesson's `reference.ts` (must pass).
 *
 * Every failure is a {@linkcode GradeFailure} whose message teaches:
 *
 * ```text
 * observed: MagicValue (0x000) read 0x0
 * the spec requires: MagicValue to read 0x74726976 ("virt") (§4.2.2.1, requirement 4.2.2.1/1)
 * read hint 2: deno task lab hint 1 2
 * ```
 *
 * Errors a check did not expect (a stub's `todo()`, a `TypeError`, a
 * permission refused by the grading sandbox) are turned into such messages
 * too, by {@linkcode explainFailure}.
 *
 * One module per concept, re-exported here:
 *
 * | module                 | what                                                              |
 * | ---------------------- | ----------------------------------------------------------------- |
 * | `grading/define.ts`    | `defineGrader`, `Check`, `Grader`                                 |
 * | `grading/failure.ts`   | `GradeFailure`                                                    |
 * | `grading/expect.ts`    | `expect*`, `fail`, `deepEqual`                                    |
 * | `grading/explain.ts`   | `explainFailure`, `explainLoadFailure`, `isNotWrittenYet`, ...    |
 * | `grading/describe.ts`  | `describe`, `hex`                                                 |
 * | `grading/run.ts`       | `runCheck`, `gradeInProcess`, `settle`                            |
 *
 * @example
 * ```ts
 * import { defineGrader, expectEqual, hex } from "./grader.ts";
 * interface Impl { magicValue(): number }
 * export const grader = defineGrader<Impl>({
 *   lesson: "mmio-window",
 *   checks: [{
 *     name: "MagicValue reads \"virt\"",
 *     requirement: "4.2.2.1/1",
 *     hint: 1,
 *     expects: "MagicValue (0x000) to read 0x74726976",
 *     run(impl) {
 *       expectEqual(impl.magicValue(), 0x74726976, "MagicValue (0x000)", { format: hex });
 *     },
 *   }],
 * });
 * ```
 *
 * @module
 */

export { type Check, defineGrader, type Grader, type GraderDefinition } from "./grading/define.ts";
export { GradeFailure, type GradeFailureInit } from "./grading/failure.ts";
export {
  deepEqual,
  expect,
  expectEqual,
  type ExpectEqualOptions,
  expectNoViolations,
  type ExpectOptions,
  expectThrows,
  type ExpectThrowsOptions,
  expectViolation,
  fail,
} from "./grading/expect.ts";
export {
  DEPENDENCY_NOTE,
  explainFailure,
  explainLoadFailure,
  isDependencyError,
  isNotWrittenYet,
  isPermissionError,
  PERMISSION_NOTE,
} from "./grading/explain.ts";
export { describe, hex } from "./grading/describe.ts";
export {
  type CheckResult,
  gradeInProcess,
  loadFailedResult,
  runCheck,
  settle,
  type Settled,
} from "./grading/run.ts";
