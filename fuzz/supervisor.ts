/**
 * The fuzz engine under a watchdog, for code that may never return (a
 * learner's part stuck in a loop that reads no guest memory, so the read
 * budget never trips): the run goes on in a Worker (`fuzz/worker.ts`), each
 * step writes where it is into shared memory before it runs, and a step that
 * has not finished after {@linkcode SupervisedFuzzOptions.stepTimeoutMs} is
 * stopped by terminating the worker. The step is reported as `hung` for its
 * hostile class (with the seed and step that replay it), and a new worker
 * goes on from the next episode. The reports of the workers are merged into
 * one, as if one run had made them.
 *
 * @module
 */

import { DEFAULT_FUZZ_OPS, type FuzzOptions, type FuzzWhere } from "./engine.ts";
import type { CaseClassTally, FuzzFailure, FuzzReport, TargetReport } from "./types.ts";
import { readWhere, stepsBegun, whereBuffer } from "./where.ts";
import type { FuzzWorkerRequest } from "./worker.ts";

/** How long one step may run before it counts as hung, by default: 10 s. */
export const DEFAULT_STEP_TIMEOUT_MS = 10_000;
/** How long a worker may take to load the parts and begin its first step: 120 s. */
const START_TIMEOUT_MS = 120_000;

/** Options of {@linkcode runFuzzSupervised}. */
export interface SupervisedFuzzOptions
  extends Omit<FuzzOptions, "parts" | "onStep" | "onEpisode" | "resume"> {
  /**
   * The URL of a module whose `loadFuzzParts()` returns `{ parts,
   * featureMask? }`, the parts to fuzz (loaded in each worker), or `null`
   * for the reference.
   */
  readonly partsModule: string | null;
  /** Milliseconds one step may take before it is stopped and reported hung (default 10 000). */
  readonly stepTimeoutMs?: number;
}

/** What a worker posts (`fuzz/worker.ts`). */
type WorkerMessage =
  | { readonly kind: "episode"; readonly report: FuzzReport }
  | { readonly kind: "done"; readonly report: FuzzReport }
  | { readonly kind: "error"; readonly message: string };

type WorkerOutcome =
  | { readonly kind: "done"; readonly report: FuzzReport }
  | { readonly kind: "hung"; readonly last: FuzzReport | null; readonly where: FuzzWhere };

/**
 * Runs the engine in workers under a per-step time limit (see the module
 * documentation).
 *
 * @param options The run's options, the parts module and the step time limit.
 * @returns The merged report; a step stopped by the watchdog is a `hung` failure.
 * @throws {Error} If a worker cannot load the parts or dies of something
 *   other than the watchdog, or does not begin its first step within 120 s.
 * @throws {RangeError} If `stepTimeoutMs` is not a positive number.
 */
export async function runFuzzSupervised(options: SupervisedFuzzOptions): Promise<FuzzReport> {
  const timeout = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  if (!(timeout > 0)) throw new RangeError(`Step timeout ${timeout} ms is not positive`);
  const total = options.ops ?? DEFAULT_FUZZ_OPS;
  const started = performance.now();
  let merged: FuzzReport | null = null;
  let resume: FuzzOptions["resume"];
  for (;;) {
    const before = merged?.ops ?? 0;
    const outcome = await runWorker(options, resume, timeout, (report) => {
      const target = report.targets.at(-1)?.target;
      if (target) options.onProgress?.(before + report.ops, total, target);
    });
    if (outcome.kind === "done") {
      merged = mergeReports(merged, outcome.report);
      break;
    }
    merged = mergeReports(merged, hungReport(outcome.last, outcome.where, timeout, options.seed));
    const w = outcome.where;
    resume = { target: w.target, episode: w.episode + 1, targetOps: w.targetOps + w.episodeSteps };
  }
  const elapsedMs = performance.now() - started;
  return { ...merged, elapsedMs, opsPerSecond: merged.ops / (elapsedMs / 1000) };
}

function runWorker(
  options: SupervisedFuzzOptions,
  resume: FuzzOptions["resume"],
  timeout: number,
  onEpisode: (report: FuzzReport) => void,
): Promise<WorkerOutcome> {
  const where = whereBuffer();
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
  const {
    partsModule,
    stepTimeoutMs: _timeout,
    onProgress: _progress,
    ...runOptions
  } = options;
  return new Promise<WorkerOutcome>((resolve, reject) => {
    let last: FuzzReport | null = null;
    let seen = 0;
    let since = performance.now();
    const end = () => {
      clearInterval(watchdog);
      worker.terminate();
    };
    const watchdog = setInterval(() => {
      const begun = stepsBegun(where);
      const now = performance.now();
      if (begun !== seen) {
        seen = begun;
        since = now;
        return;
      }
      const limit = begun === 0 ? START_TIMEOUT_MS : timeout;
      if (now - since <= limit) return;
      end();
      const at = readWhere(where);
      if (at === null) {
        reject(new Error(`The fuzz worker did not begin its first step within ${limit} ms`));
      } else {
        resolve({ kind: "hung", last, where: at });
      }
    }, Math.max(10, Math.min(250, timeout / 4)));
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as WorkerMessage;
      if (data.kind === "error") {
        end();
        reject(new Error(data.message));
      } else if (data.kind === "episode") {
        last = data.report;
        onEpisode(data.report);
      } else {
        end();
        resolve({ kind: "done", report: data.report });
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      end();
      reject(new Error(`The fuzz worker failed: ${event.message}`));
    };
    const request: FuzzWorkerRequest = { options: { ...runOptions, resume }, partsModule, where };
    worker.postMessage(request);
  });
}

