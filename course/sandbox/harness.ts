/**
 * The grading harness: the program `lab check` runs in a sandboxed
 * subprocess to grade one lesson (`course/runner.ts` starts it; nothing else
 * should). It is a plain `deno run` program, not `deno test`, whose reporter
 * the learner's code could imitate:
 *
 * 1. reads the {@linkcode HarnessJob} from stdin to its end, before anything
 *    else runs, and keeps the nonce in a closure;
 * 2. locks the realm down (SES), imports the lesson's grader and every module
 *    of its graph and hardens their exports, pins fast-check's global state,
 *    makes `Deno.exit()` throw, freezes the global object and the host APIs;
 * 3. reports `ready`, imports the learner's exercise, reports `loaded`;
 * 4. runs every check in order, reporting `start` before and `end` after it
 *    (after one turn of the event loop, so an uncaught error or unhandled
 *    rejection the check's calls left behind fails that check);
 * 5. reports `done` and ends the process (whatever timers the learner's code
 *    left behind).
 *
 * Every report is a nonce-prefixed line on stdout (see `protocol.ts`). The
 * harness's reports are the only ones that count, and a check without an
 * `end` report counts as failed: exiting, crashing, looping or printing fake
 * results never passes a check.
 *
 * A failure before `ready` (a broken job, a grader that does not load,
 * something that cannot be hardened) is the course's problem, not the
 * learner's: the harness prints it on stderr and exits with status 3.
 *
 * @module
 */

import {
  captureHost,
  freezeGlobals,
  guardPackage,
  hardenExports,
  type Host,
  lockdownRealm,
  type PackageGuard,
  readAllStdin,
  refuseProcessExit,
} from "./harden.ts";
import {
  encodeRecord,
  type EndRecord,
  type HarnessJob,
  type HarnessRecord,
  MAX_MESSAGE_CHARS,
  parseJob,
} from "./protocol.ts";
import * as hardenModule from "./harden.ts";
import * as protocolModule from "./protocol.ts";
import type { Check, Grader } from "../grading/define.ts";
import { explainFailure, explainLoadFailure } from "../grading/explain.ts";
import { GradeFailure } from "../grading/failure.ts";
import { findRequirement } from "../../conformance/requirements.ts";

/** Exit status of a harness that could not set up (before `ready`). */
export const HARNESS_SETUP_FAILED = 3;

type Impl = Record<string, unknown>;

/** Why the exercise module cannot be graded: it threw while loading, or changed the grader's tools. */
type LoadProblem = { readonly threw: unknown } | { readonly tampered: string };

/** Errors thrown outside any call a check made (timers, promises nobody awaited). */
interface Strays {
  readonly errors: unknown[];
}

async function main(): Promise<void> {
  const host = captureHost();
  const strays: Strays = { errors: [] };
  let setup: { grader: Grader<Impl>; guards: PackageGuard[]; exercise: string };
  let report: (record: HarnessRecord) => void;
  try {
    const job = parseJob(await readAllStdin());
    const nonce = job.nonce;
    report = (record) => host.write(encodeRecord(nonce, record));
    // Uncaught errors and unhandled rejections from the learner's timers and
    // promises fail the check they happen in instead of ending the process.
    addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      strays.errors.push(event.reason);
    });
    addEventListener("error", (event) => {
      event.preventDefault();
      strays.errors.push(event.error ?? event.message);
    });
    setup = await prepare(job);
  } catch (error) {
    console.error(
      `The grading harness could not start: ${error instanceof Error ? error.stack : error}`,
    );
    return host.exit(HARNESS_SETUP_FAILED);
  }
  const { grader, guards } = setup;
  report({ t: "ready", checks: grader.checks.length });

  const loadStarted = host.now();
  let impl: Impl | undefined;
  let loadProblem: LoadProblem | null = null;
  try {
    impl = await import(setup.exercise);
  } catch (error) {
    loadProblem = { threw: error };
  }
  const changed = tamperedWith(guards);
  if (changed) loadProblem = { tampered: changed };
  else if (!loadProblem && strays.errors.length > 0) loadProblem = { threw: strays.errors.shift() };
  strays.errors.length = 0;
  report({ t: "loaded", ok: loadProblem === null, durationMs: host.now() - loadStarted });

  for (const [i, check] of grader.checks.entries()) {
    report({ t: "start", i, name: check.name });
    const ended = loadProblem !== null || impl === undefined
      ? loadFailed(grader, check, loadProblem ?? { threw: undefined }, i)
      : await runOne(grader, check, impl, i, { host, guards, strays });
    report(ended);
  }
  report({ t: "done" });
  host.exit(0);
}

