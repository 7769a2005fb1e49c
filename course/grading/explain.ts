/**
 * Explaining failures: whatever a check threw (a {@linkcode GradeFailure}, a
 * stub's `todo()`, a `TypeError` in the learner's code, a conformance
 * violation, a permission the grading sandbox refused, a package the course
 * does not have) becomes a {@linkcode GradeFailure} whose message teaches.
 *
 * @example
 * ```ts
 * import { defineGrader } from "./define.ts";
 * import { explainFailure } from "./explain.ts";
 * import { todo } from "../stub.ts";
 * const check = { name: "reads magic", requirement: "4.2.2.1/1", hint: 1, run() {} } as const;
 * const grader = defineGrader({ lesson: "mmio-window", checks: [check] });
 * let thrown: unknown;
 * try {
 *   todo("readIdentification", "return MagicValue");
 * } catch (error) {
 *   thrown = error;
 * }
 * const failure = explainFailure(thrown, grader, check);
 * if (!failure.message.startsWith("observed: readIdentification() is not written yet")) {
 *   throw new Error(failure.message);
 * }
 * ```
 *
 * @module
 */

import * as path from "node:path";
import { ENGINE_DIR as ENGINE_ON_DISK } from "../paths.ts";
import { fileURLToPath } from "node:url";
import { findRequirement } from "../../conformance/requirements.ts";
import type { Check, Grader } from "./define.ts";
import { GradeFailure } from "./failure.ts";
import { asError, firstLine } from "./describe.ts";

/** What grading allows, for messages about a refused permission. */
export const PERMISSION_NOTE =
  "grading runs with read access to your lesson's folder and the course files your exercise " +
  "imports, and nothing else (no write, network, subprocess, environment or FFI access): an " +
  "exercise works on guest memory";

/** What grading allows, for messages about a package or remote module that could not load. */
export const DEPENDENCY_NOTE = "grading uses only the packages the course already has (its " +
  "deno.lock, from the local cache, with no network): an exercise imports the course's library " +
  "by relative paths, not packages of its own";

/** The course engine folder (`course/`): frames from here are not the learner's. */
const ENGINE_DIR = ENGINE_ON_DISK;

/**
 * The failure to report when the exercise module could not even be loaded
 * (it threw at the top level, or an import could not be resolved).
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
  const permission = isPermissionError(e);
  const dependency = !permission && isDependencyError(e);
  return new GradeFailure({
    observed:
      `your exercise module failed while loading: it threw ${safeName(e)}: ${
        permission ? permissionText(e) : firstLine(safeMessage(e))
      }` + (where ? ` (${where})` : ""),
    expected: check.expects ?? summaryOf(check.requirement, check.name),
    requirement: check.requirement,
    hint: check.hint,
    note: permission
      ? PERMISSION_NOTE
      : dependency
      ? DEPENDENCY_NOTE
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
    const hint = typeof f.hint === "number" ? f.hint : check.hint;
    return new GradeFailure({
      observed: String(f.observed),
      expected: String(f.expected),
      requirement: typeof f.requirement === "string" ? f.requirement : requirementId,
      hint,
      note: typeof f.note === "string" ? f.note : undefined,
    }, grader.hintCommand(hint));
  }
  const e = asError(error);
  const where = exerciseLocation(e);
  const at = where ? ` (${where})` : "";
  let observed: string;
  let note: string | undefined;
  if (isNotWrittenYet(e)) {
    const what = notWrittenName(e);
    observed = `${what} is not written yet: it threw ${
      JSON.stringify(firstLine(safeMessage(e)))
    }${at}`;
    note = "replace the todo() or TODO in your exercise.ts with your code, then check again";
  } else if (isPermissionError(e)) {
    observed = `your code was refused a permission: ${permissionText(e)}${at}`;
    note = PERMISSION_NOTE;
  } else if (safeName(e) === "ConformanceError") {
    observed = `a conformance violation was reported: ${firstLine(safeMessage(e))}${at}`;
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
    observed = `it threw ${safeName(e)}: ${firstLine(safeMessage(e))}${at}`;
    if (isDependencyError(e)) note = DEPENDENCY_NOTE;
  }
  return new GradeFailure(
    { observed, expected, requirement: requirementId, hint: check.hint, note },
    grader.hintCommand(check.hint),
  );
}

/**
 * Whether an error means "this part of the exercise is not written yet": a
 * `NotWrittenYetError` from `todo()`, or an error whose message starts with
 * TODO, "not implemented" or "not written yet".
 *
 * @param error Anything thrown.
 */
export function isNotWrittenYet(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return safeName(error) === "NotWrittenYetError" ||
    /^\s*(todo\b|not (yet )?implemented|not written yet|unimplemented)/i.test(safeMessage(error));
}

/**
 * Whether an error is a permission refused by Deno's sandbox.
 *
 * @param error Anything thrown.
 */
export function isPermissionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = safeName(error);
  return name === "NotCapable" || name === "PermissionDenied" ||
    error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied ||
    // A dynamic import refused by the sandbox is a TypeError naming the permission.
    /^Requires (read|write|net|env|run|ffi|sys|import) access/.test(safeMessage(error));
}

/**
 * Whether an error says a package or a remote module could not be loaded
 * because grading only uses the course's locked, cached dependencies.
 *
 * @param error Anything thrown.
 */
export function isDependencyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /--cached-only is specified|--no-remote is specified|lockfile is out of date|not found in cache|JSR package manifest/i
    .test(safeMessage(error));
}

/** "Requires read access to "/etc/hostname"" without Deno's advice to run with more permissions. */
function permissionText(e: Error): string {
  return firstLine(safeMessage(e)).replace(/,? run again with the --allow-[a-z-]+ flag\.?$/, "");
}

function summaryOf(id: string, fallback: string): string {
  const summary = findRequirement(id)?.summary;
  return summary ? summary : fallback;
}

/** An error's name, even when reading it throws (a hostile getter). */
function safeName(e: Error): string {
  try {
    return String(e.name);
  } catch {
    return "Error";
  }
}

/** An error's message, even when reading it throws (a hostile getter). */
function safeMessage(e: Error): string {
  try {
    return String(e.message);
  } catch {
    return "(its message could not be read)";
  }
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
  let stack: string;
  try {
    stack = String(error.stack ?? "");
  } catch {
    return [];
  }
  const frames: Frame[] = [];
  for (const line of stack.split("\n")) {
    // V8 writes `file:///path`; under SES lockdown (the grading harness) frames show the path.
    const m = /^\s*at (?:async )?(?:(.*?) \()?((?:file:\/\/)?\/[^\s)]+?):(\d+):(\d+)\)?\s*$/.exec(
      line,
    );
    if (!m) continue;
    let file: string;
    try {
      file = m[2].startsWith("file:") ? fileURLToPath(m[2]) : m[2];
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
