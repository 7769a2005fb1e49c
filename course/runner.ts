/**
 * Grades one lesson of a workspace out of process, so that a lesson passes
 * only when every check its grader defines ran and passed, whatever the
 * learner's code does:
 *
 * 1. **What to expect.** This (trusted) process imports the lesson's grader
 *    itself: the number, names, requirements and hints of the checks come
 *    from here, never from the process that runs the learner's code.
 * 2. **compile stage**: `deno check` of the lesson's `exercise.ts` and of a
 *    generated file asserting that its exports have the stub's names and
 *    types (`.lab/types/NN-slug.ts`). Type errors stop here, like a build
 *    failure.
 * 3. **test stage**: the grading harness (`course/sandbox/harness.ts`, a
 *    plain `deno run` program) in a subprocess with
 *    - `--allow-read` of exactly what grading needs: the lesson's workspace
 *      folder, the files of the exercise's and the grader's module graphs
 *      inside the course and the workspace, and the course manifest; never
 *      anything under `.git/`, and no write, net, run, env, ffi or sys
 *      (`--no-prompt`);
 *    - the course's dependencies only: `--frozen` lockfile, `--cached-only`,
 *      `--no-remote`, and a proxy that refuses every connection, so an
 *      `npm:`/`jsr:` import the course lacks fails to load and nothing is
 *      downloaded or written (`deno.lock` stays byte-identical);
 *    - a memory limit (RLIMIT_DATA through `prlimit --data` or `sh -c
 *      'ulimit -d'`: allocations beyond it fail; else the resident size is
 *      polled and the process stopped) and a JavaScript heap limit
 *      (`--max-old-space-size`);
 *    - a time limit (default 20 s), after which the process is killed.
 *
 *    The harness reads a random nonce on stdin before the learner's module
 *    is imported, hardens its realm, and reports `start`/`end` of each check
 *    as nonce-prefixed lines (see `course/sandbox/protocol.ts`). Only those
 *    lines count, only for checks this process expects.
 * 4. **The verdict** is derived here from the authenticated records: a check
 *    without an `end` record is failed, with a message saying why (timed out
 *    while it ran, the process exited or ran out of memory before or while it
 *    ran). A lesson passes only on a complete set of passes
 *    ({@linkcode isCompletePass}), never because of an exit code.
 *
 * The stages run side by side to save wall time; a failed compile stage stops
 * the test process and is what the report shows.
 *
 * Grading never runs the learner's code in this process, nor inside the
 * Jupyter kernel or the REPL.
 *
 * @module
 */

import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { Lesson } from "./manifest.ts";
import type { Workspace } from "./workspace.ts";
import { ENGINE_DIR, fileUrl, findDenoConfig, isInside, REPO_ROOT } from "./paths.ts";
import { findRequirement } from "../conformance/requirements.ts";
import type { Check, Grader } from "./grading/define.ts";
import { DEPENDENCY_NOTE } from "./grading/explain.ts";
import { GradeFailure } from "./grading/failure.ts";
import {
  type CheckRun,
  type GradeReport,
  type GradeTest,
  isCompletePass,
  type MemoryLimit,
} from "./grade_report.ts";
import {
  type EndRecord,
  type HarnessJob,
  type HarnessRecord,
  type JobModule,
  newNonce,
  PROTOCOL_VERSION,
  RecordReader,
} from "./sandbox/protocol.ts";

export type { CheckRun, GradeReport, GradeStage, GradeTest, MemoryLimit } from "./grade_report.ts";
export { isCompletePass } from "./grade_report.ts";

/** Default time limit of the test stage, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** Time limit of the compile stage, in milliseconds (a cold type check can be slow). */
export const COMPILE_TIMEOUT_MS = 120_000;
/**
 * Default memory limit of the test process, in bytes (2 GiB), as RLIMIT_DATA
 * counts it: Deno's main isolate takes about 560 MiB of it before any code
 * runs and every Worker's isolate about 535 MiB more, so this leaves room for
 * the grader, a Worker or two and the learner's data, and refuses 4 GiB of
 * array buffers.
 */
