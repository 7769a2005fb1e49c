/**
 * Rule rows compiled into checks: a grader states *what* each rule decides,
 * and this engine finds the smallest case where the learner's part decides
 * it differently from the reference, and shows it.
 *
 * Two pieces:
 *
 * - a **subject** is one part under test: how to run the learner's version
 *   and the reference on a case (a tuple of arguments, or a fixture to build:
 *   a scripted window, a ring state), how to show the case as a call and how
 *   to show a result. A subject's `run` may return an observation richer than
 *   the part's return value (the value plus the accesses it made, say);
 * - a **rule row** names a rule (check name, requirement id, hint, what the
 *   spec requires), the cases it is about, and its **verdict**: the part of
 *   the observation the rule decides. The learner's verdict must agree with
 *   the reference's on every case (`agrees`, deep equality unless a row says
 *   which answers are fair, e.g. either of two ids when an access breaks two
 *   rules). A row may give its own expected observation (`reference`).
 *
 * Cases are either swept in full, smallest first ({@linkcode every}: the
 * first disagreement is the smallest input), or sampled with fast-check and a
 * fixed seed ({@linkcode sample}: a disagreement is shrunk to the smallest
 * counterexample). Either way the failure reads:
 *
 * ```text
 * observed: checkRegisterAccess(0x071, 1, "read") returned { ok: true, register: null } (case 2 of 1280, the first that fails)
 * the spec requires: an 8-bit read at 0x071 to be refused: { ok: false, requirement: "4.2.2.2/2", ... }
 * ```
 *
 * What the learner's code throws is shown with the case that made it throw;
 * a violation a strict log throws is cited as the rule broken; a stub's
 * `todo()` and a permission refused by the sandbox pass through, so the
 * engine explains them as usual. The reference is the lesson's contract made
 * executable: a row must never grade a field the contract leaves free (the
 * wording of a `reason`, say).
 *
 * @example
 * ```ts ignore
 * const status = ruleFor<Impl, [number, number], StatusTransition>({
 *   run: (impl, current, written) => impl.nextDeviceStatus(current, written),
 *   reference: nextDeviceStatus,
 *   show: (c, w) => `nextDeviceStatus(${fmt.status(c)}, ${fmt.byte(w)})`,
 *   result: showTransition,
 * });
 * export const grader = defineGrader<Impl>({
 *   lesson: "status-reset",
 *   checks: [
 *     status({
 *       name: "writing 0 resets the device",
 *       requirement: "2.4.1/1",
 *       hint: 1,
 *       expects: "a write of 0 to reset the device",
 *       cases: every(allPairs),
 *       when: (_c, w) => (w & 0xff) === 0,
 *       verdict: (t) => t.reset,
 *       why: () => "writing 0 resets the device",
 *     }),
 *   ],
 * });
 * ```
 *
 * This file is course code shared by the graders, not a lesson.
 *
 * @module
 */

import fc from "fast-check";
import {
  type Check,
  deepEqual,
  describe,
  fail,
  type GradeFailureInit,
  isNotWrittenYet,
  isPermissionError,
} from "../../course/grader.ts";
import type { RequirementId } from "../../conformance/requirements.ts";
import { outcome as showOutcome, violation as showViolation } from "./format.ts";
import { thrownViolation } from "./log.ts";

/** The arguments of one case, as a tuple. */
export type Case = readonly unknown[];

/** Where a rule's cases come from: a full sweep, or a seeded sample. */
export type Cases<C extends Case> =
  | { readonly kind: "every"; readonly list: () => Iterable<C> }
  | {
    readonly kind: "sample";
    /** The generator, or a function that builds a fresh one for each run. */
    readonly arbitrary: fc.Arbitrary<C> | (() => fc.Arbitrary<C>);
    readonly runs: number;
    readonly seed: number;
  };

/**
 * Every case of a list, tried in order: order it smallest first, so that the
 * first failure is the smallest input that breaks the rule.
 *
 * @param list The cases, or a function producing them (a generator is fine).
 */