/**
 * The report of a worker stopped at `where`: what it had finished (`last`),
 * plus the step that never ended as a `hung` failure of its class, and that
 * episode's steps counted as run.
 */
function hungReport(
  last: FuzzReport | null,
  where: FuzzWhere,
  timeout: number,
  seed: number | undefined,
): FuzzReport {
  const base = last ?? emptyReport((seed ?? 1) >>> 0);
  const failure: FuzzFailure = {
    target: where.target,
    kind: "hung",
    requirement: null,
    ...(where.caseClass ? { caseClass: where.caseClass } : {}),
    message: `The step did not finish within ${timeout} ms and was stopped: a loop that ` +
      "never ends without reading guest memory",
    seed: where.seed,
    step: where.step,
    op: where.op,
  };
  const classes = base.classes.map((c) => ({ ...c }));
  if (where.caseClass) {
    let t = classes.find((c) => c.target === where.target && c.name === where.caseClass);
    if (!t) {
      t = {
        name: where.caseClass,
        target: where.target,
        rule: null,
        runs: 0,
        reported: {},
        broke: 0,
        threw: 0,
        hung: 0,
        silent: 0,
        settled: {},
      };
      classes.push(t);
    }
    t.runs++;
    t.hung++;
    t.firstFailure ??= { seed: where.seed, step: where.step };
  }
  const targets = [...base.targets];
  const i = targets.findIndex((t) => t.target === where.target);
  const episode: TargetReport = {
    target: where.target,
    ops: where.episodeSteps,
    episodes: 1,
    elapsedMs: 0,
  };
  if (i < 0) targets.push(episode);
  else targets[i] = addTargets(targets[i], episode);
  const failures = [...base.failures, failure];
  return {
    ...base,
    ops: base.ops + where.episodeSteps,
    targets,
    failures,
    failureCounts: { ...base.failureCounts, hung: base.failureCounts.hung + 1 },
    classes,
    passed: false,
  };
}

function emptyReport(seed: number): FuzzReport {
  return {
    seed,
    ops: 0,
    elapsedMs: 0,
    opsPerSecond: 0,
    targets: [],
    violations: {},
    failures: [],
    failureCounts: { threw: 0, uncaught: 0, hung: 0, invariant: 0, silent: 0, memory: 0 },
    classes: [],
    peakRss: 0,
    peakHeapUsed: 0,
    passed: true,
  };
}

function addTargets(a: TargetReport, b: TargetReport): TargetReport {
  return {
    target: a.target,
    ops: a.ops + b.ops,
    episodes: a.episodes + b.episodes,
    elapsedMs: a.elapsedMs + b.elapsedMs,
  };
}

/** The key under which the engine keeps one failure of a kind (see `runFuzz`). */
function failureKey(f: FuzzFailure): string {
  return [f.target, f.kind, f.invariant, f.requirement, f.caseClass].join("|");
}

/**
 * Two reports of disjoint parts of one run, as one: counts added, the
 * failures of `b` not kept already appended, tallies merged by target and
 * class, peaks the larger.
 *
 * @param a The earlier part, or `null`.
 * @param b The later part.
 * @returns The merged report (wall time and rate are `b`'s until the caller sets them).
 */
export function mergeReports(a: FuzzReport | null, b: FuzzReport): FuzzReport {
  if (a === null) return b;
  const sum = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>) => {
    const out: Record<string, number> = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const targets = [...a.targets];
  for (const t of b.targets) {
    const i = targets.findIndex((x) => x.target === t.target);
    if (i < 0) targets.push(t);
    else targets[i] = addTargets(targets[i], t);
  }
  const kept = new Set(a.failures.map(failureKey));
  const failures = [...a.failures, ...b.failures.filter((f) => !kept.has(failureKey(f)))];
  const classes: CaseClassTally[] = a.classes.map((c) => ({ ...c }));
  for (const c of b.classes) {
    const t = classes.find((x) => x.target === c.target && x.name === c.name);
    if (!t) {
      classes.push({ ...c });
      continue;
    }
    Object.assign(t, {
      runs: t.runs + c.runs,
      reported: sum(t.reported, c.reported),
      broke: t.broke + c.broke,
      threw: t.threw + c.threw,
      hung: t.hung + c.hung,
      silent: t.silent + c.silent,
      settled: sum(t.settled, c.settled),
      firstThrown: t.firstThrown ?? c.firstThrown,
      firstFailure: t.firstFailure ?? c.firstFailure,
    });
  }
  return {
    seed: a.seed,
    ops: a.ops + b.ops,
    elapsedMs: a.elapsedMs + b.elapsedMs,
    opsPerSecond: b.opsPerSecond,
    targets,
    violations: sum(a.violations, b.violations),
    failures,
    failureCounts: sum(a.failureCounts, b.failureCounts) as FuzzReport["failureCounts"],
    classes,
    peakRss: Math.max(a.peakRss, b.peakRss),
    peakHeapUsed: Math.max(a.peakHeapUsed, b.peakHeapUsed),
    passed: failures.every((f) => f.known !== undefined),
  };
}