export const DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024 ** 3;
/** Default JavaScript heap limit of the test process, in bytes (512 MiB). */
export const DEFAULT_HEAP_LIMIT_BYTES = 512 * 1024 ** 2;

/** The grading harness, run as the test stage's main module. */
const HARNESS = path.join(ENGINE_DIR, "sandbox", "harness.ts");
/** How often the resident size is polled when no rlimit applies, in milliseconds. */
const RSS_POLL_MS = 50;
/** Time limit of listing a module graph (`deno info`), in milliseconds. */
const GRAPH_TIMEOUT_MS = 60_000;
/** A proxy nobody listens on: any download the learner's imports would trigger fails at once. */
const REFUSING_PROXY = "http://127.0.0.1:9";

/** Options of {@linkcode gradeLesson}. */
export interface GradeOptions {
  /** The learner's workspace (already synced). */
  readonly workspace: Workspace;
  /** The lesson to grade. */
  readonly lesson: Lesson;
  /** Time limit of the test stage, in milliseconds (default {@linkcode DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Memory limit of the test process, in bytes (default {@linkcode DEFAULT_MEMORY_LIMIT_BYTES}). */
  readonly memoryLimitBytes?: number;
  /** JavaScript heap limit of the test process, in bytes (default {@linkcode DEFAULT_HEAP_LIMIT_BYTES}). */
  readonly heapLimitBytes?: number;
  /**
   * How to enforce the memory limit: `prlimit` (RLIMIT_DATA, the default on
   * Linux when util-linux is installed), `ulimit` (RLIMIT_DATA through
   * `/bin/sh -c 'ulimit -d'`, the default without `prlimit`) or `rss-poll`
   * (poll the resident size and stop the process; what is left without both).
   */
  readonly memoryGuard?: "prlimit" | "ulimit" | "rss-poll";
  /** The `deno` executable (default `Deno.execPath()`). */
  readonly deno?: string;
  /** Skip the compile stage. */
  readonly skipCompile?: boolean;
}

/** A check the parent expects, from its own copy of the grader. */
interface Expected {
  readonly check: Check<unknown>;
  readonly grader: Grader<unknown>;
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
  try {
    Deno.statSync(exercise);
    Deno.statSync(workspace.signatureFile(lesson));
  } catch {
    await workspace.sync();
  }
  const config = findDenoConfig(course.root);
  const configArgs = config ? ["--config", config] : [];
  const dependencyArgs = ["--frozen", "--no-remote", ...configArgs];
  const env = sandboxEnv();
  const memory = memoryLimit(options);
  const clean = (text: string) => cleanOutput(text, workspace);
  const base = {
    lesson: { number: lesson.number, id: lesson.id, dir: lesson.dir, title: lesson.title },
    timeoutMs,
    memory: memory.limit,
    file: workspace.shown(exercise),
  };
  const durationMs = () => performance.now() - started;

