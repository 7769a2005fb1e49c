/**
 * Helpers for the lesson notebooks (Deno's Jupyter kernel). The generated
 * setup cell of every notebook imports them.
 *
 * The kernel caches modules for its whole life and shows `Deno.test` output
 * on its own stdout, so nothing here imports the learner's code into the
 * kernel:
 *
 * - {@linkcode gradeLesson} grades in subprocesses (the same runner as
 *   `lab check`) and displays an HTML table;
 * - {@linkcode loadExercise} starts a fresh subprocess that imports the
 *   learner's current `exercise.ts` and serves calls to its exports.
 *
 * @module
 */

import * as path from "node:path";
import { type Course, findLesson, type Lesson, loadCourse } from "./manifest.ts";
import { defaultCourseRoot, ENGINE_DIR, findDenoConfig } from "./paths.ts";
import { type DisplayableReport, withDisplay } from "./report.ts";
import { escapeHtml, htmlTable } from "../format/html.ts";
import { gradeLesson as runGrade } from "./runner.ts";
import { lessonTextForReading } from "./notebooks.ts";
import { decodeValue, encodeValue } from "./wire.ts";
import { Workspace } from "./workspace.ts";
import { createMachine, type LabMachine, type MachineOptions } from "../machine.ts";

/** Options shared by the helpers. */
export interface SupportOptions {
  /** Course root (default `$VIRTIO_LAB_COURSE` or this repository). */
  readonly courseRoot?: string;
  /** Workspace folder (default `$VIRTIO_LAB_WORKSPACE` or `<repo>/workspace`). */
  readonly workspaceDir?: string;
}

async function open(options: SupportOptions): Promise<{ course: Course; workspace: Workspace }> {
  const course = loadCourse(options.courseRoot ?? defaultCourseRoot());
  const workspace = await Workspace.open(course, options.workspaceDir);
  return { course, workspace };
}

/**
 * Grades the learner's exercise for a lesson out of process, as `lab check`
 * does (`deno check`, then every check of the grader in a sandboxed harness
 * with read-only permissions, a time and a memory limit), and records the
 * result in their progress.
 *
 * @param lesson Lesson number or id.
 * @param options Course, workspace and the time limit in seconds.
 * @returns The report; it displays as an HTML table in Jupyter and as text in the REPL.
 */
export async function gradeLesson(
  lesson: number | string,
  options: SupportOptions & { readonly timeoutSeconds?: number } = {},
): Promise<DisplayableReport> {
  const { course, workspace } = await open(options);
  const target = findLesson(course, lesson);
  const report = await runGrade({
    workspace,
    lesson: target,
    timeoutMs: options.timeoutSeconds ? options.timeoutSeconds * 1000 : undefined,
  });
  workspace.recordGrade(target, report);
  return withDisplay(report, { hintCall: notebookHintCall });
}

/** The hint call as a notebook cell types it (`LESSON` is the setup cell's constant). */
function notebookHintCall(n?: number): string {
  return n === undefined ? "hint(LESSON)" : `hint(LESSON, ${n})`;
}

/** Something that shows itself as Markdown in Jupyter and as text elsewhere. */
export interface MarkdownDisplay {
  /** The Markdown. */
  readonly markdown: string;
}

function markdownDisplay(markdown: string): MarkdownDisplay {
  const value = { markdown };
  Object.defineProperty(value, Symbol.for("Jupyter.display"), {
    value: () => ({ "text/markdown": markdown, "text/plain": markdown }),
  });
  Object.defineProperty(value, Symbol.for("Deno.customInspect"), { value: () => markdown });
  return value;
}

/**
 * The lesson text, rendered as Markdown in Jupyter.
 *
 * @param lesson Lesson number or id.
 * @param options Course root.
 */
export function showLesson(lesson: number | string, options: SupportOptions = {}): MarkdownDisplay {
  const course = loadCourse(options.courseRoot ?? defaultCourseRoot());
  const target = findLesson(course, lesson);
  return markdownDisplay(lessonTextForReading(Deno.readTextFileSync(target.paths.text)));
}

/**
 * The next hint not seen yet (or hint `n`), remembered in the learner's progress.
 *
 * @param lesson Lesson number or id.
 * @param n A hint number (default: the next one).
 * @param options Course and workspace.
 */
