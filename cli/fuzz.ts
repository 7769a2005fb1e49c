/**
 * `lab fuzz [--mine] [--seed N] [--ops N] [--target blk|console|driver|blk-driver|console-driver|blk-bringup|console-bringup|device|bringup|drivers|all] [--json]`:
 * runs the fuzz engine (`fuzz/engine.ts`): a hostile driver against the
 * block and console device models through their MMIO windows, a hostile
 * device against the driver half, and a hostile MMIO window against the block
 * and console drivers, once they are up (`*-driver`) and while they bring the
 * device up (`*-bringup`). With `--mine`, the parts of every lesson
 * the learner passed replace the reference ones (with the lessons' feature
 * mask), and the report says, per hostile case class, what their code did.
 *
 * With `--mine` the run goes on in workers under a watchdog
 * (`fuzz/supervisor.ts`): a step of the learner's code that has not finished
 * after `--step-timeout` seconds (default 10) is stopped and reported hung
 * for its class, and the run goes on from the next episode.
 *
 * Exits 1 when a failure that is not a known bug of the reference was found
 * (the code threw, hung, broke an invariant, or accepted what the spec
 * forbids without a report), 0 otherwise.
 *
 * @module
 */

import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { DEFAULT_FUZZ_OPS, runFuzz } from "../fuzz/engine.ts";
import { DEFAULT_STEP_TIMEOUT_MS, runFuzzSupervised } from "../fuzz/supervisor.ts";
import { formatFuzzReport } from "../fuzz/report.ts";
import type { FuzzTarget } from "../fuzz/types.ts";
import type { MachineParts } from "../machine.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";
import { describeLearnerParts, learnerParts } from "./learner_parts.ts";
import { stderrProgress } from "./progress.ts";

/** What `--target` accepts, and the targets each means. */
export const FUZZ_TARGET_CHOICES: Readonly<Record<string, readonly FuzzTarget[]>> = Object.freeze({
  blk: ["blk"],
  console: ["console"],
  driver: ["driver"],
  "blk-driver": ["blk-driver"],
  "console-driver": ["console-driver"],
  "blk-bringup": ["blk-bringup"],
  "console-bringup": ["console-bringup"],
  device: ["blk", "console"],
  bringup: ["blk-bringup", "console-bringup"],
  drivers: ["blk-driver", "console-driver", "blk-bringup", "console-bringup"],
  all: [
    "blk",
    "console",
    "driver",
    "blk-driver",
    "console-driver",
    "blk-bringup",
    "console-bringup",
  ],
});

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`${value} is not a positive whole number.`);
  }
  return n;
}

function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 0xffff_ffff) {
    throw new InvalidArgumentError(`${value} is not a seed from 0 to 4294967295.`);
  }
  return n;
}

/** Registers `fuzz`. */
export function register(program: Command): void {
  program
    .command("fuzz")
    .description(
      "throw seeded hostile chains at the devices and hostile completions at the driver half",
    )
    .option("--mine", "fuzz your code: the parts of every lesson you passed")
    .option("--seed <n>", "the run's seed (default: from the clock, printed)", parseSeed)
    .option("--ops <n>", `steps to run (default ${DEFAULT_FUZZ_OPS})`, parseCount)
    .addOption(
      new Option("--target <which>", "what to fuzz").choices(
        Object.keys(FUZZ_TARGET_CHOICES) as [string, ...string[]],
      ).default("all"),
    )
    .option(
      "--step-timeout <seconds>",
      `with --mine: seconds a step may take before it is stopped and reported hung (default ${
        DEFAULT_STEP_TIMEOUT_MS / 1000
      })`,
      parseCount,
    )
    .option("--json", "print the report as JSON")
    .action(async (opts) => {
      const code = await fuzz({
        mine: opts.mine ?? false,
        seed: opts.seed,
        ops: opts.ops,
        target: opts.target,
        json: opts.json ?? false,
        stepTimeoutMs: opts.stepTimeout === undefined ? undefined : opts.stepTimeout * 1000,
      });
      if (code !== 0) Deno.exitCode = code;
    });
}

/** Options of {@linkcode fuzz}. */
export interface FuzzCommandOptions {
  /** Use the learner's parts. */
  readonly mine?: boolean;
  /** The seed (default: from the clock). */
  readonly seed?: number;
  /** Steps. */
  readonly ops?: number;
  /** A key of {@linkcode FUZZ_TARGET_CHOICES} (default `"all"`). */
  readonly target?: string;
  /** Print JSON instead of text. */
  readonly json?: boolean;
  /** Where lines go (default `console.log`). */
  readonly print?: (line: string) => void;
  /** Replacement parts to fuzz instead of the learner's, in this process (tests). */
  readonly parts?: MachineParts;
  /**
   * A module exporting `loadFuzzParts()` to fuzz instead of the learner's
   * parts, in workers under the step watchdog (tests).
   */
  readonly partsModule?: string;
  /** With `--mine` (or `partsModule`): milliseconds a step may take before it counts as hung. */
  readonly stepTimeoutMs?: number;
}

/**
 * Runs `lab fuzz`.
 *
 * @param options What to fuzz.
 * @returns The exit status: 0 when nothing but known bugs was found, 1 otherwise.
 * @throws {UserError} For `--mine` before any lesson passes, or an unknown target.
 */
export async function fuzz(options: FuzzCommandOptions): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const targets = FUZZ_TARGET_CHOICES[options.target ?? "all"];
  if (!targets) throw new UserError(`no fuzz target ${options.target}`);
  let parts = options.parts;
  let featureMask: bigint | undefined;
  let note: string[] = [];
  if (options.mine && parts === undefined) {
    const mine = await learnerParts();
    if (mine.used.length === 0) {
      throw new UserError(
        "no lesson passes yet, so there is none of your code to fuzz: deno task lab check 1",
      );
    }
    parts = mine.parts;
    featureMask = mine.featureMask;
    note = describeLearnerParts(mine);
  }
  const seed = options.seed ?? (Date.now() >>> 0);
  const progress = stderrProgress((done, total) =>
    `fuzzing: ${done.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} steps`
  );
  // The learner's code may loop without reading guest memory, which no read
  // budget stops: it runs in workers under a watchdog, each step timed.
  const partsModule = options.partsModule ??
    (options.mine && options.parts === undefined
      ? new URL("./fuzz_parts.ts", import.meta.url).href
      : undefined);
  let report;
  try {
    const onProgress = (done: number, total: number) => progress.update(done, total);
    report = partsModule !== undefined
      ? await runFuzzSupervised({
        seed,
        ops: options.ops,
        targets,
        featureMask,
        partsModule,
        stepTimeoutMs: options.stepTimeoutMs,
        onProgress,
      })
      : await runFuzz({ seed, ops: options.ops, targets, parts, featureMask, onProgress });
  } finally {
    progress.finish();
  }
  if (options.json) {
    print(JSON.stringify(report, null, 2));
  } else {
    for (const line of note) print(line);
    for (const line of formatFuzzReport(report, { mine: options.mine })) print(line);
  }
  return report.passed ? 0 : EXIT_FAILURE;
}
