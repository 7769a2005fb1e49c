/**
 * Grades one lesson of a workspace out of process, the way CI would:
 *
 * 1. compile stage: `deno check` of the lesson's `exercise.ts` and of a
 *    generated file asserting that its exports have the stub's names and
 *    types (`.lab/types/NN-slug.ts`; the grader's graph is course code and
 *    is checked by the project's own CI). Type errors stop here, like a
 *    build failure.
 * 2. test stage: `deno test --no-check` of `exercise_test.ts` with the least
 *    permissions that work: `--allow-read` of the course and the workspace,
 *    and nothing else (no write, net, run, env, ffi or sys; `--no-prompt`),
 *    under a time limit. Per-test results come back through JUnit XML
 *    (`--junit-path`), and the streamed reporter output tells which check was
 *    running if the time limit kills the process.
 *
 * The two stages run side by side to save wall time; a failed compile stage
 * stops the test process and is what the report shows.
 *
 * Grading never runs inside the Jupyter kernel or the REPL (their module
 * caches serve stale code and `Deno.test` output is invisible there).
 *
 * @module
 */

import type { Lesson } from "./manifest.ts";
import { findRequirement } from "../conformance/requirements.ts";
import { parseJunit } from "./junit.ts";
import type { Workspace } from "./workspace.ts";
import { fileUrl, findDenoConfig } from "./paths.ts";

/** Default time limit of the test stage, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** Time limit of the compile stage, in milliseconds (a cold type check can be slow). */
export const COMPILE_TIMEOUT_MS = 120_000;

/** The stage grading reached. */
export type GradeStage = "compile" | "test" | "timeout" | "error";

/** One check's result in a {@linkcode GradeReport}. */
export interface GradeTest {
  /** The check's name (without the `[requirement]` suffix of the test name). */
  readonly name: string;
  /** Outcome. */
  readonly status: "passed" | "failed" | "ignored";
  /** The teaching message ("" when passed). */
  readonly message: string;
  /** The requirement id the check enforces, e.g. `"4.2.2.1/1"`, or `null` when unknown. */
  readonly requirement: string | null;
  /** The requirement's spec section, e.g. `"4.2.2.1"`, or `null`. */
  readonly section: string | null;
  /** The hint to read (from the failure message), or `null`. */
  readonly hint: number | null;
  /** Time taken, in milliseconds. */
  readonly durationMs: number;
}

/**
 * The result of grading one lesson: one JSON shape that the CLI
 * (`lab check --json`), the notebooks and CI all render.
 */
export interface GradeReport {
  /** The lesson graded. */
  readonly lesson: {
    readonly number: number;
    readonly id: string;
    readonly dir: string;
    readonly title: string;
  };
  /** How far grading got: `compile` (type errors), `test` (ran), `timeout`, `error` (could not run). */
  readonly stage: GradeStage;
  /** Whether every check passed. */
  readonly ok: boolean;
  /** Number of checks passed. */
  readonly passed: number;
  /** Number of checks failed. */
  readonly failed: number;
  /** Wall time of the whole grading, in milliseconds. */
  readonly durationMs: number;
  /** The test stage's time limit, in milliseconds. */
  readonly timeoutMs: number;
  /** The exercise file graded, for messages (e.g. `workspace/01-mmio-window/exercise.ts`). */
  readonly file: string;
  /** `deno check` output when the compile stage failed. */
  readonly compileOutput?: string;
  /** What went wrong for the `timeout` and `error` stages. */
  readonly message?: string;
  /** One entry per check. */
  readonly tests: readonly GradeTest[];
}

/** Options of {@linkcode gradeLesson}. */
export interface GradeOptions {
  /** The learner's workspace (already synced). */
  readonly workspace: Workspace;
  /** The lesson to grade. */
  readonly lesson: Lesson;
  /** Time limit of the test stage, in milliseconds (default {@linkcode DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** The `deno` executable (default `Deno.execPath()`). */
  readonly deno?: string;
  /** Skip the compile stage (the test stage then runs with `--no-check`). */
  readonly skipCompile?: boolean;
}

/**
 * Grades one lesson of a workspace in subprocesses.
 *
 * @param options The workspace, the lesson and the limits.
 * @returns The report; never throws for anything the learner's code does.
 * @throws {Error} Only when `deno` cannot be started at all.
 */