export function every<C extends Case>(list: Iterable<C> | (() => Iterable<C>)): Cases<C> {
  return { kind: "every", list: typeof list === "function" ? list : () => list };
}

/**
 * Cases drawn by fast-check with a fixed seed (so every run tries the same
 * ones); a failing case is shrunk to the smallest fast-check finds.
 *
 * Some arbitraries keep state while they generate (`fc.array` of long
 * lists and `fc.oneof` count their depth in an object of their own), and the
 * grading sandbox freezes everything a grader holds: give those as a
 * function that builds the arbitrary, which is then called for each run.
 *
 * @param arbitrary The generator of cases, or a function that builds it.
 * @param options The seed and the number of cases (default 300).
 */
export function sample<C extends Case>(
  arbitrary: fc.Arbitrary<C> | (() => fc.Arbitrary<C>),
  options: { readonly seed: number; readonly runs?: number },
): Cases<C> {
  return { kind: "sample", arbitrary, seed: options.seed, runs: options.runs ?? 300 };
}

/** One part under test, and how to show it. */
export interface Subject<I, C extends Case, R> {
  /** Runs the learner's part on a case (and observes whatever the rules decide on). */
  readonly run: (impl: I, ...args: C) => R;
  /** Runs the reference on the same case: what the contract requires. */
  readonly reference: (...args: C) => R;
  /** The case as a call the learner can paste, e.g. `nextDeviceStatus(0x0f, 0x01)`. */
  readonly show: (...args: C) => string;
  /** Shows an observation, learner's or reference's (only fields the contract fixes). */
  readonly result: (r: R) => string;
  /**
   * The verb between the call and its observation in a failure, `"returned"`
   * by default (left out when the observation starts with "returned" or
   * "threw"); e.g. `"left"` for "… left FEATURES_OK clear".
   */
  readonly verb?: string;
  /**
   * The contract's shape, in words, when a learner's observation does not
   * have it (`undefined` when it does): checked before any verdict is taken.
   */
  readonly shape?: (r: unknown) => string | undefined;
  /**
   * For a pure part (its contract says so): a key naming a case. Each case is
   * then run once per implementation and its observation shared by every
   * rule row, which makes sweeping the same cases for several rules cheap.
   */
  readonly key?: (...args: C) => string | number;
}

/** One rule row: a rule, its cases, and the part of the observation it decides. */
export interface Rule<C extends Case, R, V> {
  /** The check's name: what is checked, in a few words. */
  readonly name: string;
  /** The requirement id the rule enforces. */
  readonly requirement: RequirementId;
  /** The hint that helps when it fails. */
  readonly hint: number;
  /**
   * What the spec requires, in the learner's words, shown when the part throws
   * something unexpected (a stub's `todo()`); default: `why` when it is a
   * string, else the requirement's summary.
   */
  readonly expects?: string;
  /** The cases to try. */
  readonly cases: Cases<C>;
  /** Which of them the rule is about (default: all). */
  readonly when?: (...args: C) => boolean;
  /** The part of an observation the rule decides (default: all of it). */
  readonly verdict?: (r: R, ...args: C) => V;
  /** Whether the learner's verdict is a right answer (default: deep equality). */
  readonly agrees?: (got: V, want: V, ...args: C) => boolean;
  /** What the spec requires for a case, in words; the expected observation follows it. */
  readonly why: string | ((want: R, ...args: C) => string);
  /** The expected observation, when it is not the subject's reference. */
  readonly reference?: (...args: C) => R;
  /** The requirement a failing case breaks, when it is not the row's. */
  readonly cites?: (want: R, ...args: C) => RequirementId | undefined;
  /** One more line for some failures (the real bug behind them, say). */
  readonly note?: (got: R, want: R, ...args: C) => string | undefined;
  /** Shows an observation, when this rule's failures need less (or other) than the subject's `result`. */
  readonly result?: (r: R) => string;
}

/**
 * What a call did: returned a value, or threw. For subjects whose contract
 * includes throwing (a reset that gives up, a negotiation that fails).
 */