export async function hint(
  lesson: number | string,
  n?: number,
  options: SupportOptions = {},
): Promise<MarkdownDisplay> {
  const { course, workspace } = await open(options);
  const target = findLesson(course, lesson);
  const seen = workspace.progress(target).hintsSeen ?? 0;
  const k = Math.min(Math.max(1, n ?? seen + 1), target.hints.length);
  workspace.recordHint(target, k);
  const more = k < target.hints.length
    ? `\n\n*(hint ${k} of ${target.hints.length})*`
    : `\n\n*(last hint)*`;
  return markdownDisplay(`**Hint ${k}**\n\n${target.hints[k - 1]}${more}`);
}

/** An export of an exercise module, as seen from the other process. */
export interface ExportInfo {
  /** Exported name. */
  readonly name: string;
  /** `function`, `class` or `value`. */
  readonly kind: "function" | "class" | "value";
}

/** Thrown when the exercise cannot be loaded or a call fails in it. */
export class ExerciseError extends Error {
  /** The error's name on the other side (e.g. `"TypeError"`, `"NotWrittenYetError"`). */
  readonly remoteName: string;

  /**
   * Wraps an error that happened in the exercise's process.
   *
   * @param remote The error as sent by the subprocess.
   * @param context What was being done.
   */
  constructor(remote: { name: string; message: string; stack?: string }, context: string) {
    super(`${context}: ${remote.name}: ${remote.message}`);
    this.name = "ExerciseError";
    this.remoteName = remote.name;
  }
}

/**
 * A learner's exercise module loaded freshly in its own subprocess. Calls
 * cross the boundary as JSON (bigints, typed arrays, maps and sets included,
 * see `wire.ts`); functions and live objects cannot cross, so either call an
 * exported function by name or send a function to {@linkcode run} that
 * works with the module over there and returns data.
 */
export class ExerciseHandle {
  /** The lesson. */
  readonly lesson: Lesson;
  /** Absolute path of the exercise file. */
  readonly file: string;
  /** The module's exports. */
  readonly exports: readonly ExportInfo[];
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #timeoutMs: number;
  #nextId = 1;
  #closed = false;

  /** Use {@linkcode loadExercise}. */
  constructor(
    lesson: Lesson,
    file: string,
    exports: readonly ExportInfo[],
    child: Deno.ChildProcess,
    lines: AsyncIterator<string>,
    timeoutMs: number,
  ) {
    this.lesson = lesson;
    this.file = file;
    this.exports = exports;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#timeoutMs = timeoutMs;
    void this.#pump(lines);
  }

