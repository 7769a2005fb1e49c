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
import { showHint } from "./text.ts";
import { stderrProgress } from "../progress.ts";
import { labCommand } from "../invocation.ts";
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
  // Grading the whole course takes a while: a progress line on stderr (on a terminal only),
  // erased before each report is printed.
  let current = lessons[0];
  const progress = stderrProgress((done, total, elapsed) =>
    `grading lesson ${current.number} (${done + 1} of ${total}) · ${current.title} · ` +
    `${reports.filter((r) => r.ok).length} passed so far · ${elapsed.toFixed(0)} s`
  );
  const tick = lessons.length > 1 && progress.shown
    ? setInterval(() => progress.update(reports.length, lessons.length), 500)
    : undefined;
  try {
    for (const lesson of lessons) {
      current = lesson;
      if (lessons.length > 1) progress.update(reports.length, lessons.length);
      const report = await gradeAndRecord(ctx, lesson, options.timeoutMs);
      progress.finish();
      reports.push(report);
      if (!options.json) {
        console.log(terminalReport(ctx, report, { verbose: options.verbose }));
        if (lessons.length > 1) console.log("");
      }
    }
  } finally {
    clearInterval(tick);
    progress.finish();
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

/** What the watch loop reacts to. */
type WatchEvent =
  | { readonly kind: "grade"; readonly reason: string }
  | { readonly kind: "key"; readonly key: string }
  | { readonly kind: "end" };

/** An unbounded queue of events with an awaitable `next`. */
class EventQueue<T> {
  #items: T[] = [];
  #waiting: ((item: T) => void) | null = null;

  push(item: T): void {
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = null;
      resolve(item);
    } else {
      this.#items.push(item);
    }
  }

  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Drops the queued items `drop` selects; returns how many went. */
  discard(drop: (item: T) => boolean): number {
    const before = this.#items.length;
    this.#items = this.#items.filter((item) => !drop(item));
    return before - this.#items.length;
  }
}

/** The stdin keys `lab watch` understands. */
const KEY_HINT = "h";
const KEY_NEXT = "n";
const KEY_QUIT = "q";
const KEY_GRADE = "r";
const CTRL_C = "\x03";
const CTRL_D = "\x04";
const QUIT_KEYS: readonly string[] = [KEY_QUIT, CTRL_C, CTRL_D];

/**
 * `lab watch`: grades now, then again after every save of a `.ts`, `.json`
 * or `.md` file in the lesson's workspace folder (debounced), keeping what
 * was printed before (the scrollback is never cleared). Keys on a terminal
 * (stdin in raw mode, restored on every way out): `h` the next hint, `r` grade
 * again, `n` move on to the next lesson once this one passes, `q` (or Ctrl+C,
 * Ctrl+D) quit. Off a terminal the same letters work as lines (`h` then
 * Enter); Enter alone grades again in `--manual` mode. Falls back to
 * `--manual` when watching files fails.
 *
 * @param ctx Course and workspace.
 * @param first The lesson to start with.
 * @param options Manual mode, time limit, debounce.
 */