export type Outcome<R> = { readonly returned: R } | { readonly threw: unknown };

/**
 * Calls `fn` and records what it did. A stub's `todo()`, a refused
 * permission and a strict log's violation are not outcomes: they pass
 * through, so the grader explains them.
 *
 * @param fn The call.
 */
export function attempt<R>(fn: () => R): Outcome<R> {
  try {
    return { returned: fn() };
  } catch (error) {
    if (passesThrough(error) || thrownViolation(error)) throw error;
    return { threw: error };
  }
}

/** The fields a subject's rows may share (cases, hint...), given once to {@linkcode ruleFor}. */
export type RowDefaults<C extends Case> = Partial<Pick<Rule<C, never, never>, "cases" | "hint">>;

/**
 * The error an outcome threw, as a plain record of its `name` and own fields
 * (`{ name: "DeviceResetError", status: 15, polls: 5 }`), or `{}` when it
 * returned: what a verdict compares when a contract names an error's class
 * and fields.
 *
 * @param o The outcome.
 */
export function thrownFields(o: Outcome<unknown>): Record<string, unknown> {
  if (!("threw" in o)) return {};
  const e = o.threw;
  if (typeof e !== "object" || e === null) return { name: typeof e, value: e };
  const fields: Record<string, unknown> = { name: (e as Error).name };
  for (const [k, v] of Object.entries(e)) if (k !== "stack" && k !== "message") fields[k] = v;
  return fields;
}

/**
 * Binds a subject: the returned function compiles one rule row into a check.
 *
 * @param subject The part under test.
 * @param defaults Fields every row of this subject has unless it says otherwise.
 * @returns A function from a rule row to a {@linkcode Check}.
 */
export function ruleFor<I, C extends Case, R>(
  given: Subject<I, C, R>,
  defaults: RowDefaults<C> = {},
): <V = R>(row: Rule<C, R, V> | RowWithDefaults<C, R, V>) => Check<I> {
  const subject = given.key ? memoized(given, given.key) : given;
  return <V>(partial: Rule<C, R, V> | RowWithDefaults<C, R, V>): Check<I> => {
    const row = { ...defaults, ...partial } as Rule<C, R, V>;
    if (!row.cases || row.hint === undefined) {
      throw new TypeError(`Rule row "${row.name}" has no ${row.cases ? "hint" : "cases"}`);
    }
    return compile(subject, row);
  };
}

/** A rule row whose cases and hint may come from the subject's defaults. */
export type RowWithDefaults<C extends Case, R, V> =
  & Omit<Rule<C, R, V>, "cases" | "hint">
  & Partial<Pick<Rule<C, R, V>, "cases" | "hint">>;

function compile<I, C extends Case, R, V>(subject: Subject<I, C, R>, row: Rule<C, R, V>): Check<I> {
  return ({
    name: row.name,
    requirement: row.requirement,
    hint: row.hint,
    expects: row.expects ?? (typeof row.why === "string" ? row.why : undefined),
    run(impl: I) {
      const found = row.cases.kind === "every"
        ? sweep(impl, subject, row, row.cases.list())
        : shrink(impl, subject, row, row.cases);
      if (found) fail(found);
    },
  });
}

/** A pure subject whose observations are computed once per case (and implementation). */
function memoized<I, C extends Case, R>(
  subject: Subject<I, C, R>,
  key: (...args: C) => string | number,
): Subject<I, C, R> {
  const references = new Map<string | number, R>();
  const learners = new WeakMap<object, Map<string | number, R>>();
  return {
    ...subject,
    reference(...args) {
      const k = key(...args);
      if (!references.has(k)) references.set(k, subject.reference(...args));
      return references.get(k)!;
    },
    run(impl, ...args) {
      if (typeof impl !== "object" || impl === null) return subject.run(impl, ...args);
      let seen = learners.get(impl);
      if (!seen) learners.set(impl, seen = new Map());
      const k = key(...args);
      if (!seen.has(k)) seen.set(k, subject.run(impl, ...args)); // a throw is not kept: it fails the row
      return seen.get(k)!;
    },
  };
}

