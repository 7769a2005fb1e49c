/**
 * {@linkcode GradeReport}: the result of grading one lesson, one JSON shape
 * that `lab check --json`, the CLI's tables, the notebooks and CI all render,
 * and {@linkcode isCompletePass}, the one rule for recording a pass.
 *
 * ```json
 * { "lesson": { "number": 1, "id": "mmio-window", "dir": "01-mmio-window", "title": "The MMIO window" },
 *   "stage": "test", "ok": false, "expected": 15, "passed": 14, "failed": 1,
 *   "durationMs": 612.3, "timeoutMs": 20000, "file": "workspace/01-mmio-window/exercise.ts",
 *   "memory": { "limitBytes": 2147483648, "heapLimitBytes": 536870912, "enforcedBy": "rlimit" },
 *   "tests": [{ "name": "MagicValue reads \"virt\" as a little-endian word", "status": "failed",
 *               "run": "finished", "message": "observed: ...", "requirement": "4.2.2.1/1",
 *               "section": "4.2.2.1", "hint": 1, "durationMs": 0.4 }, ...] }
 * ```
 *
 * @module
 */

/** How far grading got: `compile` (type errors), `test` (ran), `timeout`, `error` (could not run). */
export type GradeStage = "compile" | "test" | "timeout" | "error";

/**
 * How a check's run ended: `finished` (it returned or threw: its status is its
 * own verdict), `timed out` (it was running when the time limit stopped the
 * test process), `interrupted` (it was running when the process ended some
 * other way: an exit, a crash, running out of memory) or `not run` (it never
 * started). Every check but a `finished` one has status `failed`.
 */
export type CheckRun = "finished" | "timed out" | "interrupted" | "not run";

/** One check's result in a {@linkcode GradeReport}. */
export interface GradeTest {
  /** The check's name. */
  readonly name: string;
  /** Outcome: `passed` only for a check that ran to its end and passed. */
  readonly status: "passed" | "failed";
  /** How its run ended. */
  readonly run: CheckRun;
  /** The teaching message ("" when passed). */
  readonly message: string;
  /** The requirement id the result cites, e.g. `"4.2.2.1/1"`, or `null` when unknown. */
  readonly requirement: string | null;
  /** The requirement's spec section, e.g. `"4.2.2.1"`, or `null`. */
  readonly section: string | null;
  /** The hint to read, or `null`. */
  readonly hint: number | null;
  /** Time taken, in milliseconds (0 for a check that did not run). */
  readonly durationMs: number;
}

/** The memory limit the test stage ran under. */
export interface MemoryLimit {
  /**
   * The most memory the test process could use, in bytes (`null`: no limit
   * could be applied on this system).
   */
  readonly limitBytes: number | null;
  /** The JavaScript heap limit given to V8, in bytes. */
  readonly heapLimitBytes: number;
  /**
   * How `limitBytes` was enforced: `rlimit` (the kernel refuses allocations
   * beyond it: `prlimit --data`), `rss-poll` (the parent polls the process's
   * resident size and stops it) or `none`.
   */
  readonly enforcedBy: "rlimit" | "rss-poll" | "none";
}

/**
 * The result of grading one lesson: one JSON shape that the CLI
 * (`lab check --json`), the notebooks and CI all render.
 *
 * The checks and their number come from the grader, loaded by the trusted
 * parent, never from the graded process: `tests` has one entry per check the
 * grader defines (except at the `compile` stage, where none ran), and a check
 * without an authenticated result from the grading harness is `failed`.
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
  /** Whether the lesson passes: see {@linkcode isCompletePass}. */
  readonly ok: boolean;
  /** Number of checks the grader defines. */
  readonly expected: number;
  /** Number of checks passed. */
  readonly passed: number;
  /** Number of checks failed (including those that did not run or did not finish). */
  readonly failed: number;
  /** Wall time of the whole grading, in milliseconds. */
  readonly durationMs: number;
  /** The test stage's time limit, in milliseconds. */
  readonly timeoutMs: number;
  /** The test stage's memory limit. */
  readonly memory: MemoryLimit;
  /** The exercise file graded, for messages (e.g. `workspace/01-mmio-window/exercise.ts`). */
  readonly file: string;
  /** `deno check` output when the compile stage failed. */
  readonly compileOutput?: string;
  /**
   * What went wrong when the run did not end normally: the `timeout` and
   * `error` stages, and a `test` stage whose process ended before reporting
   * every check.
   */
  readonly message?: string;
  /** One entry per check, in the grader's order. */
  readonly tests: readonly GradeTest[];
}

/**
 * Whether a report is a pass: the test stage ran, the grader defines at
 * least one check, and every one of them has a result that ran to its end
 * and passed. The only rule for a pass: `report.ok` is computed with it, and
 * the workspace records a pass only when it holds.
 *
 * @param report The report (or its fields).
 */
export function isCompletePass(
  report: Pick<GradeReport, "stage" | "expected" | "passed" | "failed" | "tests">,
): boolean {
  return report.stage === "test" && report.expected > 0 &&
    report.tests.length === report.expected && report.passed === report.expected &&
    report.failed === 0 &&
    report.tests.every((t) => t.status === "passed" && t.run === "finished");
}
