/**
 * The grader API. A grader is a function of an implementation: a list of
 * checks, each citing the requirement id it enforces and the hint that helps,
 * run against whatever module exports the lesson's names: the learner's
 * workspace file, the pristine stub (must fail) or the lesson's
 * `reference.ts` (must pass).
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

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConformanceLog } from "../conformance/log.ts";
import { findRequirement, requirement as lookupRequirement } from "../conformance/requirements.ts";
// A static import: plain `deno test` (no --allow-read) must not prompt for the manifest.
import defaultManifest from "../lessons/manifest.json" with { type: "json" };

/** One check of a grader. */
export interface Check<I> {
  /** What is checked, in a few words; unique within the grader (it names the test). */
  readonly name: string;
  /** The requirement id the check enforces, e.g. `"4.2.2.1/1"` (must exist in conformance/requirements.ts). */
  readonly requirement: string;
  /** Which hint of the lesson helps when this check fails (1-based). */
  readonly hint: number;
  /**
   * What the spec requires, in the learner's words, used when the check fails
   * with an error it did not anticipate, e.g. "reads of Status to return the
   * last value written". Defaults to the requirement's summary.
   */
  readonly expects?: string;
  /**
   * Runs the check against an implementation; throws (preferably a
   * {@linkcode GradeFailure} through the `expect*` helpers) when it fails.
   *
   * @param impl The module under test (the learner's, the stub or the reference).
   */
  run(impl: I): void | Promise<void>;
}

/** What {@linkcode defineGrader} takes. */
export interface GraderDefinition<I> {
  /** The lesson id from `lessons/manifest.json`, e.g. `"mmio-window"`. */
  readonly lesson: string;
  /**
   * The course manifest, to turn the lesson id into the number people type in
   * hint pointers (default: this repository's `lessons/manifest.json`).
   */
  readonly manifest?: string | URL;
  /** The checks, in the order they run. */
  readonly checks: readonly Check<I>[];
}

/** A grader: the checks of one lesson, bound to nothing yet. */
export interface Grader<I> {
  /** The lesson id. */
  readonly lesson: string;
  /** The checks, in order. */
  readonly checks: readonly Check<I>[];
  /**
   * The command that shows a hint, e.g. `"deno task lab hint 1 2"`.
   *
   * @param hint Hint number (1-based).
   */
  hintCommand(hint: number): string;
  /** The `Deno.test` name of a check: `"<name> [<requirement>]"`. */
  testName(check: Check<I>): string;
}