function sweep<I, C extends Case, R, V>(
  impl: I,
  subject: Subject<I, C, R>,
  row: Rule<C, R, V>,
  list: Iterable<C>,
): GradeFailureInit | null {
  let n = 0;
  for (const args of list) {
    if (row.when && !row.when(...args)) continue;
    n++;
    const failure = judge(impl, subject, row, args);
    if (failure) {
      return {
        ...failure,
        observed: `${failure.observed} (case ${n} of the sweep, the first that fails)`,
      };
    }
  }
  return null;
}

function shrink<I, C extends Case, R, V>(
  impl: I,
  subject: Subject<I, C, R>,
  row: Rule<C, R, V>,
  cases: Extract<Cases<C>, { kind: "sample" }>,
): GradeFailureInit | null {
  const given = typeof cases.arbitrary === "function" ? cases.arbitrary() : cases.arbitrary;
  const arbitrary = row.when ? given.filter((c) => row.when!(...c)) : given;
  const result = fc.check(
    fc.property(arbitrary, (args) => {
      try {
        return judge(impl, subject, row, args) === null;
      } catch {
        return false;
      }
    }),
    { seed: cases.seed, numRuns: cases.runs },
  );
  if (!result.failed || !result.counterexample) return null;
  const failure = judge(impl, subject, row, result.counterexample[0]);
  if (!failure) return null; // a case that fails only sometimes: not this engine's to judge
  return {
    ...failure,
    observed: `${failure.observed} (the smallest failing case fast-check found, seed ${`0x${
      cases.seed.toString(16)
    }`})`,
  };
}

/** Compares the learner's observation with the expected one on one case. */
function judge<I, C extends Case, R, V>(
  impl: I,
  subject: Subject<I, C, R>,
  row: Rule<C, R, V>,
  args: C,
): GradeFailureInit | null {
  const want = (row.reference ?? subject.reference)(...args);
  // Messages are built only for a failing case: sweeps run thousands of cases.
  const call = () => subject.show(...args);
  const result = row.result ?? subject.result;
  const expected = () =>
    `${typeof row.why === "string" ? row.why : row.why(want, ...args)}: ${result(want)}`;
  const requirement = () => row.cites?.(want, ...args);
  let got: R;
  try {
    got = subject.run(impl, ...args);
  } catch (error) {
    if (passesThrough(error)) throw error;
    const v = thrownViolation(error);
    if (v) {
      return {
        observed: `during ${call()}, the device reported ${showViolation(v)}`,
        expected: expected(),
        requirement: v.id,
      };
    }
    return {
      observed: `${call()} threw ${thrown(error)}`,
      expected: expected(),
      requirement: requirement(),
    };
  }
  const shape = subject.shape?.(got);
  if (shape !== undefined) {
    return {
      observed: `${call()} returned ${describe(got)}`,
      expected: shape,
      requirement: requirement(),
    };
  }
  const verdict = row.verdict ?? ((r: R) => r as unknown as V);
  let agree: boolean;
  try {
    agree = (row.agrees ?? deepEqual)(verdict(got, ...args), verdict(want, ...args), ...args);
  } catch {
    agree = false; // a malformed observation the shape check let through
  }
  if (agree) return null;
  const shown = result(got);
  return {
    // An observation that says what the call did ("threw ...") needs no verb.
    observed: /^(returned|threw)\b/.test(shown)
      ? `${call()} ${shown}`
      : `${call()} ${subject.verb ?? "returned"} ${shown}`,
    expected: expected(),
    requirement: requirement(),
    note: row.note?.(got, want, ...args),
  };
}

function passesThrough(error: unknown): boolean {
  return isNotWrittenYet(error) || isPermissionError(error);
}

/**
 * An error as a failure message shows it: `TypeError: x is undefined`.
 *
 * @param error Anything thrown.
 */
export function thrown(error: unknown): string {
  return showOutcome({ threw: error }).slice("threw ".length);
}
