/**
 * Defining a grader: a list of checks, each citing the requirement id it
 * enforces and the hint that helps, validated when the grader is defined.
 * A grader is a function of an implementation: the same checks run on the
 * learner's workspace file, on the pristine stub (must fail) and on the
 * lesson's `reference.ts` (must pass).
 *
 * @example
 * ```ts
 * import { defineGrader } from "./define.ts";
 * import { expectEqual } from "./expect.ts";
 * import { hex } from "./describe.ts";
 * interface Impl { magicValue(): number }
 * const grader = defineGrader<Impl>({
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
 * if (grader.testName(grader.checks[0]) !== 'MagicValue reads "virt" [4.2.2.1/1]') {
 *   throw new Error("test name");
 * }
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { findRequirement, type RequirementId } from "../../conformance/requirements.ts";
// A static import: plain `deno test` (no --allow-read) must not prompt for the manifest.
import defaultManifest from "../../lessons/manifest.json" with { type: "json" };

/** One check of a grader. */
export interface Check<I> {
  /** What is checked, in a few words; unique within the grader (it names the test). */
  readonly name: string;
  /** The requirement id the check enforces, e.g. `"4.2.2.1/1"` (a row of conformance/requirements.ts). */
  readonly requirement: RequirementId;
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
   * `GradeFailure` through the `expect*` helpers) when it fails.
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
   * hint pointers (default: this repository's `lessons/manifest.json`). Read
   * the first time a hint pointer is needed.
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

/**
 * Defines a grader, validating it at definition time. The grader and its
 * list of checks are frozen (the grading harness freezes the checks too).
 *
 * @param definition The lesson id and the checks.
 * @returns The grader.
 * @throws {RangeError} When a requirement id is unknown, a hint number is not
 *   a positive integer, a check has no name, two checks share a name, or
 *   there are no checks.
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
