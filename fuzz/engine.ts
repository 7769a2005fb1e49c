/**
 * The fuzz engine: runs the hostile driver against each device model, the
 * hostile device against the driver half, and a hostile MMIO window against
 * the block and console drivers (once they are up, and while they bring the
 * device up), episode after episode, each
 * from its own seed, and gathers what they found into one
 * {@linkcode FuzzReport}: throughput, the rules the code under test
 * reported (by requirement id), every failure with the seed and step that
 * reproduce it, and per hostile case class what the code did.
 *
 * Episode `i` of a target runs from `episodeSeed(seed, i)`, and episode 0
 * from `seed` itself: `runFuzz({ seed: failure.seed, targets: [failure.target],
 * ops: failure.step + 1 })` replays a failure exactly.
 *
 * Errors that escape from promise callbacks (a device completing a request
 * after its queue was reset, say) are caught for the run's duration with
 * `unhandledrejection` and `error` listeners and charged to the step that was
 * running.
 *
 * @module
 */

import type { RequirementId } from "../conformance/requirements.ts";
import type { MachineParts } from "../machine.ts";
import { type EpisodeSink, runDeviceEpisode } from "./hostile_driver.ts";
import { runDriverEpisode } from "./hostile_device.ts";
import { runMmioDriverEpisode } from "./hostile_mmio.ts";
import { episodeSeed, FuzzRng } from "./rng.ts";
import { KNOWN_ISSUES } from "./known.ts";
import type {
  CaseClassTally,
  FailureKind,
  FuzzFailure,
  FuzzReport,
  FuzzTarget,
  TargetReport,
} from "./types.ts";
import { FUZZ_TARGETS } from "./types.ts";

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** The run's seed (default 1). */
  readonly seed?: number;
  /** Steps to run over all targets (default 10 000), shared evenly. */
  readonly ops?: number;
  /** Targets (default: all of {@linkcode FUZZ_TARGETS}). */
  readonly targets?: readonly FuzzTarget[];
  /** Replacement parts, e.g. the learner's; the rest is the reference. */
  readonly parts?: MachineParts;
  /** The feature bits the devices may offer (default: all). */
  readonly featureMask?: bigint;
  /**
   * Steps per episode (default 200 for a device, 120 for the driver half, 150 for a driver, 10
   * for a driver's hostile bring-up and what follows it). An episode cut short (the code threw,
   * looped, broke its queue or refused the device) counts the steps it was given.
   */
  readonly stepsPerEpisode?: number;
  /** Resident set size above which the run fails with `memory` (default 2 GiB). */
  readonly memoryLimit?: number;
  /** Called after each episode with the steps done so far and the total. */
  readonly onProgress?: (done: number, total: number, target: FuzzTarget) => void;
  /**
   * Called as each step begins, with where it is: what a supervisor needs
   * to name the step that never ended (`fuzz/supervisor.ts`).
   */
  readonly onStep?: (where: FuzzWhere) => void;
  /** Called after each episode with the report so far (a supervisor keeps the last). */
  readonly onEpisode?: (report: FuzzReport) => void;
  /**
   * Start part-way: skip the targets before `target`, and begin `target` at
   * episode `episode` with `targetOps` of its steps counted as done (the
   * steps of earlier episodes, run elsewhere). The shares of the targets are
   * those of the whole run.
   */
  readonly resume?: {
    readonly target: FuzzTarget;
    readonly episode: number;
    readonly targetOps: number;
  };
}

/** Where a run is: the step that is running. */
export interface FuzzWhere {
  readonly target: FuzzTarget;
  /** The episode's index in its target, and its seed. */
  readonly episode: number;
  readonly seed: number;
  /** The step in the episode, from 0. */
  readonly step: number;
  /** What the step does, and the hostile class it delivers, if any. */
  readonly op: string;
  readonly caseClass?: string;
  /** Steps of the target done before this episode, and steps this episode was given. */
  readonly targetOps: number;
  readonly episodeSteps: number;
}

/** Steps of the default run: what `deno task fuzz` runs. */
export const DEFAULT_FUZZ_OPS = 10_000;

/**
 * Runs the engine (see the module documentation).
 *
 * @param options Seed, steps, targets, parts.
 * @returns What it found.
 * @throws {RangeError} If `ops` is not a positive safe integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runFuzz } from "./engine.ts";
 * const report = await runFuzz({ seed: 7, ops: 300, targets: ["driver"] });
 * assert.equal(report.ops, 300);
 * assert.equal(report.failureCounts.threw, 0);
 * ```
 */