/** The outcome of one check run in-process. */
export interface CheckResult {
  /** The check's name. */
  readonly name: string;
  /** Whether it passed. */
  readonly status: "passed" | "failed";
  /** The teaching message ("" when passed). */
  readonly message: string;
  /** The requirement id the check enforces. */
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

const PERMISSION_NOTE = "grading runs with read access to the course and your workspace only " +
  "(no write, network, subprocess, environment or FFI access): an exercise works on guest memory";
const ENGINE_DIR = path.resolve(fileURLToPath(new URL(".", import.meta.url)));

/**
 * Defines a grader, validating it at definition time.
 *
 * @param definition The lesson id and the checks.
 * @returns The grader.
 * @throws {RangeError} When a requirement id is unknown, a hint number is not
 *   a positive integer, or two checks share a name.
 */
export function defineGrader<I>(definition: GraderDefinition<I>): Grader<I> {
  const names = new Set<string>();
  if (definition.checks.length === 0) {
    throw new RangeError(`Grader for lesson "${definition.lesson}" has no checks`);
  }
  for (const check of definition.checks) {
    if (!check.name.trim()) {
      throw new RangeError(`Grader for "${definition.lesson}": a check has no name`);
    }
    if (names.has(check.name)) {
      throw new RangeError(
        `Grader for "${definition.lesson}": two checks are named "${check.name}"`,
      );
    }
    names.add(check.name);
    if (!findRequirement(check.requirement)) {
      throw new RangeError(
        `Grader for "${definition.lesson}", check "${check.name}": unknown requirement id "${check.requirement}"`,
      );
    }
    if (!Number.isInteger(check.hint) || check.hint < 1) {
      throw new RangeError(
        `Grader for "${definition.lesson}", check "${check.name}": hint must be a positive integer`,
      );
    }
  }
  let cachedNumber: string | undefined;
  const lessonRef = (): string => {
    cachedNumber ??=
      (definition.manifest
        ? lessonNumberFromFile(definition.manifest, definition.lesson)
        : lessonNumberIn(defaultManifest, definition.lesson)) ?? definition.lesson;
    return cachedNumber;
  };
  return Object.freeze({
    lesson: definition.lesson,
    checks: Object.freeze([...definition.checks]),
    hintCommand: (hint: number) => `deno task lab hint ${lessonRef()} ${hint}`,
    testName: (check: Check<I>) => `${check.name} [${check.requirement}]`,
  });
}

function lessonNumberIn(manifest: unknown, id: string): string | undefined {
  const lessons = (manifest as { lessons?: { id?: string }[] } | null)?.lessons;
  const index = Array.isArray(lessons) ? lessons.findIndex((l) => l?.id === id) : -1;
  return index >= 0 ? String(index + 1) : undefined;
}

function lessonNumberFromFile(manifest: string | URL, id: string): string | undefined {
  try {
    const file = manifest instanceof URL ? fileURLToPath(manifest) : manifest;
    return lessonNumberIn(JSON.parse(Deno.readTextFileSync(file)), id);
  } catch {
    return undefined; // unreadable (or no permission): point at the id instead
  }
}

/** What a {@linkcode GradeFailure} is built from. */
export interface GradeFailureInit {
  /** What the check saw, e.g. `"MagicValue (0x000) read 0x0"`. */
  readonly observed: string;
  /** What the spec requires, e.g. `"MagicValue to read 0x74726976"`. */
  readonly expected: string;
  /** Requirement id; defaults to the check's. */
  readonly requirement?: string;
  /** Hint number; defaults to the check's. */
  readonly hint?: number;
  /** One more line of explanation, printed after the hint pointer. */
  readonly note?: string;
}

/**
 * A failed check, with what was observed, what the spec requires, where
 * (section and requirement id) and which hint to read. Its `message` is the
 * teaching text; its `stack` is the message alone (a learner needs no frames
 * from the grader).
 */
export class GradeFailure extends Error {
  /** What the check saw. */
  readonly observed: string;
  /** What the spec requires. */
  readonly expected: string;
  /** Requirement id, when known (always set once the failure leaves a check). */
  readonly requirement: string | undefined;
  /** Hint number, when known. */
  readonly hint: number | undefined;
  /** The command that shows the hint, when known. */
  readonly hintCommand: string | undefined;
  /** An extra line of explanation. */
  readonly note: string | undefined;

