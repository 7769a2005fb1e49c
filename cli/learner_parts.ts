/**
 * The learner's own parts, for `--mine` (`lab boot --mine`, `lab disk ...
 * --mine`): for every lesson the learner has passed, the functions its
 * exercise exports under the names of the registry parts its `lesson.json`
 * lists (`parts`) replace the reference ones; and features whose lesson has
 * not passed yet (`manifest.json` → `features`) are withheld from the machine,
 * so code written for an earlier lesson never meets a feature it was not
 * taught.
 *
 * @module
 */

import { defaultCourseRoot, fileUrl } from "../course/paths.ts";
import { loadCourse } from "../course/manifest.ts";
import { Workspace } from "../course/workspace.ts";
import { featureMaskFor, withheldFeatureNames } from "../course/features.ts";
import { findPart, type MachineParts, machineParts, type PartKey, PARTS } from "../parts.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";

/** One part taken from the learner's workspace. */
export interface LearnerPart {
  /** The registry key, e.g. `"transport.driver.probeWindow"`. */
  readonly key: PartKey;
  /** The part's name, e.g. `"probeWindow"`. */
  readonly name: string;
  /** The lesson number it comes from. */
  readonly lesson: number;
}

/** The parts found, what was skipped, and which features are withheld. */
export interface LearnerParts {
  /** Ready for `createMachine({ parts })`. */
  readonly parts: MachineParts;
  /** Every replaced part, in lesson order (a later lesson's part replaces an earlier one's). */
  readonly used: readonly LearnerPart[];
  /** Lessons not used because they do not pass yet, by number. */
  readonly skipped: readonly number[];
  /** What the devices may offer: `createMachine({ featureMask })`, every bit but the withheld. */
  readonly featureMask: bigint;
  /** Their names, in lesson order. */
  readonly withheldNames: readonly string[];
}

/**
 * Loads the registry parts of every lesson the learner has passed.
 *
 * @returns The parts, which ones were used, which lessons were skipped, and
 *   the features withheld.
 * @throws {UserError} When a passed lesson's exercise no longer loads or no
 *   longer exports one of its parts as a function.
 */
export async function learnerParts(): Promise<LearnerParts> {
  const course = loadCourse(defaultCourseRoot());
  const workspace = await Workspace.open(course);
  const replacements: [PartKey, unknown][] = [];
  const used: LearnerPart[] = [];
  const skipped: number[] = [];
  for (const lesson of course.lessons) {
    if (workspace.progress(lesson).status !== "passed") {
      skipped.push(lesson.number);
      continue;
    }
    if (lesson.parts.length === 0) continue;
    let module: Record<string, unknown>;
    try {
      module = await import(fileUrl(workspace.exerciseFile(lesson)));
    } catch (error) {
      throw new UserError(
        `your lesson ${lesson.number} exercise no longer loads (${firstLine(error)}): ` +
          `run deno task lab check ${lesson.number}`,
        EXIT_FAILURE,
      );
    }
    for (const key of lesson.parts) {
      const name = findPart(key)!.name;
      const fn = module[name];
      if (typeof fn !== "function") {
        throw new UserError(
          `your lesson ${lesson.number} exercise no longer exports ${name} as a function: ` +
            `run deno task lab check ${lesson.number}`,
          EXIT_FAILURE,
        );
      }
      replacements.push([key, fn]);
      const earlier = used.findIndex((u) => u.key === key);
      if (earlier >= 0) used.splice(earlier, 1);
      used.push({ key, name, lesson: lesson.number });
    }
  }
  const passed = new Set(
    course.lessons.filter((l) => !skipped.includes(l.number)).map((l) => l.id),
  );
  const unlocked = (id: string) => passed.has(id);
  return {
    parts: machineParts(replacements),
    used,
    skipped,
    featureMask: featureMaskFor(course, unlocked),
    withheldNames: withheldFeatureNames(course, unlocked),
  };
}

/**
 * Which parts of the machine are the learner's, layer by layer and side by
 * side, and which features are withheld: the lines `lab boot --mine` shows.
 *
 * @param mine What {@linkcode learnerParts} found.
 * @returns Lines of text, without trailing newlines.
 */
export function describeLearnerParts(
  mine: Pick<LearnerParts, "used" | "withheldNames">,
): string[] {
  const groups = new Map<string, { total: number; yours: LearnerPart[] }>();
  for (const part of PARTS) {
    const group = `${part.layer}.${part.side}`;
    const entry = groups.get(group) ?? { total: 0, yours: [] };
    entry.total++;
    const used = mine.used.find((u) => u.key === part.key);
    if (used) entry.yours.push(used);
    groups.set(group, entry);
  }
  const width = Math.max(...[...groups.keys()].map((g) => g.length));
  const lines = ["Your code in this machine, part by part (the rest is the reference):"];
  for (const [group, { total, yours }] of groups) {
    const count = `${yours.length}/${total}`.padStart(5);
    const which = yours.length === 0
      ? "reference"
      : yours.length === total
      ? `all yours (${lessonsOf(yours)})`
      : yours.map((u) => `${u.name} (lesson ${u.lesson})`).join(", ");
    lines.push(`  ${group.padEnd(width)} ${count}  ${which}`);
  }
  if (mine.withheldNames.length > 0) {
    lines.push(`Withheld until their lessons pass: ${mine.withheldNames.join(", ")}`);
  }
  return lines;
}

function lessonsOf(parts: readonly LearnerPart[]): string {
  const numbers = [...new Set(parts.map((p) => p.lesson))].sort((a, b) => a - b);
  return `lesson${numbers.length > 1 ? "s" : ""} ${numbers.join(", ")}`;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