  // Everything that does not depend on the rest starts now.
  const compile = options.skipCompile ? null : start(deno, [
    "check",
    "--quiet",
    "--cached-only",
    ...dependencyArgs,
    exercise,
    workspace.signatureFile(lesson),
  ], { cwd: lessonDir, env, timeoutMs: COMPILE_TIMEOUT_MS });
  const graphs = Promise.all([
    moduleGraph(deno, exercise, lessonDir, dependencyArgs, env),
    moduleGraph(deno, lesson.paths.grader, lessonDir, dependencyArgs, env),
  ]);
  let expected: Expected[];
  try {
    expected = await expectedChecks(lesson);
  } catch (error) {
    compile?.kill();
    await Promise.allSettled([compile?.result, graphs]);
    return {
      ...base,
      stage: "error",
      ok: false,
      expected: 0,
      passed: 0,
      failed: 0,
      durationMs: durationMs(),
      message: `The grader of lesson ${lesson.number} (${
        path.relative(course.root, lesson.paths.grader)
      }) could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      tests: [],
    };
  }
  const [exerciseGraph, graderGraph] = await graphs;
  const readable = new Set<string>([lessonDir, path.join(course.lessonsDir, "manifest.json")]);
  for (const file of [...exerciseGraph.files, ...graderGraph.files]) {
    if (mayRead(file, [course.root, REPO_ROOT, workspace.dir])) readable.add(file);
  }
  const job: HarnessJob = {
    protocol: PROTOCOL_VERSION,
    nonce: newNonce(),
    grader: pathToFileURL(lesson.paths.grader).href,
    exercise: pathToFileURL(exercise).href,
    modules: graderGraph.modules,
  };
  const harnessArgs = [
    "run",
    "--no-check",
    "--no-prompt",
    "--cached-only",
    ...dependencyArgs,
    `--allow-read=${[...readable].join(",")}`,
    `--v8-flags=--max-old-space-size=${
      Math.max(16, Math.floor(memory.limit.heapLimitBytes / 1024 ** 2))
    }`,
    HARNESS,
  ];
  const harnessOptions = { cwd: lessonDir, env, timeoutMs, memory, args: harnessArgs };
  let test = startHarness(deno, job, harnessOptions);

  if (compile) {
    const check = await compile.result;
    if (check.timedOut || check.code !== 0) {
      test.kill();
      await test.result;
      return {
        ...base,
        stage: "compile",
        ok: false,
        expected: expected.length,
        passed: 0,
        failed: 0,
        durationMs: durationMs(),
        compileOutput: check.timedOut
          ? `deno check did not finish within ${COMPILE_TIMEOUT_MS / 1000} s`
          : explainCompileOutput(
            clean(`${check.stderr}${check.stdout}`).trim(),
            workspace.shown(workspace.signatureFile(lesson)),
          ),
        tests: [],
      };
    }
  }
  let run = await test.result;
  if (!run.records.some((r) => r.t === "ready") && MISSING_FROM_CACHE.test(run.stderr)) {
    // The harness's own dependencies (SES) are not in Deno's cache yet, on a
    // fresh machine: fetch the course's locked dependencies once (this is
    // course code, with the lockfile frozen) and grade again with a new nonce.
    await start(deno, ["cache", "--frozen", ...configArgs, HARNESS, lesson.paths.grader], {
      cwd: course.root,
      env: userEnv(),
      timeoutMs: COMPILE_TIMEOUT_MS,
    }).result;
    test = startHarness(deno, { ...job, nonce: newNonce() }, harnessOptions);
    run = await test.result;
  }
  const verdict = deriveTests(expected, run, timeoutMs, memory.limit, clean);
  const passed = verdict.tests.filter((t) => t.status === "passed").length;
  const stage = run.timedOut ? "timeout" : verdict.harnessStarted ? "test" : "error";
  const report = {
    ...base,
    stage,
    expected: expected.length,
    passed,
    failed: verdict.tests.length - passed,
    durationMs: durationMs(),
    tests: verdict.tests,
  } as const;
  const message = stage === "error"
    ? clean(errorText(run.stderr, run.otherOutput)) ||
      `the grading harness exited with status ${run.code} before running any check`
    : verdict.message;
  return {
    ...report,
    ok: isCompletePass(report) && verdict.complete,
    ...(message ? { message } : {}),
  };
}

/** Imports the lesson's grader here, in the trusted process: the checks to expect. */
async function expectedChecks(lesson: Lesson): Promise<Expected[]> {
  const module = await import(pathToFileURL(lesson.paths.grader).href) as {
    grader?: Grader<unknown>;
  };
  const grader = module.grader;
  if (!grader || !Array.isArray(grader.checks) || grader.checks.length === 0) {
    throw new TypeError("it does not export a grader with checks (defineGrader(...))");
  }
  if (grader.lesson !== lesson.id) {
    throw new TypeError(`its grader is for lesson "${grader.lesson}", not "${lesson.id}"`);
  }
  return grader.checks.map((check) => ({ check, grader }));
}

/** The local files and the loadable modules of a module graph. */
interface ModuleGraph {
  /** Absolute paths of the graph's local files. */
  readonly files: readonly string[];
  /** The graph's modules, as the harness imports them. */
  readonly modules: readonly JobModule[];
}

/**
 * Lists a module graph with `deno info --json` (with the course's lockfile
 * frozen and downloads refused). A graph that does not resolve lists what
 * did; the harness's import then reports the problem to the learner.
 */
async function moduleGraph(
  deno: string,
  file: string,
  cwd: string,
  dependencyArgs: readonly string[],
  env: Record<string, string>,
): Promise<ModuleGraph> {
  const result = await start(deno, ["info", "--json", ...dependencyArgs, file], {
    cwd,
    env,
    timeoutMs: GRAPH_TIMEOUT_MS,
  }).result;
  let info: { modules?: unknown; redirects?: unknown };
  try {
    info = JSON.parse(result.stdout);
  } catch {
    return { files: [], modules: [] };
  }
  // An npm module is imported by the specifier the graph wrote (the one in the
  // lockfile, e.g. `npm:fast-check@^4.10.2`), not the version it resolved to.
  const requestedAs = new Map<string, string>();
  if (info.redirects && typeof info.redirects === "object") {
    for (const [from, to] of Object.entries(info.redirects as Record<string, unknown>)) {
      if (typeof to === "string" && from.startsWith("npm:")) requestedAs.set(to, from);
    }
  }
  const files: string[] = [];
  const modules: JobModule[] = [];
  for (const entry of Array.isArray(info.modules) ? info.modules : []) {
    const m = entry as {
      kind?: string;
      specifier?: string;
      local?: string;
      error?: string;
      mediaType?: string;
    };
    if (typeof m.specifier !== "string" || m.error) continue;
    if (typeof m.local === "string" && m.specifier.startsWith("file:")) files.push(m.local);
    if (m.kind === "esm") modules.push({ specifier: m.specifier, kind: "esm" });
    else if (m.kind === "asserted" && m.mediaType === "Json") {
      modules.push({ specifier: m.specifier, kind: "json" });
    } else if (m.kind === "node") modules.push({ specifier: m.specifier, kind: "node" });
    else if (m.kind === "npm" && requestedAs.has(m.specifier)) {
      modules.push({ specifier: requestedAs.get(m.specifier)!, kind: "npm" });
    }
  }
  return { files, modules };
}

/**
 * Whether the harness may read a file: inside one of `roots`, not under a
 * `.git` folder, and expressible in an `--allow-read` list (no comma).
 */
function mayRead(file: string, roots: readonly string[]): boolean {
  if (file.includes(",")) return false;
  if (file.split(path.sep).includes(".git")) return false;
  return roots.some((root) => isInside(file, root));
}

/** The harness could not start because a package is not in Deno's cache. */
const MISSING_FROM_CACHE = /not found in cache|--cached-only is specified/;

/** The user's environment, when it may be read (for fetching the course's own dependencies). */
function userEnv(): Record<string, string> {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}

/**
 * The environment of every subprocess of grading: none of the user's, except
 * what locates Deno's cache, and a proxy that refuses every connection.
 */
function sandboxEnv(): Record<string, string> {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    RUST_BACKTRACE: "0",
    DENO_NO_UPDATE_CHECK: "1",
    HTTP_PROXY: REFUSING_PROXY,
    HTTPS_PROXY: REFUSING_PROXY,
    http_proxy: REFUSING_PROXY,
    https_proxy: REFUSING_PROXY,
  };
  for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "NPM_CONFIG_REGISTRY"]) {
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    } catch {
      // No env permission: Deno finds its cache from the user's home directory.
    }
  }
  return env;
}

interface MemoryPlan {
  readonly limit: MemoryLimit;
  /**
   * How to start the test process under the rlimit: the command and the
   * arguments that come before `deno` (`prlimit --data=N --`, or a POSIX
   * shell's `ulimit -d`), or `null` when the limit is polled or absent.
   */
  readonly wrapper: { readonly cmd: string; readonly args: readonly string[] } | null;
}

function memoryLimit(options: GradeOptions): MemoryPlan {
  const limitBytes = options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES;
  const heapLimitBytes = options.heapLimitBytes ?? DEFAULT_HEAP_LIMIT_BYTES;
  const wrapper = options.memoryGuard === "rss-poll"
    ? null
    : rlimitWrapper(limitBytes, options.memoryGuard);
  if (wrapper) return { limit: { limitBytes, heapLimitBytes, enforcedBy: "rlimit" }, wrapper };
  // `ps -o rss=` answers on Linux and macOS; /proc only on Linux.
  const canPoll = Deno.build.os !== "windows";
  return {
    limit: {
      limitBytes: canPoll ? limitBytes : null,
      heapLimitBytes,
      enforcedBy: canPoll ? "rss-poll" : "none",
    },
    wrapper: null,
  };
}

/**
 * RLIMIT_DATA through `prlimit --data` (util-linux), else through the
 * `ulimit -d` of `/bin/sh` (POSIX; `exec` keeps the process id), on Linux,
 * where the kernel counts anonymous mappings (V8's array buffers) in it.
 * Not RLIMIT_AS: V8 reserves far more address space than it uses and would
 * not start.
 */
function rlimitWrapper(
  limitBytes: number,
  only?: "prlimit" | "ulimit",
): MemoryPlan["wrapper"] {
  if (Deno.build.os !== "linux") return null;
  const prlimit = only === "ulimit" ? null : findExecutable("prlimit");
  if (prlimit) return { cmd: prlimit, args: [`--data=${limitBytes}`, "--"] };
  if (only !== "prlimit" && findExecutable("sh", ["/bin"])) {
    const kib = String(Math.floor(limitBytes / 1024));
    return { cmd: "/bin/sh", args: ["-c", 'ulimit -d "$0" && exec "$@"', kib] };
  }
  return null;
}

function findExecutable(
  name: string,
  dirs = ["/usr/bin", "/bin", "/usr/local/bin"],
): string | null {
  const search = [...dirs];
  try {
    search.push(...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean));
  } catch {
    // No env permission: the usual places only.
  }
  for (const dir of search) {
    const candidate = path.join(dir, name);
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}

/** How the harness's process ended, and what it reported. */
interface HarnessRun {
  readonly records: readonly HarnessRecord[];
  /** The tail of stdout that was not a record. */
  readonly otherOutput: string;
  /** The tail of stderr. */
  readonly stderr: string;
  readonly code: number;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The resident size passed the limit and the process was stopped (`rss-poll`). */
  readonly memoryExceeded: boolean;
}

/** Longest stderr tail kept, in characters. */
const MAX_STDERR_CHARS = 16 * 1024;

function startHarness(
  deno: string,
  job: HarnessJob,
  options: {
    cwd: string;
    env: Record<string, string>;
    timeoutMs: number;
    memory: MemoryPlan;
    args: string[];
  },
): { result: Promise<HarnessRun>; kill(): void } {
  const { wrapper, limit } = options.memory;
  const [cmd, args] = wrapper
    ? [wrapper.cmd, [...wrapper.args, deno, ...options.args]]
    : [deno, options.args];
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  let memoryExceeded = false;
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
  let polling = false;
  const poll = limit.enforcedBy === "rss-poll" && limit.limitBytes !== null
    ? setInterval(async () => {
      if (polling) return;
      polling = true;
      try {
        if (await residentBytes(child.pid) > limit.limitBytes!) {
          memoryExceeded = true;
          kill();
        }
      } finally {
        polling = false;
      }
    }, RSS_POLL_MS)
    : undefined;
  const reader = new RecordReader(job.nonce);
  let stderr = "";
  const sendJob = (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(JSON.stringify(job)));
      await writer.close();
    } catch {
      // The process ended before reading its job; its status says why.
    }
  })();
  const readStdout = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      reader.push(chunk);
    }
    reader.end();
  })();
  const readStderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS);
    }
  })();
  const result = Promise.all([child.status, sendJob, readStdout, readStderr]).then(
    ([status]) => ({
      records: reader.records,
      otherOutput: reader.otherOutput,
      stderr,
      code: status.code,
      signal: status.signal,
      timedOut,
      memoryExceeded,
    }),
  ).finally(() => {
    clearTimeout(timer);
    clearInterval(poll);
  });
  return { result, kill };
}

/** The resident size of a process, in bytes (0 when it cannot be read). */
async function residentBytes(pid: number): Promise<number> {
  try {
    // Deno lets only --allow-all read /proc; `ps` needs --allow-run, which the lab has.
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    try {
      const out = await new Deno.Command("ps", {
        args: ["-o", "rss=", "-p", String(pid)],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      const kib = Number(new TextDecoder().decode(out.stdout).trim());
      return Number.isFinite(kib) ? kib * 1024 : 0;
    } catch {
      return 0;
    }
  }
}

/** Why the process stopped before every check was reported, for messages. */
interface Ending {
  /** For a check that was running: "timed out after 20 s while this check ran: ...". */
  readonly running: string;
  /** For a check that never started, in the form "grading stopped ... while X". */
  readonly stopped: string;
}

/**
 * One {@linkcode GradeTest} per expected check, from the authenticated
 * records: the harness's own result where it reported one, else failed with
 * the reason.
 */
function deriveTests(
  expected: readonly Expected[],
  run: HarnessRun,
  timeoutMs: number,
  memory: MemoryLimit,
  clean: (text: string) => string,
): { tests: GradeTest[]; harnessStarted: boolean; complete: boolean; message?: string } {
  const names = new Set(expected.map((e) => e.check.name));
  const started = new Set<string>();
  const ended = new Map<string, EndRecord>();
  let ready = false;
  let loaded: boolean | null = null;
  let done = false;
  let running: string | null = null;
  for (const record of run.records) {
    switch (record.t) {
      case "ready":
        ready = true;
        break;
      case "loaded":
        loaded ??= record.ok;
        break;
      case "start":
        if (!names.has(record.name) || started.has(record.name)) break;
        started.add(record.name);
        running = record.name;
        break;
      case "end":
        if (!started.has(record.name) || ended.has(record.name)) break;
        ended.set(record.name, record);
        if (running === record.name) running = null;
        break;
      case "done":
        done = true;
        break;
    }
  }
  const ending = describeEnding(run, timeoutMs, memory, { ready, loaded, running });
  const tests = expected.map(({ check, grader }): GradeTest => {
    const end = ended.get(check.name);
    if (end) {
      const requirement = findRequirement(end.requirement) ? end.requirement : check.requirement;
      return {
        name: check.name,
        status: end.status,
        run: "finished",
        message: clean(end.message),
        requirement,
        section: findRequirement(requirement)?.section ?? null,
        hint: end.hint,
        durationMs: Math.round(end.durationMs * 10) / 10,
      };
    }
    const wasRunning = started.has(check.name);
    const how: CheckRun = wasRunning ? (run.timedOut ? "timed out" : "interrupted") : "not run";
    const observed = wasRunning ? ending.running : `this check did not run: ${ending.stopped}`;
    const failure = new GradeFailure({
      observed,
      expected: check.expects ?? findRequirement(check.requirement)?.summary ?? check.name,
      requirement: check.requirement,
      hint: check.hint,
    }, safeHintCommand(grader, check.hint));
    return {
      name: check.name,
      status: "failed",
      run: how,
      message: failure.message,
      requirement: check.requirement,
      section: findRequirement(check.requirement)?.section ?? null,
      hint: check.hint,
      durationMs: wasRunning && run.timedOut ? timeoutMs : 0,
    };
  });
  const complete = done && tests.every((t) => t.run === "finished");
  let message: string | undefined;
  if (!complete && run.timedOut) {
    const seconds = formatSeconds(timeoutMs);
    message = running
      ? `timed out after ${seconds}: is there an infinite loop? (the check "${running}" was running)`
      : ready && loaded === null
      ? `timed out after ${seconds} while your exercise module was loading: is there an ` +
        `infinite loop at the top level of exercise.ts?`
      : `${ending.stopped}`;
  } else if (!complete && ready) {
    message = `grading stopped before every check was reported: ${ending.stopped}`;
  }
  return { tests, harnessStarted: ready, complete, message };
}

function describeEnding(
  run: HarnessRun,
  timeoutMs: number,
  memory: MemoryLimit,
  at: { ready: boolean; loaded: boolean | null; running: string | null },
): Ending {
  const where = !at.ready
    ? "before the grading harness was ready"
    : at.loaded === null
    ? "while your exercise module was loading"
    : at.running
    ? `while the check "${at.running}" was running`
    : "between two checks";
  const seconds = formatSeconds(timeoutMs);
  if (run.timedOut) {
    return {
      running: `timed out after ${seconds} while this check ran: is there an infinite loop?`,
      stopped: at.loaded === null && at.ready
        ? `grading stopped after ${seconds} while your exercise module was still loading ` +
          `(an infinite loop at the top level of exercise.ts?)`
        : `grading stopped after ${seconds} ${where}`,
    };
  }
  const heap = /Reached heap limit|JavaScript heap out of memory|Fatal JavaScript out of memory/
    .test(run.stderr);
  const process = /Fatal process out of memory/.test(run.stderr);
  if (run.memoryExceeded || heap || process) {
    const what = heap
      ? `ran out of memory (its JavaScript heap is limited to ${
        formatBytes(memory.heapLimitBytes)
      })`
      : process
      ? `ran out of memory (it is limited to ${formatBytes(memory.limitBytes ?? 0)}, and each ` +
        `Worker takes a share of that)`
      : `used more than ${formatBytes(memory.limitBytes ?? 0)} of memory and was stopped`;
    return {
      running: `the test process ${what} while this check ran`,
      stopped: `the test process ${what} ${where}`,
    };
  }
  if (/Top-level await promise never resolved|event loop has already resolved/.test(run.stderr)) {
    return {
      running: "this check waited on a promise that never settles, and nothing else was left " +
        "to run, so the test process ended",
      stopped: `the test process ended on a promise that never settles ${where}`,
    };
  }
  const status = run.signal ? `was killed by ${run.signal}` : `exited with status ${run.code}`;
  const said = lastLine(run.stderr);
  const last = said ? ` (its last words on stderr: ${JSON.stringify(said)})` : "";
  return {
    running: `the test process ${status} while this check ran${last}: does your code end ` +
      `the process or crash it?`,
    stopped: `the test process ${status} ${where}${last}`,
  };
}

/** The last non-empty line of a process's stderr, colourless, at most 200 characters. */
function lastLine(text: string): string {
  const lines = stripControl(text).split("\n").map((l) => l.trim())
    .filter((l) => l && !/^(Stack backtrace:|\d+: <unknown>)$/.test(l));
  const line = lines.at(-1) ?? "";
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function safeHintCommand(grader: Grader<unknown>, hint: number): string | undefined {
  try {
    return grader.hintCommand(hint);
  } catch {
    return undefined;
  }
}

function explainCompileOutput(output: string, signatures: string): string {
  let text = output;
  if (text.includes(signatures)) {
    text += `\n\n(${signatures} compares the exports of your exercise.ts with the stub's: ` +
      `keep the names and types the stub exports, the grader relies on them)`;
  }
  if (
    /lockfile is out of date|--cached-only is specified|--no-remote is specified|not found in cache|error sending request/
      .test(text)
  ) {
    text += `\n\n(${DEPENDENCY_NOTE})`;
  }
  return text;
}

function errorText(stderr: string, stdout: string): string {
  const text = `${stderr}\n${stdout}`.split("\n")
    .filter((l) => !/^(Stack backtrace:|\s+\d+: <unknown>)$/.test(l))
    .join("\n").trim();
  return text.length > 4000 ? `${text.slice(0, 4000)}\n...` : text;
}

/**
 * Text from the graded process, safe to print: no terminal escape sequences
 * (colours, cursor movement, titles, hyperlinks: nothing the learner's code
 * prints can redraw a verdict) and no control characters but tab and newline.
 */
export function stripControl(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g, "") // OSC: titles, hyperlinks, clipboard
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "") // CSI: colours, cursor, erase
    // deno-lint-ignore no-control-regex
    .replace(/\x1b[@-Z\\-_]?/g, "") // other escapes
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "");
}

function cleanOutput(text: string, workspace: Workspace): string {
  let out = stripControl(text).replace(/, \{ with: \{ "resolution-mode": "import" \} \}/g, "");
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

function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  return gib >= 1 && Number.isInteger(gib * 4)
    ? `${gib} GiB`
    : `${Math.round(bytes / 1024 ** 2)} MiB`;
}

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

function start(
  cmd: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeoutMs: number },
): { result: Promise<RunResult>; kill(): void } {
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
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