  /**
   * Builds the failure and its teaching message.
   *
   * @param init What was observed and what is required.
   * @param hintCommand The command that shows the hint (set when the failure leaves a check).
   */
  constructor(init: GradeFailureInit, hintCommand?: string) {
    super(formatFailure(init, hintCommand));
    this.name = "GradeFailure";
    this.observed = init.observed;
    this.expected = init.expected;
    this.requirement = init.requirement;
    this.hint = init.hint;
    this.hintCommand = hintCommand;
    this.note = init.note;
    this.stack = `${this.name}: ${this.message}`;
  }
}

function formatFailure(init: GradeFailureInit, hintCommand: string | undefined): string {
  const lines = [`observed: ${init.observed}`];
  let where = "";
  if (init.requirement) {
    const req = findRequirement(init.requirement);
    where = req
      ? ` (§${req.section}, requirement ${req.id})`
      : ` (requirement ${init.requirement})`;
  }
  lines.push(`the spec requires: ${init.expected}${where}`);
  if (init.hint !== undefined) {
    lines.push(hintCommand ? `read hint ${init.hint}: ${hintCommand}` : `read hint ${init.hint}`);
  }
  if (init.note) lines.push(init.note);
  return lines.join("\n");
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
    const failure = explainFailure(error, grader, check);
    return {
      name: check.name,
      status: "failed",
      message: failure.message,
      requirement: failure.requirement ?? check.requirement,
      section: findRequirement(failure.requirement ?? "")?.section ?? section,
      hint: failure.hint ?? check.hint,
      durationMs: performance.now() - started,
      failure,
    };
  }
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
  const loaded = settle(impl);
  const results: CheckResult[] = [];
  for (const check of grader.checks) {
    const outcome = await loaded;
    if (outcome.ok) {
      results.push(await runCheck(grader, check, outcome.value));
    } else {
      const failure = explainLoadFailure(outcome.error, grader, check);
      results.push({
        name: check.name,
        status: "failed",
        message: failure.message,
        requirement: check.requirement,
        section: lookupRequirement(check.requirement).section,
        hint: check.hint,
        durationMs: 0,
        failure,
      });
    }
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

/**
 * The failure to report when the exercise module could not even be loaded
 * (it threw at the top level).
 *
 * @param error What the import threw.
 * @param grader The grader.
 * @param check The check being reported.
 */
export function explainLoadFailure<I>(
  error: unknown,
  grader: Grader<I>,
  check: Check<I>,
): GradeFailure {
  const e = asError(error);
  const where = exerciseLocation(e);
  return new GradeFailure({
    observed:
      `your exercise module failed while loading: it threw ${e.name}: ${
        isPermissionError(e) ? permissionText(e) : firstLine(e.message)
      }` +
      (where ? ` (${where})` : ""),
    expected: check.expects ?? summaryOf(check.requirement, check.name),
    requirement: check.requirement,
    hint: check.hint,
    note: isPermissionError(e)
      ? PERMISSION_NOTE
      : "fix the error at the top level of exercise.ts first: every check needs the module to load",
  }, grader.hintCommand(check.hint));
}

/**
 * Turns whatever a check threw into a complete {@linkcode GradeFailure}:
 * fills in the check's requirement and hint, and explains stubs that are not
 * written yet, errors thrown by the learner's code, conformance violations
 * and permissions refused by the grading sandbox.
 *
 * @param error What the check threw.
 * @param grader The grader.
 * @param check The check that threw.
 */
export function explainFailure<I>(
  error: unknown,
  grader: Grader<I>,
  check: Check<I>,
): GradeFailure {
  const requirementId = check.requirement;
  const expected = check.expects ?? summaryOf(requirementId, check.name);
  if (error instanceof GradeFailure || (error instanceof Error && error.name === "GradeFailure")) {
    const f = error as GradeFailure;
    const hint = f.hint ?? check.hint;
    return new GradeFailure({
      observed: f.observed,
      expected: f.expected,
      requirement: f.requirement ?? requirementId,
      hint,
      note: f.note,
    }, grader.hintCommand(hint));
  }
  const e = asError(error);
  const where = exerciseLocation(e);
  const at = where ? ` (${where})` : "";
  let observed: string;
  let note: string | undefined;
  if (isNotWrittenYet(e)) {
    const what = notWrittenName(e);
    observed = `${what} is not written yet: it threw ${JSON.stringify(firstLine(e.message))}${at}`;
    note = "replace the todo() or TODO in your exercise.ts with your code, then check again";
  } else if (isPermissionError(e)) {
    observed = `your code was refused a permission: ${permissionText(e)}${at}`;
    note = PERMISSION_NOTE;
  } else if (e.name === "ConformanceError") {
    observed = `a conformance violation was reported: ${firstLine(e.message)}${at}`;
    // A strict log names the rule that was actually broken: cite that one,
    // with its own summary, rather than the rule the check was about.
    const violated = (e as { violation?: { id?: unknown } }).violation?.id;
    if (typeof violated === "string" && findRequirement(violated) && violated !== requirementId) {
      return new GradeFailure(
        {
          observed,
          expected: summaryOf(violated, expected),
          requirement: violated,
          hint: check.hint,
          note:
            `this check is about ${requirementId}; the machine stopped at the first rule broken`,
        },
        grader.hintCommand(check.hint),
      );
    }
  } else {
    observed = `it threw ${e.name}: ${firstLine(e.message)}${at}`;
  }
  return new GradeFailure(
    { observed, expected, requirement: requirementId, hint: check.hint, note },
    grader.hintCommand(check.hint),
  );
}

/** "Requires read access to "/etc/hostname"" without Deno's advice to run with more permissions. */
function permissionText(e: Error): string {
  return firstLine(e.message).replace(/,? run again with the --allow-[a-z-]+ flag\.?$/, "");
}

function summaryOf(id: string, fallback: string): string {
  const summary = findRequirement(id)?.summary;
  return summary ? summary : fallback;
}

function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  const e = new Error(typeof error === "string" ? error : `a non-Error value: ${describe(error)}`);
  e.name = "thrown value";
  return e;
}

function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * Whether an error means "this part of the exercise is not written yet": a
 * {@linkcode NotWrittenYetError} from `todo()`, or an error whose message
 * starts with TODO, "not implemented" or "not written yet".
 *
 * @param error Anything thrown.
 */
export function isNotWrittenYet(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === "NotWrittenYetError" ||
    /^\s*(todo\b|not (yet )?implemented|not written yet|unimplemented)/i.test(error.message);
}

/**
 * Whether an error is a permission refused by Deno's sandbox.
 *
 * @param error Anything thrown.
 */
export function isPermissionError(error: unknown): boolean {
  return error instanceof Error &&
    (error.name === "NotCapable" || error.name === "PermissionDenied" ||
      error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied);
}

function notWrittenName(error: Error): string {
  const what = (error as { what?: unknown }).what;
  if (typeof what === "string" && what) return what.endsWith(")") ? what : `${what}()`;
  const frame = stackFrames(error).find((f) => !f.file.startsWith(ENGINE_DIR));
  if (frame?.fn) return `${frame.fn.replace(/^(async |new )/, "")}()`;
  return "this part of your exercise";
}

interface Frame {
  readonly fn: string;
  readonly file: string;
  readonly line: number;
}

function stackFrames(error: Error): Frame[] {
  const frames: Frame[] = [];
  for (const line of (error.stack ?? "").split("\n")) {
    const m = /^\s*at (?:async )?(?:(.*?) \()?(file:\/\/[^\s)]+?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    let file: string;
    try {
      file = fileURLToPath(m[2]);
    } catch {
      continue;
    }
    frames.push({ fn: m[1] ?? "", file, line: Number(m[3]) });
  }
  return frames;
}

/** `exercise.ts:14` for the innermost frame in the learner's file (or outside the engine). */
function exerciseLocation(error: Error): string {
  const frames = stackFrames(error);
  const frame = frames.find((f) => path.basename(f.file) === "exercise.ts") ??
    frames.find((f) => !f.file.startsWith(ENGINE_DIR) && !/[/\\]lessons[/\\]/.test(f.file));
  return frame ? `${path.basename(frame.file)}:${frame.line}` : "";
}

// ---------------------------------------------------------------------------
// Assertion helpers: each throws a GradeFailure that reads like the spec.

/** Options shared by the `expect*` helpers. */
export interface ExpectOptions {
  /** Requirement id, when it differs from the check's. */
  readonly requirement?: string;
  /** Hint number, when it differs from the check's. */
  readonly hint?: number;
  /** What the spec requires, in words (replaces the generated "X to be Y"). */
  readonly requires?: string;
  /** One more line of explanation. */
  readonly note?: string;
}

/** Options of {@linkcode expectEqual}. */
export interface ExpectEqualOptions<T> extends ExpectOptions {
  /** How to show values (default {@linkcode describe}); {@linkcode hex} suits registers. */
  readonly format?: (value: T) => string;
}

/**
 * Fails the check.
 *
 * @param init What was observed and what is required.
 * @throws {GradeFailure} Always.
 */
export function fail(init: GradeFailureInit): never {
  throw new GradeFailure(init);
}

/**
 * Fails the check unless `condition` holds.
 *
 * @param condition What must be true.
 * @param init What was observed and what is required, used when it is false.
 * @throws {GradeFailure} When `condition` is false.
 */
export function expect(condition: unknown, init: GradeFailureInit): asserts condition {
  if (!condition) throw new GradeFailure(init);
}

/**
 * Fails unless `actual` deep-equals `expected` (numbers, bigints, strings,
 * arrays, typed arrays, plain objects).
 *
 * @param actual What the implementation produced.
 * @param expected What the spec requires.
 * @param what What the value is, e.g. `"MagicValue (0x000)"`.
 * @param options Formatting and overrides.
 * @throws {GradeFailure} Observed "`what` was `actual`", required "`what` to be `expected`".
 */
export function expectEqual<T>(
  actual: T,
  expected: T,
  what: string,
  options: ExpectEqualOptions<T> = {},
): void {
  if (deepEqual(actual, expected)) return;
  const show = options.format ?? ((v: T) => describe(v));
  throw new GradeFailure({
    observed: `${what} was ${safeShow(show, actual)}`,
    expected: options.requires ?? `${what} to be ${safeShow(show, expected)}`,
    requirement: options.requirement,
    hint: options.hint,
    note: options.note,
  });
}

function safeShow<T>(show: (v: T) => string, value: T): string {
  try {
    return show(value);
  } catch {
    return describe(value);
  }
}

/** Options of {@linkcode expectThrows}. */
export interface ExpectThrowsOptions extends ExpectOptions {
  /** What the spec requires, in words (required: there is no generated default worth reading). */
  readonly requires: string;
  /** Accepts only some errors (e.g. `(e) => e instanceof RangeError`). */
  readonly accept?: (error: unknown) => boolean;
}

/**
 * Fails unless `fn` throws (or rejects). A stub's `todo()` and a refused
 * permission are passed through, so a stub never "passes" by throwing.
 *
 * @param fn The call that must fail.
 * @param what The call, in words, e.g. `"reading QueueNotify (0x050)"`.
 * @param options What the spec requires, and which errors count.
 * @returns The error thrown.
 * @throws {GradeFailure} When `fn` returns normally or throws an error `accept` refuses.
 */
export async function expectThrows(
  fn: () => unknown,
  what: string,
  options: ExpectThrowsOptions,
): Promise<unknown> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    if (isNotWrittenYet(error) || isPermissionError(error)) throw error;
    if (options.accept && !options.accept(error)) {
      const e = asError(error);
      throw new GradeFailure({
        observed: `${what} threw ${e.name}: ${firstLine(e.message)}`,
        expected: options.requires,
        requirement: options.requirement,
        hint: options.hint,
        note: options.note,
      });
    }
    return error;
  }
  throw new GradeFailure({
    observed: `${what} returned ${describe(result)} without an error`,
    expected: options.requires,
    requirement: options.requirement,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * Fails unless the conformance log recorded a violation of `id` (use it to
 * check that a learner's device or driver *notices* the other side breaking
 * a rule).
 *
 * @param log The machine's conformance log.
 * @param id The requirement id that must have been reported.
 * @param after What was done, in words, e.g. `"a 16-bit read of Status"`.
 * @param options Overrides.
 * @throws {GradeFailure} When no such violation was recorded.
 */
export function expectViolation(
  log: ConformanceLog,
  id: string,
  after: string,
  options: ExpectOptions = {},
): void {
  if (log.has(id)) return;
  const others = log.entries.map((v) => v.id);
  throw new GradeFailure({
    observed: `after ${after}, no violation of ${id} was reported` +
      (others.length ? ` (reported: ${[...new Set(others)].join(", ")})` : " (the log is empty)"),
    expected: options.requires ?? `${after} to be reported as a violation of ${id}`,
    requirement: options.requirement ?? id,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * Fails if the conformance log recorded any violation.
 *
 * @param log The machine's conformance log.
 * @param during What was done, in words.
 * @param options Overrides.
 * @throws {GradeFailure} Listing the first violation.
 */
export function expectNoViolations(
  log: ConformanceLog,
  during: string,
  options: ExpectOptions = {},
): void {
  const first = log.entries[0];
  if (!first) return;
  throw new GradeFailure({
    observed: `during ${during}, ${log.entries.length} violation(s) were reported, first ` +
      `§${first.id}: ${first.message}`,
    expected: options.requires ?? `${during} to follow the spec (no violations)`,
    requirement: options.requirement ?? first.id,
    hint: options.hint,
    note: options.note,
  });
}

/**
 * A number as hexadecimal, e.g. `hex(0x74726976)` is `"0x74726976"`,
 * `hex(5, 2)` is `"0x05"`. Non-numbers are described as usual.
 *
 * @param value The value.
 * @param digits Minimum number of hex digits.
 */
export function hex(value: unknown, digits = 1): string {
  if (typeof value === "number" && Number.isInteger(value)) {
    return `${value < 0 ? "-" : ""}0x${Math.abs(value).toString(16).padStart(digits, "0")}`;
  }
  if (typeof value === "bigint") {
    return `${value < 0n ? "-" : ""}0x${
      (value < 0n ? -value : value).toString(16).padStart(digits, "0")
    }`;
  }
  return describe(value);
}

/**
 * A short, colourless description of any value for a failure message:
 * integers above 9 also in hex (`4096 (0x1000)`), strings quoted, arrays and
 * objects compact.
 *
 * @param value The value.
 */
export function describe(value: unknown): string {
  if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) > 9) {
    return `${value} (${hex(value)})`;
  }
  if (typeof value === "bigint") return `${value}n (${hex(value)})`;
  if (value === undefined) return "undefined";
  if (typeof value === "function") return `a function ${value.name || "(anonymous)"}`;
  try {
    const text = Deno.inspect(value, {
      colors: false,
      compact: true,
      breakLength: Infinity,
      depth: 3,
    });
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    return String(value);
  }
}

/**
 * Structural equality for the values graders compare.
 *
 * @param a One value.
 * @param b The other.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return a.constructor === b.constructor && x.length === y.length &&
      x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set) {
    if (!(a instanceof Map && b instanceof Map) && !(a instanceof Set && b instanceof Set)) {
      return false;
    }
    return deepEqual([...a], [...(b as Iterable<unknown>)]);
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b as object, k) &&
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}