export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzReport> {
  const seed = (options.seed ?? 1) >>> 0;
  const ops = options.ops ?? DEFAULT_FUZZ_OPS;
  if (!Number.isSafeInteger(ops) || ops < 1) {
    throw new RangeError(`Fuzz ops ${ops} is not a positive integer`);
  }
  const targets = options.targets ?? FUZZ_TARGETS;
  const memoryLimit = options.memoryLimit ?? 2 * 1024 ** 3;
  const violations: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  const failureCounts: Record<FailureKind, number> = {
    threw: 0,
    uncaught: 0,
    hung: 0,
    invariant: 0,
    silent: 0,
    memory: 0,
  };
  const kept = new Set<string>();
  const classes = new Map<string, CaseClassTally>();
  const targetReports: TargetReport[] = [];
  let peakRss = 0;
  let peakHeapUsed = 0;
  let done = 0;

  // Where a failure happens: updated by every step.
  let where = {
    target: targets[0],
    seed,
    step: 0,
    op: "",
    caseClass: undefined as string | undefined,
  };
  let episodeAt = { episode: 0, targetOps: 0, episodeSteps: 0 };
  const onStep = options.onStep;

  const fail: EpisodeSink["fail"] = (kind, message, extra = {}) => {
    failureCounts[kind]++;
    const failure: FuzzFailure = {
      target: where.target,
      kind,
      ...(extra.invariant ? { invariant: extra.invariant } : {}),
      requirement: extra.requirement ?? null,
      ...(where.caseClass ? { caseClass: where.caseClass } : {}),
      message,
      seed: where.seed,
      step: where.step,
      op: where.op,
    };
    const known = KNOWN_ISSUES.find((k) => k.matches(failure));
    const key = [failure.target, kind, failure.invariant, failure.requirement, failure.caseClass]
      .join("|");
    if (kept.has(key)) return;
    kept.add(key);
    failures.push(known ? { ...failure, known: known.issue } : failure);
  };

  const sink: EpisodeSink = {
    fail,
    step(index, op, caseClass) {
      where = { ...where, step: index, op, caseClass };
      onStep?.({ ...where, ...episodeAt });
    },
    tally(cls, rule, outcome) {
      const key = `${where.target}|${cls}`;
      let t = classes.get(key);
      if (!t) {
        t = {
          name: cls,
          target: where.target,
          rule,
          runs: 0,
          reported: {},
          broke: 0,
          threw: 0,
          hung: 0,
          silent: 0,
          settled: {},
        };
        classes.set(key, t);
      }
      t.runs++;
      for (const id of new Set(outcome.reported)) t.reported[id] = (t.reported[id] ?? 0) + 1;
      if (outcome.broke) t.broke++;
      for (const code of outcome.settledWith ?? []) t.settled[code] = (t.settled[code] ?? 0) + 1;
      if (outcome.threw !== undefined) {
        t.threw++;
        t.firstThrown ??= outcome.threw;
      }
      if (outcome.hung) t.hung++;
      const silent = outcome.reported.length === 0 && !outcome.broke &&
        outcome.threw === undefined && !outcome.hung;
      if (silent) t.silent++;
      const failed = outcome.threw !== undefined || outcome.hung || (silent && rule !== null);
      if (failed) t.firstFailure ??= { seed: where.seed, step: where.step };
      if (silent && rule !== null) {
        fail("silent", `${cls} was accepted without a report (the rule: ${rule})`, {
          requirement: rule as RequirementId,
        });
      }
    },
  };

  // Errors from promise callbacks and microtasks: charged to the step running.
  const strays: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    strays.push(e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    strays.push(e.error ?? e.message);
  };
  const drainStrays = () => {
    while (strays.length > 0) {
      const error = strays.shift();
      fail(
        "uncaught",
        `An error escaped from a promise callback: ${
          error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error)
        }`,
      );
    }
  };
  let settles = 0;
  const settle = async () => {
    // Enough turns for a backend's resolved promise and the device's completion after it.
    for (let i = 0; i < 6; i++) await Promise.resolve();
    if (++settles % 64 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    drainStrays();
  };

  const sample = () => {
    const usage = Deno.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeapUsed = Math.max(peakHeapUsed, usage.heapUsed);
    if (usage.rss > memoryLimit) {
      fail(
        "memory",
        `The process holds ${Math.round(usage.rss / 2 ** 20)} MiB, above the bound of ${
          Math.round(memoryLimit / 2 ** 20)
        } MiB`,
      );
      return false;
    }
    return true;
  };

  const started = performance.now();
  const report = (): FuzzReport => {
    const elapsedMs = performance.now() - started;
    return {
      seed,
      ops: done - skipped,
      elapsedMs,
      opsPerSecond: (done - skipped) / (elapsedMs / 1000),
      targets: targetReports.slice(),
      violations: { ...violations },
      failures: failures.slice(),
      failureCounts: { ...failureCounts },
      classes: [...classes.values()].map((c) => ({
        ...c,
        reported: { ...c.reported },
        settled: { ...c.settled },
      })),
      peakRss,
      peakHeapUsed,
      passed: failures.every((f) => f.known !== undefined),
    };
  };
  const share = Math.floor(ops / targets.length);
  const budgetOf = (t: number) =>
    t === targets.length - 1 ? ops - share * (targets.length - 1) : share;
  const resume = options.resume;
  const first = resume ? targets.indexOf(resume.target) : 0;
  if (first < 0) {
    throw new RangeError(`Fuzz resume target ${resume!.target} is not a target of the run`);
  }
  // Steps counted as done elsewhere (a resumed run reports only its own).
  let skipped = 0;
  for (let t = 0; t < first; t++) skipped += budgetOf(t);
  skipped += resume?.targetOps ?? 0;
  done = skipped;

  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  try {
    for (const [t, target] of targets.entries()) {
      if (t < first) continue;
      const budget = budgetOf(t);
      const perEpisode = options.stepsPerEpisode ??
        (target === "driver"
          ? 120
          : target.endsWith("-driver")
          ? 150
          : target.endsWith("-bringup")
          ? 10
          : 200);
      const targetStart = performance.now();
      const resumed = resume && t === first;
      let targetOps = resumed ? resume.targetOps : 0;
      let episodes = resumed ? resume.episode : 0;
      const firstEpisode = episodes;
      while (targetOps < budget) {
        const s = episodeSeed(seed, episodes);
        const steps = Math.min(perEpisode, budget - targetOps);
        where = { target, seed: s, step: 0, op: "", caseClass: undefined };
        episodeAt = { episode: episodes, targetOps, episodeSteps: steps };
        const rng = new FuzzRng(s);
        const ran = target === "blk-driver" || target === "console-driver" ||
            target === "blk-bringup" || target === "console-bringup"
          ? await runMmioDriverEpisode({
            kind: target.startsWith("blk") ? "blk" : "console",
            rng,
            steps,
            parts: options.parts,
            featureMask: options.featureMask,
            bringUp: target.endsWith("-bringup"),
            sink,
            violations,
            settle,
          })
          : target === "driver"
          ? runDriverEpisode({
            rng,
            steps,
            parts: options.parts,
            featureMask: options.featureMask,
            sink,
            violations,
          })
          : await runDeviceEpisode({
            target,
            rng,
            steps,
            parts: options.parts,
            featureMask: options.featureMask,
            sink,
            violations,
            settle,
          });
        drainStrays();
        // An episode cut short (the code threw, looped or broke its queue)
        // still counts the steps it was given: the next starts fresh.
        void ran;
        targetOps += steps;
        done += steps;
        episodes++;
        const within = sample();
        options.onProgress?.(done, ops, target);
        if (options.onEpisode) {
          options.onEpisode({
            ...report(),
            targets: [...targetReports, {
              target,
              ops: targetOps - (resumed ? resume.targetOps : 0),
              episodes: episodes - firstEpisode,
              elapsedMs: performance.now() - targetStart,
            }],
          });
        }
        if (!within) break;
      }
      targetReports.push({
        target,
        ops: targetOps - (resumed ? resume.targetOps : 0),
        episodes: episodes - firstEpisode,
        elapsedMs: performance.now() - targetStart,
      });
    }
  } finally {
    // Let the last episode's callbacks run while the listeners still catch them.
    await new Promise((resolve) => setTimeout(resolve, 0));
    drainStrays();
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
  sample();
  return report();
}
