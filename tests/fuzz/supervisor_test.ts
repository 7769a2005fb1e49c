// The fuzz watchdog: a part stuck in a loop that reads no guest memory (so
// the read budget never trips) is stopped after the step time limit and
// reported hung for its class, with the seed and step that replay it; the run
// goes on from the next episode in a new worker, and the merged report is the
// one an uninterrupted run would have made.

import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/engine.ts";
import type { FuzzReport } from "../../fuzz/types.ts";
import { mergeReports, runFuzzSupervised } from "../../fuzz/supervisor.ts";

const LOOPING = new URL("./_looping_parts.ts", import.meta.url).href;

Deno.test("a part that spins forever is stopped, reported hung for its class, and the run goes on", async () => {
  const report = await runFuzzSupervised({
    seed: 1,
    ops: 400,
    targets: ["blk"],
    partsModule: LOOPING,
    stepTimeoutMs: 800,
  });
  assert.equal(report.ops, 400);
  const hung = report.failures.find((f) => f.kind === "hung");
  assert.ok(hung, JSON.stringify(report.failures));
  assert.match(hung.message, /did not finish within 800 ms and was stopped/);
  assert.equal(hung.target, "blk");
  assert.ok(report.failureCounts.hung >= 1);
  assert.equal(report.passed, false);
  if (hung.caseClass) {
    const t = report.classes.find((c) => c.target === "blk" && c.name === hung.caseClass)!;
    assert.ok(t.hung >= 1);
  }
  // The seed and step replay it: the same step hangs again.
  const replay = await runFuzzSupervised({
    seed: hung.seed,
    ops: hung.step + 1,
    targets: ["blk"],
    partsModule: LOOPING,
    stepTimeoutMs: 800,
  });
  const again = replay.failures.find((f) => f.kind === "hung");
  assert.ok(again, JSON.stringify(replay.failures));
  assert.equal(again.seed, hung.seed);
  assert.equal(again.step, hung.step);
  assert.equal(again.op, hung.op);
});

Deno.test("a supervised run of the reference reports what the same run in-process does", async () => {
  const options = { seed: 7, ops: 900, targets: ["driver", "blk-driver"] as const };
  const inProcess = await runFuzz({ ...options, targets: [...options.targets] });
  const supervised = await runFuzzSupervised({
    ...options,
    targets: [...options.targets],
    partsModule: null,
  });
  assert.equal(supervised.ops, inProcess.ops);
  assert.deepEqual(supervised.violations, inProcess.violations);
  assert.deepEqual(supervised.failureCounts, inProcess.failureCounts);
  assert.deepEqual(
    supervised.classes.map((c) => [c.target, c.name, c.runs, c.broke, c.silent]),
    inProcess.classes.map((c) => [c.target, c.name, c.runs, c.broke, c.silent]),
  );
  assert.deepEqual(
    supervised.targets.map((t) => [t.target, t.ops, t.episodes]),
    inProcess.targets.map((t) => [t.target, t.ops, t.episodes]),
  );
});

Deno.test("a run resumed at an episode, merged with the part before it, is the whole run", async () => {
  const options = {
    seed: 3,
    ops: 1000,
    targets: ["driver", "console"] as ("driver" | "console")[],
  };
  const whole = await runFuzz(options);
  // The driver half gets 500 steps, in episodes of 120: keep the report after two of them.
  let snapshot: FuzzReport | null = null;
  await runFuzz({ ...options, onEpisode: (r) => (snapshot ??= r.ops === 240 ? r : null) });
  assert.ok(snapshot);
  const rest = await runFuzz({
    ...options,
    resume: { target: "driver", episode: 2, targetOps: 240 },
  });
  assert.equal(rest.ops, 760);
  const merged = mergeReports(snapshot, rest);
  assert.equal(merged.ops, whole.ops);
  assert.deepEqual(merged.violations, whole.violations);
  assert.deepEqual(merged.failureCounts, whole.failureCounts);
  assert.deepEqual(
    merged.targets.map((t) => [t.target, t.ops, t.episodes]),
    whole.targets.map((t) => [t.target, t.ops, t.episodes]),
  );
  assert.deepEqual(
    merged.classes.map((c) => [c.target, c.name, c.runs]).sort(),
    whole.classes.map((c) => [c.target, c.name, c.runs]).sort(),
  );
});