export async function gradeLesson(options: GradeOptions): Promise<GradeReport> {
  const started = performance.now();
  const { workspace, lesson } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deno = options.deno ?? Deno.execPath();
  const course = workspace.course;
  const lessonDir = workspace.lessonDir(lesson);
  const exercise = workspace.exerciseFile(lesson);
  const testFile = workspace.testFile(lesson);
  try {
    Deno.statSync(testFile);
    Deno.statSync(exercise);
  } catch {
    await workspace.sync();
  }
  const config = findDenoConfig(course.root);
  const configArgs = config ? ["--config", config] : [];
  const base = {
    lesson: { number: lesson.number, id: lesson.id, dir: lesson.dir, title: lesson.title },
    timeoutMs,
    file: workspace.shown(exercise),
  };
  const env = { NO_COLOR: "1", RUST_BACKTRACE: "0" };
  const clean = (text: string) => cleanOutput(text, workspace);

  const readable = [...new Set([course.root, workspace.dir])];
  const junitPath = await Deno.makeTempFile({ prefix: "virtio-lab-junit-", suffix: ".xml" });
  try {
    // The two stages run side by side (a type check costs most of a second);
    // a failed compile stage wins and stops the test run.
    const test = start(deno, [
      "test",
      "--no-check",
      "--no-prompt",
      ...configArgs,
      `--allow-read=${readable.join(",")}`,
      `--junit-path=${junitPath}`,
      testFile,
    ], { cwd: lessonDir, env, timeoutMs });
    if (!options.skipCompile) {
      const signatures = workspace.signatureFile(lesson);
      const check = await start(deno, ["check", "--quiet", ...configArgs, exercise, signatures], {
        cwd: lessonDir,
        env,
        timeoutMs: COMPILE_TIMEOUT_MS,
      }).result;
      if (check.timedOut || check.code !== 0) {
        test.kill();
        await test.result;
        return {
          ...base,
          stage: "compile",
          ok: false,
          passed: 0,
          failed: 0,
          durationMs: performance.now() - started,
          compileOutput: check.timedOut
            ? `deno check did not finish within ${COMPILE_TIMEOUT_MS / 1000} s`
            : explainCompileOutput(
              clean(`${check.stderr}${check.stdout}`).trim(),
              workspace.shown(signatures),
            ),
          tests: [],
        };
      }
    }
    const testResult = await test.result;
    const durationMs = () => performance.now() - started;
    if (testResult.timedOut) {
      const streamed = parseStreamed(testResult.stdout);
      const tests: GradeTest[] = streamed.finished.map((t) => ({
        ...fromTestName(t.name),
        status: t.status,
        message: t.status === "failed"
          ? "failed (the details were lost when the run was stopped)"
          : "",
        hint: null,
        durationMs: t.durationMs,
      }));
      const seconds = formatSeconds(timeoutMs);
      const runningNote = streamed.running
        ? ` (the check "${fromTestName(streamed.running).name}" was running)`
        : "";
      if (streamed.running) {
        tests.push({
          ...fromTestName(streamed.running),
          status: "failed",
          message: `timed out after ${seconds}: is there an infinite loop?`,
          hint: null,
          durationMs: timeoutMs,
        });
      }
      return {
        ...base,
        stage: "timeout",
        ok: false,
        passed: tests.filter((t) => t.status === "passed").length,
        failed: tests.filter((t) => t.status === "failed").length,
        durationMs: durationMs(),
        message: `timed out after ${seconds}: is there an infinite loop?${runningNote}`,
        tests,
      };
    }
    let xml = "";
    try {
      xml = await Deno.readTextFile(junitPath);
    } catch {
      xml = "";
    }
    const tests: GradeTest[] = parseJunit(xml).map((c) => {
      const message = c.status === "failed"
        ? clean(failureMessage(c.failureMessage, c.failureText))
        : "";
      const hintMatch = /read hint (\d+)/.exec(message);
      return {
        ...fromTestName(c.name),
        status: c.status,
        message,
        hint: hintMatch ? Number(hintMatch[1]) : null,
        durationMs: Math.round(c.time * 1000 * 10) / 10,
      };
    });
    const passed = tests.filter((t) => t.status === "passed").length;
    const failed = tests.filter((t) => t.status === "failed").length;
    if (tests.length === 0 || (testResult.code !== 0 && failed === 0)) {
      return {
        ...base,
        stage: "error",
        ok: false,
        passed,
        failed,
        durationMs: durationMs(),
        message: clean(errorText(testResult.stderr, testResult.stdout)) ||
          `deno test exited with status ${testResult.code} and reported no tests`,
        tests,
      };
    }
    return {
      ...base,
      stage: "test",
      ok: failed === 0 && testResult.code === 0,
      passed,
      failed,
      durationMs: durationMs(),
      tests,
    };
  } finally {
    await Deno.remove(junitPath).catch(() => {});
  }
}

