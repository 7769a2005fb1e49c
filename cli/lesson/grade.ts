/**
 * `lab check [N] [--all]` (grade one lesson or all) and `lab watch [N]` (re-grade on
 * every save).
 *
 * @module
 */

import * as path from "node:path";
import type { Lesson } from "../../course/manifest.ts";
import {
  colorEnabled,
  painter,
  renderReport,
  renderReportJson,
  renderSummary,
} from "../../course/report.ts";
import { gradeLesson, type GradeReport } from "../../course/runner.ts";
import { EXIT_FAILURE, UserError } from "../errors.ts";
import type { LabContext } from "./context.ts";
import { fileUrl } from "../../format/links.ts";
import { hyperlinksEnabled } from "../terminal.ts";
import { terminalWidth, wrapProse } from "../wrap.ts";

/**
 * How `lab check` and `lab watch` render a report on this terminal: its
 * width, colour, and links (requirement ids to the spec, the exercise path
 * to its file) where the terminal shows them.
 */
export function terminalReport(
  ctx: LabContext,
  report: GradeReport,
  options: { verbose?: boolean } = {},
): string {
  const lesson = ctx.course.lessons.find((l) => l.id === report.lesson.id);
  return renderReport(report, {
    color: colorEnabled(),
    verbose: options.verbose,
    width: terminalWidth(),
    links: hyperlinksEnabled(),
    exerciseUrl: lesson ? fileUrl(ctx.workspace.exerciseFile(lesson)) : undefined,
  });
}

/** Options of {@linkcode check}. */
export interface CheckOptions {
  /** Print the report(s) as JSON. */
  readonly json?: boolean;
  /** Time limit of the test stage, in milliseconds. */
  readonly timeoutMs?: number;
  /** Show every failure in full. */
  readonly verbose?: boolean;
}

/**
 * Grades one lesson and records the result.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param timeoutMs Time limit of the test stage.
 */
export async function gradeAndRecord(
  ctx: LabContext,
  lesson: Lesson,
  timeoutMs?: number,
): Promise<GradeReport> {
  const report = await gradeLesson({ workspace: ctx.workspace, lesson, timeoutMs });
  ctx.workspace.recordGrade(lesson, report);
  return report;
}

/**
 * `lab check`: grades the lessons given (all when empty), prints the
 * reports and a summary.
 *
 * @param ctx Course and workspace.
 * @param lessons The lessons to grade.
 * @param options JSON output, time limit, verbosity.
 * @throws {UserError} With exit status 1 when any lesson does not pass.
 */
export async function check(
  ctx: LabContext,
  lessons: readonly Lesson[],
  options: CheckOptions,
): Promise<void> {
  if (lessons.length === 0) {
    throw new UserError("The course has no lessons yet (lessons/manifest.json lists none)");
  }
  const reports: GradeReport[] = [];
  const color = colorEnabled();
  for (const lesson of lessons) {
    const report = await gradeAndRecord(ctx, lesson, options.timeoutMs);
    reports.push(report);
    if (!options.json) {
      console.log(terminalReport(ctx, report, { verbose: options.verbose }));
      if (lessons.length > 1) console.log("");
    }
  }
  if (options.json) console.log(renderReportJson(lessons.length === 1 ? reports[0] : reports));
  else if (lessons.length > 1) console.log(renderSummary(reports, { color }));
  const failing = reports.filter((r) => !r.ok);
  if (failing.length > 0) {
    throw new UserError(
      lessons.length === 1
        ? `lesson ${failing[0].lesson.number} does not pass yet`
        : `${failing.length} of ${reports.length} lessons do not pass yet`,
      EXIT_FAILURE,
    );
  }
  if (!options.json && lessons.length === 1) {
    const next = ctx.course.lessons[lessons[0].number];
    const p = painter(color);
    console.log(p.dim(wrapProse(
      next
        ? `Next: deno task lab show ${next.number}  (${next.title})`
        : `That was the last lesson. Compare with the reference: deno task lab solution ${
          lessons[0].number
        }`,
      2,
    )));
  }
}

/** Options of {@linkcode watch}. */
export interface WatchOptions {
  /** Re-grade when Enter is pressed instead of watching files. */
  readonly manual?: boolean;
  /** Time limit of the test stage, in milliseconds. */
  readonly timeoutMs?: number;
  /** Debounce delay, in milliseconds (default 150). */
  readonly debounceMs?: number;
}

/**
 * `lab watch`: grades now, then again after every save of a `.ts` file in
 * the lesson's workspace folder (debounced), until Ctrl+C. Falls back to
 * re-grading on Enter when watching files fails or with `--manual`.
 *
 * @param ctx Course and workspace.
 * @param lesson The lesson.
 * @param options Manual mode, time limit, debounce.
 */
export async function watch(ctx: LabContext, lesson: Lesson, options: WatchOptions): Promise<void> {
  const color = colorEnabled();
  const p = painter(color);
  const tty = Deno.stdout.isTerminal();
  const dir = ctx.workspace.lessonDir(lesson);
  const shownDir = `${ctx.workspace.shown(dir)}/`;
  let running = false;
  let again = false;
  let stopped = false;

  const grade = async (reason: string) => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const started = new Date();
        if (tty) console.log("\x1b[2J\x1b[3J\x1b[H");
        console.log(
          p.dim(`[${started.toLocaleTimeString()}] ${reason}: grading lesson ${lesson.number}...`),
        );
        const report = await gradeAndRecord(ctx, lesson, options.timeoutMs);
        console.log(terminalReport(ctx, report));
        console.log(
          p.dim(
            options.manual
              ? `\nPress Enter to grade again, q then Enter to stop.`
              : `\nWatching ${shownDir} — save your exercise to re-grade; Ctrl+C to stop.`,
          ),
        );
      } while (again && !stopped);
    } finally {
      running = false;
    }
  };

  if (options.manual) {
    await grade("start");
    await manualLoop(grade);
    return;
  }

  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs([dir, lesson.paths.dir], { recursive: false });
  } catch (error) {
    console.error(
      `lab: watching files failed (${
        (error as Error).message
      }); falling back to --manual: press Enter to re-grade`,
    );
    await grade("start");
    await manualLoop(grade);
    return;
  }
  const stop = () => {
    stopped = true;
    try {
      watcher.close();
    } catch {
      // closed
    }
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    await grade("start");
    let timer: ReturnType<typeof setTimeout> | undefined;
    let changed = "";
    for await (const event of watcher) {
      if (event.kind === "access" || event.kind === "other") continue;
      const files = event.paths.filter((f) =>
        f.endsWith(".ts") || f.endsWith(".json") || f.endsWith(".md")
      );
      if (files.length === 0) continue;
      changed = path.basename(files[0]);
      clearTimeout(timer);
      timer = setTimeout(() => void grade(`${changed} changed`), options.debounceMs ?? 150);
    }
    clearTimeout(timer);
  } catch (error) {
    if (stopped) return;
    console.error(
      `lab: watching files failed (${
        (error as Error).message
      }); falling back to --manual: press Enter to re-grade`,
    );
    await manualLoop(grade);
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}

async function manualLoop(grade: (reason: string) => Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line === "q" || line === "quit") return;
      await grade("Enter pressed");
    }
  }
}
