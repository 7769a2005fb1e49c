/**
 * A {@linkcode FuzzReport} as text: the figures, the rules reported, every
 * failure with the command that replays it, and (for `--mine`) what the code
 * did with each hostile case class.
 *
 * @module
 */

import type { CaseClassTally, FuzzFailure, FuzzReport } from "./types.ts";

/**
 * The command that replays a failure's episode up to its step.
 *
 * @param f The failure.
 * @param mine Whether the run used the learner's parts.
 */
export function replayCommand(f: FuzzFailure, mine = false): string {
  return `deno task lab fuzz${mine ? " --mine" : ""} --target ${f.target} --seed ${f.seed} ` +
    `--ops ${f.step + 1}`;
}

/**
 * What the code under test did with one class, in words: `"reported 2.7.5/D1 (12), broke the
 * queue (12)"`, or `"accepted silently (3): FAIL"`.
 *
 * @param t The class's tally.
 */
export function describeTally(t: CaseClassTally): string {
  const parts: string[] = [];
  const ids = Object.entries(t.reported).map(([id, n]) => `${id} (${n})`);
  if (ids.length > 0) parts.push(`reported ${ids.join(", ")}`);
  if (t.broke > 0) parts.push(`broke the queue (${t.broke})`);
  const codes = Object.entries(t.settled ?? {}).map(([code, n]) => `${code} (${n})`);
  if (codes.length > 0) parts.push(`settled requests with ${codes.join(", ")}`);
  if (t.threw > 0) parts.push(`threw ${t.firstThrown} (${t.threw}): FAIL`);
  if (t.hung > 0) {
    parts.push(`hung, stopped by a read budget or the step watchdog (${t.hung}): FAIL`);
  }
  if (t.silent > 0) {
    parts.push(
      t.rule === null
        ? `took it without a word (${t.silent})`
        : `accepted silently (${t.silent}): FAIL`,
    );
  }
  return parts.join(", ") || "nothing";
}

/**
 * The report as lines of text.
 *
 * @param r The report.
 * @param options `mine` adds the per-class table and `--mine` to replay commands.
 */
export function formatFuzzReport(r: FuzzReport, options: { mine?: boolean } = {}): string[] {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `Fuzzed ${r.ops.toLocaleString("en")} steps from seed ${r.seed} in ${
      (r.elapsedMs / 1000).toFixed(2)
    } s: ${Math.round(r.opsPerSecond).toLocaleString("en")} steps/s` +
    ` (${r.targets.map((t) => `${t.target} ${t.ops} in ${t.episodes} episodes`).join(", ")})`,
    `Peak memory: ${mib(r.peakRss)} resident, ${mib(r.peakHeapUsed)} of V8 heap`,
    `Uncaught exceptions: ${
      r.failureCounts.threw + r.failureCounts.uncaught
    }; hangs: ${r.failureCounts.hung}`,
  ];
  const ids = Object.entries(r.violations).sort((a, b) => b[1] - a[1]);
  if (ids.length > 0) {
    lines.push(
      `Rules the hostile side broke, as reported: ${
        ids.map(([id, n]) => `${id} ×${n}`).join(", ")
      }`,
    );
  }
  if (options.mine) {
    lines.push("", "What your code did, per hostile case class:");
    for (const t of r.classes) {
      lines.push(
        `  ${t.target.padEnd(14)} ${t.name}${t.rule ? ` [${t.rule}]` : ""}: ${t.runs} case(s); ${
          describeTally(t)
        }`,
      );
    }
  }
  if (r.failures.length === 0) {
    lines.push("", "No failures.");
  } else {
    lines.push("", `Failures (the first of each kind; ${total(r)} in all):`);
    for (const f of r.failures) {
      lines.push(
        `  ${f.known ? "KNOWN " : ""}${f.target} ${f.kind}${f.invariant ? ` ${f.invariant}` : ""}${
          f.requirement ? ` (${f.requirement})` : ""
        } at seed ${f.seed} step ${f.step} (${f.op}):`,
        `    ${f.message}`,
        `    replay: ${replayCommand(f, options.mine)}`,
      );
      if (f.known) lines.push(`    known: ${f.known}`);
    }
  }
  lines.push("", r.passed ? "PASS" : "FAIL");
  return lines;
}

function total(r: FuzzReport): number {
  return Object.values(r.failureCounts).reduce((a, b) => a + b, 0);
}