/**
 * Everything before the learner's code: lockdown, the grader and its graph
 * loaded and hardened, package guards, the global object frozen.
 */
async function prepare(
  job: HarnessJob,
): Promise<{ grader: Grader<Impl>; guards: PackageGuard[]; exercise: string }> {
  lockdownRealm();
  const graderModule = await import(job.grader) as { grader?: Grader<Impl> };
  const grader = graderModule.grader;
  if (!grader || !Array.isArray(grader.checks) || typeof grader.hintCommand !== "function") {
    throw new TypeError(`${job.grader} does not export a grader (defineGrader(...))`);
  }
  const guards: PackageGuard[] = [];
  for (const module of job.modules) {
    const namespace = module.kind === "json"
      ? await import(module.specifier, { with: { type: "json" } })
      : await import(module.specifier);
    hardenExports(namespace);
    if (module.kind === "npm") {
      const guard = guardPackage(npmPackageName(module.specifier), namespace);
      if (guard) guards.push(guard);
    }
  }
  hardenExports(graderModule as Record<string, unknown>);
  // The harness's own modules are reachable too (a loaded module needs no permission to import).
  hardenExports(hardenModule as unknown as Record<string, unknown>);
  hardenExports(protocolModule as unknown as Record<string, unknown>);
  // Hint pointers may read the course manifest: do it while that is certain to work.
  grader.hintCommand(1);
  refuseProcessExit();
  freezeGlobals();
  return { grader, guards, exercise: job.exercise };
}

/** `fast-check` from `npm:fast-check@4.10.2`, `@scope/name` from `npm:@scope/name@1/sub`. */
function npmPackageName(specifier: string): string {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)/.exec(specifier);
  return m ? m[1] : specifier;
}

function tamperedWith(guards: readonly PackageGuard[]): string | null {
  for (const guard of guards) {
    const what = guard.tampered();
    if (what) {
      for (const g of guards) g.reset();
      return what;
    }
  }
  return null;
}

interface RunContext {
  readonly host: Host;
  readonly guards: readonly PackageGuard[];
  readonly strays: Strays;
}

/** Runs one check against the loaded exercise and describes how it ended. */
async function runOne(
  grader: Grader<Impl>,
  check: Check<Impl>,
  impl: Impl,
  i: number,
  { host, guards, strays }: RunContext,
): Promise<EndRecord> {
  const before = tamperedWith(guards);
  if (before) return tamperedRecord(grader, check, i, before, "before this check ran", 0);
  const started = host.now();
  let failure: GradeFailure | null = null;
  try {
    // Called synchronously after the guard check: no learner code runs in between.
    await settleNative(check.run(impl));
  } catch (error) {
    failure = explain(error, grader, check);
  }
  const durationMs = host.now() - started;
  // One turn of the event loop, so that an error the check's calls left in a
  // timer or an unhandled rejection belongs to this check, not a later one.
  await host.tick();
  const after = tamperedWith(guards);
  if (after) return tamperedRecord(grader, check, i, after, "while this check ran", durationMs);
  if (!failure && strays.errors.length > 0) {
    const f = explain(strays.errors.shift(), grader, check);
    failure = new GradeFailure({
      observed: `${f.observed} (outside the calls the check made: in a timer, an event ` +
        `handler or a promise nobody awaited)`,
      expected: f.expected,
      requirement: f.requirement,
      hint: f.hint,
      note: f.note,
    }, f.hintCommand);
  }
  strays.errors.length = 0;
  if (!failure) {
    return {
      t: "end",
      i,
      name: check.name,
      status: "passed",
      message: "",
      requirement: check.requirement,
      hint: check.hint,
      durationMs,
    };
  }
  return failedRecord(check, i, failure, durationMs);
}