export async function watch(ctx: LabContext, first: Lesson, options: WatchOptions): Promise<void> {
  const color = colorEnabled();
  const p = painter(color);
  const raw = isRawCapable();
  const queue = new EventQueue<WatchEvent>();
  let lesson = first;
  let manual = options.manual ?? false;
  let watcher: Deno.FsWatcher | null = null;
  let passed = false;

  const stopWatching = () => {
    const w = watcher;
    watcher = null;
    try {
      w?.close();
    } catch {
      // already closed
    }
  };
  const startWatching = () => {
    stopWatching();
    if (manual) return;
    const dir = ctx.workspace.lessonDir(lesson);
    let w: Deno.FsWatcher;
    try {
      w = Deno.watchFs([dir, lesson.paths.dir], { recursive: false });
    } catch (error) {
      fallBackToManual(error);
      return;
    }
    watcher = w;
    void (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        for await (const event of w) {
          if (event.kind === "access" || event.kind === "other") continue;
          const files = event.paths.filter((f) =>
            f.endsWith(".ts") || f.endsWith(".json") || f.endsWith(".md")
          );
          if (files.length === 0) continue;
          const changed = path.basename(files[0]);
          clearTimeout(timer);
          timer = setTimeout(
            () => queue.push({ kind: "grade", reason: `${changed} changed` }),
            options.debounceMs ?? 150,
          );
        }
      } catch (error) {
        if (watcher === w) fallBackToManual(error);
      } finally {
        clearTimeout(timer);
      }
    })();
  };
  const fallBackToManual = (error: unknown) => {
    manual = true;
    console.error(
      `lab: watching files failed (${
        (error as Error).message
      }); falling back to --manual: press Enter to re-grade`,
    );
  };

  const footer = () => {
    const shownDir = `${ctx.workspace.shown(ctx.workspace.lessonDir(lesson))}/`;
    const next = ctx.course.lessons[lesson.number];
    const lines: string[] = [];
    if (passed) {
      lines.push(p.green(
        next
          ? `Lesson ${lesson.number} passes. ${
            raw ? "Press n" : "Type n then Enter"
          } for lesson ${next.number} · ${next.title}.`
          : `Lesson ${lesson.number} passes, and it is the last one. Compare with the reference: ` +
            `deno task lab solution ${lesson.number}`,
      ));
    }
    if (raw) {
      lines.push(
        manual
          ? "Press r to grade again."
          : `Watching ${shownDir}: save your exercise to re-grade.`,
        `Keys: h next hint · r grade again · ${passed && next ? "n next lesson · " : ""}q quit`,
      );
    } else if (manual) {
      lines.push("Press Enter to grade again, q then Enter to stop. h then Enter: the next hint.");
    } else {
      lines.push(`Watching ${shownDir} — save your exercise to re-grade; Ctrl+C to stop.`);
    }
    return p.dim(lines.map((line) => wrapProse(line, 2)).join("\n"));
  };

  const grade = async (reason: string) => {
    const started = new Date();
    console.log(
      "\n" + p.dim(wrapProse(
        `── [${started.toLocaleTimeString()}] ${reason}: grading lesson ${lesson.number}...`,
        3,
      )),
    );
    const report = await gradeAndRecord(ctx, lesson, options.timeoutMs);
    passed = report.ok;
    console.log(terminalReport(ctx, report));
    console.log(`\n${footer()}`);
  };

  const onKey = async (key: string): Promise<boolean> => {
    switch (key) {
      case KEY_QUIT:
      case CTRL_C:
      case CTRL_D:
        return false;
      case KEY_HINT:
        console.log("");
        await showHint(ctx, lesson, { again: raw ? "Press h" : "Type h then Enter" });
        console.log(`\n${footer()}`);
        return true;
      case KEY_NEXT: {
        const next = ctx.course.lessons[lesson.number];
        if (!passed) {
          console.log(p.yellow(wrapProse(
            `Lesson ${lesson.number} does not pass yet: n moves on once it does (h: the next hint).`,
          )));
        } else if (!next) {
          console.log(p.yellow("That was the last lesson."));
        } else {
          lesson = next;
          passed = false;
          startWatching();
          console.log(
            "\n" + p.dim(wrapProse(
              `On to lesson ${lesson.number}. Read it: ${labCommand()} show ${lesson.number}; ` +
                `its exercise: ` +
                ctx.workspace.shown(ctx.workspace.exerciseFile(lesson)),
              2,
            )),
          );
          await grade(`moved on to lesson ${lesson.number} · ${lesson.title}`);
        }
        return true;
      }
      case KEY_GRADE:
      case "\r":
      case "\n":
        await grade(raw ? "r pressed" : "Enter pressed");
        return true;
      default:
        return true;
    }
  };

  const end = () => queue.push({ kind: "end" });
  Deno.addSignalListener("SIGINT", end);
  Deno.addSignalListener("SIGTERM", end);
  const restore = () => {
    if (raw) {
      try {
        Deno.stdin.setRaw(false);
      } catch {
        // stdin is gone
      }
    }
  };
  globalThis.addEventListener("unload", restore);
  let reading = true;
  try {
    if (raw) Deno.stdin.setRaw(true);
    void readKeys(raw, (key) => queue.push({ kind: "key", key }), () => reading).then(() => {
      // End of input: in manual mode there is nothing left to wait for.
      if (manual) end();
    });
    startWatching();
    queue.push({ kind: "grade", reason: "start" });
    for (;;) {
      const event = await queue.next();
      if (event.kind === "end") break;
      if (event.kind === "grade") {
        // Saves that came in while grading are one more grade, not one each.
        queue.discard((e) => e.kind === "grade");
        await grade(event.reason);
      } else if (!(await onKey(event.key))) {
        break;
      }
    }
  } finally {
    reading = false;
    stopWatching();
    Deno.removeSignalListener("SIGINT", end);
    Deno.removeSignalListener("SIGTERM", end);
    globalThis.removeEventListener("unload", restore);
    restore();
  }
}

/** Whether keys can be read one at a time: stdin and stdout are terminals. */
function isRawCapable(): boolean {
  try {
    return Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Reads stdin until it ends or `more()` turns false: in raw mode every key
 * (byte) is one event; otherwise every line is one, given as its first
 * character (`"\n"` for an empty line; `"q"` for `quit`).
 */
async function readKeys(
  raw: boolean,
  onKey: (key: string) => void,
  more: () => boolean,
): Promise<void> {
  const buf = new Uint8Array(64);
  const decoder = new TextDecoder();
  let line = "";
  while (more()) {
    let n: number | null;
    try {
      n = await Deno.stdin.read(buf);
    } catch {
      return;
    }
    if (n === null) return;
    if (!more()) return;
    if (raw) {
      for (const b of buf.subarray(0, n)) {
        const key = String.fromCharCode(b).toLowerCase();
        onKey(key);
        // Issue no read after a quit: a pending one would eat the next key typed elsewhere.
        if (QUIT_KEYS.includes(key)) return;
      }
      continue;
    }
    line += decoder.decode(buf.subarray(0, n), { stream: true });
    let newline: number;
    while ((newline = line.indexOf("\n")) >= 0) {
      const text = line.slice(0, newline).trim().toLowerCase();
      line = line.slice(newline + 1);
      const key = text === "" ? "\n" : text[0];
      onKey(key);
      if (QUIT_KEYS.includes(key)) return;
    }
  }
}