/** Splits a test name `"<check> [<requirement>]"` into its parts. */
export function fromTestName(name: string): Pick<GradeTest, "name" | "requirement" | "section"> {
  const m = /^(.*) \[([^\]\s]+)\]$/.exec(name);
  if (!m) return { name, requirement: null, section: null };
  const req = findRequirement(m[2]);
  return { name: m[1], requirement: m[2], section: req?.section ?? null };
}

function failureMessage(attribute: string, text: string): string {
  // Deno writes "Uncaught <Name>: <message>" in the attribute and "<stack>" in the text.
  const fromAttr = attribute.replace(/^Uncaught (?:\(in promise\) )?/, "");
  const grade = /^GradeFailure: ([\s\S]*)$/.exec(fromAttr);
  if (grade) return grade[1].trim();
  const body = text || fromAttr;
  // Keep the message and the first frames, drop Deno's internal frames.
  const lines = body.split("\n").filter((l) => !/^\s+at .*\bext:/.test(l));
  return lines.slice(0, 12).join("\n").trim();
}

function explainCompileOutput(output: string, signatures: string): string {
  if (!output.includes(signatures)) return output;
  return `${output}\n\n(${signatures} compares the exports of your exercise.ts with the stub's: ` +
    `keep the names and types the stub exports, the grader relies on them)`;
}

function errorText(stderr: string, stdout: string): string {
  const text = `${stderr}\n${stdout}`.split("\n")
    .filter((l) =>
      !/^(Stack backtrace:|\s+\d+: <unknown>)$/.test(l) && !/^running \d+ tests? from /.test(l)
    )
    .join("\n").trim();
  return text.length > 4000 ? `${text.slice(0, 4000)}\n...` : text;
}

interface StreamedTest {
  readonly name: string;
  readonly status: "passed" | "failed" | "ignored";
  readonly durationMs: number;
}

/**
 * Reads Deno's default ("pretty") test reporter output as it streamed: the
 * tests that finished and the one still running when the process was stopped.
 */
function parseStreamed(stdout: string): { finished: StreamedTest[]; running: string | null } {
  const finished: StreamedTest[] = [];
  let running: string | null = null;
  for (const raw of stdout.split("\n")) {
    // deno-lint-ignore no-control-regex
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "");
    const done = /^(.*) \.\.\. (ok|FAILED|ignored)(?: \(([\d.]+)(µs|ms|s)\))?\s*$/.exec(line);
    if (done) {
      const unit = done[4] === "s" ? 1000 : done[4] === "µs" ? 0.001 : 1;
      finished.push({
        name: done[1],
        status: done[2] === "ok" ? "passed" : done[2] === "FAILED" ? "failed" : "ignored",
        durationMs: Number(done[3] ?? 0) * unit,
      });
      if (running === done[1]) running = null;
      continue;
    }
    const start = /^(.*) \.\.\.\s*$/.exec(line);
    if (start) running = start[1];
  }
  return { finished, running };
}

function cleanOutput(text: string, workspace: Workspace): string {
  // deno-lint-ignore no-control-regex
  let out = text.replace(/\x1b\[[0-9;]*m/g, "").replace(
    /, \{ with: \{ "resolution-mode": "import" \} \}/g,
    "",
  );
  const wsUrl = fileUrl(workspace.dir);
  const shownWs = workspace.shown(workspace.dir);
  out = out.split(`${wsUrl}/`).join(`${shownWs}/`);
  const rootUrl = fileUrl(workspace.course.root);
  out = out.split(`${rootUrl}/`).join("");
  return out;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

interface Started {
  readonly result: Promise<RunResult>;
  kill(): void;
}

function start(
  cmd: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Started {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const result = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.status,
  ]).then(([stdout, stderr, status]) => ({ code: status.code, stdout, stderr, timedOut }))
    .finally(() => clearTimeout(timer));
  return { result, kill };
}