const promiseThen = Promise.prototype.then;

/**
 * Waits for what a check's `run` returned: nothing, or a genuine promise.
 * Anything else (a thenable from the learner's code a grader passed on) is
 * refused rather than awaited, so it cannot settle the check in its place.
 */
function settleNative(value: unknown): Promise<void> {
  if (value === undefined) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    try {
      // Throws for anything that is not a real promise (no internal slots).
      Reflect.apply(promiseThen, value, [() => resolve(), reject]);
    } catch {
      reject(
        new TypeError(
          "the check returned a value that is not a promise (a grader's run returns nothing or a promise)",
        ),
      );
    }
  });
}

/** `explainFailure`, which must not throw whatever the learner's code threw. */
function explain(error: unknown, grader: Grader<Impl>, check: Check<Impl>): GradeFailure {
  try {
    return explainFailure(error, grader, check);
  } catch {
    return new GradeFailure({
      observed: "your code threw a value the grader cannot describe (reading it threw again)",
      expected: check.expects ?? findRequirement(check.requirement)?.summary ?? check.name,
      requirement: check.requirement,
      hint: check.hint,
    }, grader.hintCommand(check.hint));
  }
}

function loadFailed(
  grader: Grader<Impl>,
  check: Check<Impl>,
  problem: LoadProblem,
  i: number,
): EndRecord {
  if ("tampered" in problem) {
    return tamperedRecord(grader, check, i, problem.tampered, "while your exercise loaded", 0);
  }
  let failure: GradeFailure;
  try {
    failure = explainLoadFailure(problem.threw, grader, check);
  } catch {
    failure = new GradeFailure({
      observed: "your exercise module failed while loading (with a value that cannot be shown)",
      expected: check.expects ?? check.name,
      requirement: check.requirement,
      hint: check.hint,
    }, grader.hintCommand(check.hint));
  }
  return failedRecord(check, i, failure, 0);
}

function tamperedRecord(
  grader: Grader<Impl>,
  check: Check<Impl>,
  i: number,
  what: string,
  when: string,
  durationMs: number,
): EndRecord {
  const failure = new GradeFailure({
    observed: `your code changed ${what} ${when}`,
    expected: check.expects ?? findRequirement(check.requirement)?.summary ?? check.name,
    requirement: check.requirement,
    hint: check.hint,
    note: "an exercise must leave the grader's tools as they are: the check cannot be trusted " +
      "after they were changed, so it counts as failed",
  }, grader.hintCommand(check.hint));
  return failedRecord(check, i, failure, durationMs);
}

function failedRecord(
  check: Check<Impl>,
  i: number,
  failure: GradeFailure,
  durationMs: number,
): EndRecord {
  const message = String(failure.message);
  return {
    t: "end",
    i,
    name: check.name,
    status: "failed",
    message: message.length > MAX_MESSAGE_CHARS
      ? `${message.slice(0, MAX_MESSAGE_CHARS - 20)}\n... (message cut)`
      : message,
    requirement: typeof failure.requirement === "string" ? failure.requirement : check.requirement,
    hint: typeof failure.hint === "number" && Number.isInteger(failure.hint) && failure.hint > 0
      ? failure.hint
      : check.hint,
    durationMs,
  };
}

if (import.meta.main) await main();
