/**
 * What every lesson command needs: the course, the learner's workspace, a
 * lesson from what the user typed, and whether we may ask questions.
 *
 * @module
 */

import { UserError } from "../errors.ts";
import { CourseError } from "../../course/errors.ts";
import { type Course, findLesson, type Lesson, loadCourse } from "../../course/manifest.ts";
import { defaultCourseRoot } from "../../course/paths.ts";
import { Workspace } from "../../course/workspace.ts";

/** The course and the workspace, opened. */
export interface LabContext {
  /** The loaded course. */
  readonly course: Course;
  /** The learner's workspace (created and synced). */
  readonly workspace: Workspace;
}

/**
 * Loads the course and opens the workspace (creating it on first use). State
 * file warnings and stub changes are printed to stderr, once.
 *
 * @throws {UserError} On a course or workspace problem, in one line.
 */
export async function openLab(): Promise<LabContext> {
  return await userErrors(async () => {
    const course = loadCourse(defaultCourseRoot());
    const workspace = new Workspace(course);
    const firstUse = !exists(workspace.dir);
    workspace.checkUsable();
    void workspace.state;
    const sync = await workspace.sync();
    for (const warning of workspace.warnings) console.error(`lab: warning: ${warning}`);
    if (firstUse) {
      console.error(
        `lab: created your workspace at ${workspace.shown(workspace.dir)}/ from the lesson stubs`,
      );
    }
    for (const file of sync.updated) {
      console.error(
        `lab: ${workspace.shown(file)} was never edited: updated it to the course's new stub`,
      );
    }
    for (const lesson of sync.stubChanged) {
      console.error(
        `lab: note: the stub of lesson ${lesson.number} changed since you started; your file is untouched ` +
          `(\`deno task lab reset ${lesson.number}\` takes the new stub and keeps a backup of yours)`,
      );
    }
    return { course, workspace };
  });
}

/**
 * Finds a lesson from what the user typed.
 *
 * @throws {UserError} Listing the valid ids when nothing matches.
 */
export function lessonArg(course: Course, ref: string): Lesson {
  return userErrorsSync(() => findLesson(course, ref));
}

/**
 * The lesson to work on when none is named: the first one not passed yet
 * (or the last lesson when all pass).
 *
 * @returns `null` when the course has no lessons.
 */
export function currentLesson(ctx: LabContext): Lesson | null {
  const { course, workspace } = ctx;
  return course.lessons.find((l) => workspace.progress(l).status !== "passed") ??
    course.lessons.at(-1) ?? null;
}

/**
 * The lesson named on the command line, or the current one.
 *
 * @throws {UserError} When none is named and the course has no lessons.
 */
export function lessonOrCurrent(ctx: LabContext, ref: string | undefined): Lesson {
  if (ref !== undefined) return lessonArg(ctx.course, ref);
  const lesson = currentLesson(ctx);
  if (!lesson) {
    throw new UserError("The course has no lessons yet (lessons/manifest.json lists none)");
  }
  return lesson;
}

/**
 * The lesson whose reference code a learner most likely wants when they name
 * none: the one passed most recently (latest `passedAt`; among lessons with no
 * time recorded, the last in course order).
 *
 * @returns `null` when no lesson passes.
 */
export function lastPassedLesson(ctx: LabContext): Lesson | null {
  let best: Lesson | null = null;
  let bestAt = "";
  for (const lesson of ctx.course.lessons) {
    const progress = ctx.workspace.progress(lesson);
    if (progress.status !== "passed") continue;
    const at = progress.passedAt ?? "";
    if (best === null || at >= bestAt) {
      best = lesson;
      bestAt = at;
    }
  }
  return best;
}

/** Whether both stdin and stdout are terminals (menus and confirmations are allowed). */
export function isInteractive(): boolean {
  try {
    return Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Runs `fn`, turning a course error into a one-line {@linkcode UserError}.
 *
 * @param fn The work.
 */
export async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof CourseError) throw new UserError(error.message, error.exitCode);
    throw error;
  }
}

/**
 * Synchronous {@linkcode userErrors}.
 *
 * @param fn The work.
 */
export function userErrorsSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof CourseError) throw new UserError(error.message, error.exitCode);
    throw error;
  }
}

/**
 * Parses a `--timeout` value in seconds.
 *
 * @param value As typed.
 * @returns Milliseconds.
 * @throws {UserError} When it is not a positive number.
 */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UserError(`--timeout must be a positive number of seconds, not "${value}"`);
  }
  return Math.round(seconds * 1000);
}

function exists(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}
