/**
 * Binds a grader to `deno test`: one `Deno.test` per check, named
 * `"<check> [<requirement id>]"`, failing with the check's teaching message.
 * The workspace's generated `exercise_test.ts` files call
 * {@linkcode registerGrader}, which is why plain `deno test` in the workspace
 * grades the learner's work with no wrapper.
 *
 * This is the learner's own convenience, not what `lab check` trusts: under
 * `deno test` the learner's code shares the test runner and its reporter, so
 * it can make the output say anything. `lab check` grades through the
 * sandboxed harness of `course/sandbox/`, where only authenticated results
 * count (see `course/runner.ts`).
 *
 * @example
 * ```ts ignore
 * import { registerGrader } from "../../course/deno_test.ts";
 * import { grader } from "../../lessons/01-mmio-window/grader.ts";
 * registerGrader(grader, import("./exercise.ts"));
 * ```
 *
 * @module
 */

import { explainFailure, explainLoadFailure, type Grader, settle } from "./grader.ts";

/** Options of {@linkcode registerGrader}. */
export interface RegisterOptions {
  /** Register the tests as ignored (e.g. while a lesson is being written). */
  readonly ignore?: boolean;
}

/**
 * Registers one `Deno.test` per check of `grader`, run against `impl`.
 *
 * Pass the module as a promise (`import("./exercise.ts")`) so that an
 * exercise that throws while loading fails every check with an explanation
 * instead of aborting the test file.
 *
 * @param grader The lesson's grader.
 * @param impl The implementation: a module namespace, or a promise of one.
 * @param options Registration options.
 */
export function registerGrader<I>(
  grader: Grader<I>,
  impl: I | Promise<I>,
  options: RegisterOptions = {},
): void {
  const loaded = settle(impl);
  for (const check of grader.checks) {
    Deno.test({
      name: grader.testName(check),
      ignore: options.ignore ?? false,
      // Learner code may leave a timer or a resource behind; that is not what a lesson grades.
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const outcome = await loaded;
        if (!outcome.ok) throw explainLoadFailure(outcome.error, grader, check);
        try {
          await check.run(outcome.value);
        } catch (error) {
          throw explainFailure(error, grader, check);
        }
      },
    });
  }
}