  async #pump(lines: AsyncIterator<string>): Promise<void> {
    try {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const message = JSON.parse(next.value) as {
          id: number;
          ok: boolean;
          value?: unknown;
          error?: { name: string; message: string };
        };
        const waiter = this.#pending.get(message.id);
        if (!waiter) continue;
        this.#pending.delete(message.id);
        if (message.ok) waiter.resolve(decodeValue(message.value));
        else waiter.reject(new ExerciseError(message.error!, `exercise.ts threw`));
      }
    } catch {
      // the process went away
    }
    for (const waiter of this.#pending.values()) {
      waiter.reject(new Error("The exercise process exited"));
    }
    this.#pending.clear();
  }

  #request(body: Record<string, unknown>, what: string): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new Error("This exercise handle is closed: call loadExercise() again"));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.close();
        reject(
          new Error(
            `${what} timed out after ${this.#timeoutMs / 1000} s: is there an infinite loop? ` +
              `(the exercise process was stopped; call loadExercise() again)`,
          ),
        );
      }, this.#timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const line = `${JSON.stringify({ id, ...body })}\n`;
      this.#writer.write(new TextEncoder().encode(line)).catch((error) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(error);
      });
    });
  }

  /**
   * Calls an exported function of the exercise.
   *
   * @param name The export's name.
   * @param args Arguments (JSON-able, bigints, typed arrays, maps, sets).
   * @returns What it returned (awaited).
   * @throws {ExerciseError} When it throws over there.
   */
  call(name: string, ...args: unknown[]): Promise<unknown> {
    return this.#request({ op: "call", name, args: args.map((a) => encodeValue(a)) }, `${name}()`);
  }

  /**
   * Like {@linkcode call}, but never throws: an error in the exercise (a
   * stub's `todo()` included) comes back as a short description, so a
   * notebook cell still runs while the exercise is unfinished (CI executes
   * the notebooks against the pristine stubs).
   *
   * @param name The export's name.
   * @param args Arguments.
   * @returns What it returned, or `{ threw: "<name>: <message>" }`.
   */
  async tryCall(name: string, ...args: unknown[]): Promise<unknown> {
    try {
      return await this.call(name, ...args);
    } catch (error) {
      const e = error as Error;
      const text = e instanceof ExerciseError
        ? e.message.replace(/^exercise\.ts threw: /, "")
        : `${e.name}: ${e.message}`;
      return { threw: text };
    }
  }

  /**
   * Runs a function in the exercise's process with the module as first
   * argument, e.g. `ex.run((m) => new m.RegisterFile().read(0, 4))`. The
   * function is sent as source text: it cannot use variables of the notebook
   * (pass them as `args`).
   *
   * @param fn The function; gets the module, then `args`.
   * @param args Extra arguments (JSON-able).
   * @returns What `fn` returned (awaited).
   */
  run<A extends unknown[], R>(
    // deno-lint-ignore no-explicit-any
    fn: (module: any, ...args: A) => R,
    ...args: A
  ): Promise<Awaited<R>> {
    return this.#request(
      { op: "run", source: fn.toString(), args: args.map((a) => encodeValue(a)) },
      "run()",
    ) as Promise<Awaited<R>>;
  }

  /** Stops the subprocess. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /** Closes on `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Text form. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.#text();
  }

  #text(): string {
    const list = this.exports.map((e) => `  ${e.name} (${e.kind})`).join("\n");
    return `Exercise of lesson ${this.lesson.number} (${this.file}), loaded fresh in a subprocess:\n${list}`;
  }

  /** Rich form for Jupyter. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return {
      "text/plain": this.#text(),
      "text/html":
        `<p>Exercise of lesson ${this.lesson.number} (<code>${escapeHtml(this.file)}</code>), ` +
        `loaded fresh in a subprocess. Call <code>await ex.call("name", ...args)</code> or ` +
        `<code>await ex.run((m) =&gt; ...)</code>.</p>` +
        htmlTable({
          kind: "exercise-exports",
          head: ["export", "kind"],
          rows: this.exports.map((e) => [{ code: e.name }, e.kind]),
        }),
    };
  }
}

const open_handles = new Map<string, ExerciseHandle>();

/**
 * Loads the learner's current exercise for a lesson in a fresh subprocess
 * (never a cached import), closing the handle a previous call returned for
 * the same lesson.
 *
 * @param lesson Lesson number or id.
 * @param options Course, workspace, and the time limit of each call in seconds (default 5).
 * @returns A handle to call the exercise's exports.
 * @throws {ExerciseError} When the module fails to load (it threw at the top level).
 */
export async function loadExercise(
  lesson: number | string,
  options: SupportOptions & { readonly timeoutSeconds?: number } = {},
): Promise<ExerciseHandle> {
  const { course, workspace } = await open(options);
  const target = findLesson(course, lesson);
  open_handles.get(target.id)?.close();
  const file = workspace.exerciseFile(target);
  const readable = [...new Set([course.root, workspace.dir, ENGINE_DIR])];
  const config = findDenoConfig(course.root);
  const configArgs = config ? ["--config", config] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-check",
      "--no-prompt",
      ...configArgs,
      `--allow-read=${readable.join(",")}`,
      path.join(ENGINE_DIR, "exercise_host.ts"),
      file,
    ],
    cwd: workspace.lessonDir(target),
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = readLines(child.stdout)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) {
    child.kill("SIGKILL");
    throw new Error(`The exercise process for ${workspace.shown(file)} exited before loading it`);
  }
  const hello = JSON.parse(first.value) as {
    ready: boolean;
    exports?: ExportInfo[];
    error?: { name: string; message: string };
  };
  if (!hello.ready) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    throw new ExerciseError(hello.error!, `${workspace.shown(file)} failed while loading`);
  }
  const handle = new ExerciseHandle(
    target,
    workspace.shown(file),
    hello.exports ?? [],
    child,
    lines,
    (options.timeoutSeconds ?? 5) * 1000,
  );
  open_handles.set(target.id, handle);
  return handle;
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) yield buffer;
}

/**
 * A ready lab machine from `machine.ts` (memory, bus, console, block device,
 * conformance log), for cells that poke the reference implementation.
 *
 * @param options Passed to `createMachine` (every part defaults to the reference one).
 * @returns The machine, its drivers probed and live.
 */
export function labMachine(options?: MachineOptions): Promise<LabMachine> {
  return createMachine(options);
}
