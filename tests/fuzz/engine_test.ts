import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/engine.ts";
import { episodeSeed, FuzzRng } from "../../fuzz/rng.ts";
import { FuzzMemory } from "../../fuzz/memory.ts";
import { HOSTILE_CHAIN_CLASSES } from "../../fuzz/hostile_driver.ts";
import { HOSTILE_COMPLETION_CLASSES } from "../../fuzz/hostile_device.ts";
import { TRUSTS_NEXT, TRUSTS_USED } from "./planted.ts";

// The device models and the driver half; the drivers' targets are tested in mmio_driver_test.ts.
const RING_TARGETS = ["blk", "console", "driver"] as const;

Deno.test("the reference devices and driver half survive 30,000 hostile steps: no failure of any kind", async () => {
  const report = await runFuzz({ seed: 20240601, ops: 30_000, targets: RING_TARGETS });
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures, null, 2));
  assert.equal(report.ops, 30_000);
  assert.equal(report.passed, true);
  assert.deepEqual(Object.values(report.failureCounts), [0, 0, 0, 0, 0, 0]);
  // The hostile side really was hostile: the checks reported the rules it broke.
  for (const id of ["2.7.5.3.1/3", "2.7.5/D1", "2.7.5/D2", "2.7.6/D2", "2.7.8/D1", "2.7.8/D2"]) {
    assert.ok((report.violations[id] ?? 0) > 0, `nothing reported ${id}`);
  }
});

Deno.test("every hostile case class is delivered and the reference answers each with its rule", async () => {
  const report = await runFuzz({ seed: 99, ops: 24_000, targets: RING_TARGETS });
  for (const target of ["blk", "console"] as const) {
    for (const cls of HOSTILE_CHAIN_CLASSES) {
      const t = report.classes.find((c) => c.target === target && c.name === cls.name);
      assert.ok(t && t.runs > 0, `${target}: ${cls.name} was never delivered`);
      const ids = Object.keys(t.reported);
      assert.ok(
        ids.includes(cls.rule) || (cls.fair ?? []).some((id) => ids.includes(id)),
        `${target}: ${cls.name} was answered with ${ids.join(", ")}, not ${cls.rule}`,
      );
      assert.equal(t.silent + t.threw + t.hung, 0);
    }
  }
  for (const cls of HOSTILE_COMPLETION_CLASSES.filter((c) => c.rule !== null)) {
    const t = report.classes.find((c) => c.target === "driver" && c.name === cls.name);
    assert.ok(t && t.runs > 0, `driver: ${cls.name} was never delivered`);
    const answered = Object.entries(t.reported)
      .filter(([id]) => id === cls.rule || (cls.fair ?? []).includes(id as never))
      .reduce((n, [, k]) => n + k, 0);
    assert.ok(answered >= t.runs, `driver: ${cls.name}: ${JSON.stringify(t.reported)}`);
    assert.equal(t.silent + t.threw + t.hung, 0);
    assert.equal(t.broke, t.runs);
  }
});

Deno.test("a device half that trusts next is found, and its seed and step replay the failure", async () => {
  const report = await runFuzz({
    seed: 1,
    ops: 4_000,
    targets: ["blk", "console"],
    parts: TRUSTS_NEXT,
  });
  assert.equal(report.passed, false);
  const silent = report.failures.find((f) => f.kind === "silent");
  assert.ok(silent, "no hostile chain accepted silently");
  const hung = report.failures.find((f) => f.kind === "hung");
  assert.ok(hung, "no loop stopped by the read budget");
  assert.match(hung.message, /read budget/);
  const loops = report.classes.find((c) => c.name === "a chain that loops" && c.target === "blk")!;
  assert.ok(loops.hung > 0 && loops.firstFailure !== undefined);
  for (const f of [silent, hung]) {
    const replay = await runFuzz({
      seed: f.seed,
      ops: f.step + 1,
      targets: [f.target],
      parts: TRUSTS_NEXT,
    });
    const again = replay.failures.find((g) => g.kind === f.kind && g.step === f.step);
    assert.ok(again, `seed ${f.seed} step ${f.step} did not replay ${f.kind}`);
    assert.equal(again.message, f.message);
  }
});

Deno.test("a driver half that trusts the used id and len is found with a seed that replays it", async () => {
  const report = await runFuzz({ seed: 1, ops: 2_000, targets: ["driver"], parts: TRUSTS_USED });
  assert.equal(report.passed, false);
  const beyond = report.failures.find((f) =>
    f.kind === "silent" && f.caseClass === "a used id beyond Queue Size"
  );
  assert.ok(beyond, JSON.stringify(report.failures.map((f) => f.caseClass)));
  assert.equal(beyond.requirement, "2.7.8/D1");
  const len = report.classes.find((c) => c.name === "a used len beyond the writable bytes")!;
  assert.ok(len.silent > 0, "an oversized len was not taken");
  const replay = await runFuzz({
    seed: beyond.seed,
    ops: beyond.step + 1,
    targets: ["driver"],
    parts: TRUSTS_USED,
  });
  assert.ok(replay.failures.some((f) => f.kind === "silent" && f.step === beyond.step));
});

Deno.test("the same seed gives the same run; episode 0 runs from the seed itself", async () => {
  const a = await runFuzz({ seed: 5, ops: 1_500 });
  const b = await runFuzz({ seed: 5, ops: 1_500 });
  assert.deepEqual(a.violations, b.violations);
  assert.deepEqual(a.classes, b.classes);
  assert.equal(episodeSeed(5, 0), 5);
  const r1 = new FuzzRng(3), r2 = new FuzzRng(3);
  const draws = (r: FuzzRng) => Array.from({ length: 50 }, () => r.int(0, 1000));
  assert.deepEqual(draws(r1), draws(r2));
  await assert.rejects(() => runFuzz({ ops: 0 }), RangeError);
});

Deno.test("FuzzMemory records the other side's stores and views, and the budget stops a loop", () => {
  const m = new FuzzMemory(0x1000, { base: 0x1000 });
  m.quietly(() => m.fill(0x1000, 0x100, 0xaa));
  assert.deepEqual(m.changedRanges(), []);
  m.writeU16(0x1010, 0x1234);
  m.bytes(0x1080, 4)[2] = 0; // a write through a view, seen by comparing with the shadow
  assert.deepEqual(m.touched(), [[0x1010, 2], [0x1080, 4]]);
  assert.deepEqual(m.changedRanges(), [[0x1010, 2], [0x1082, 1]]);
  m.accept(0x1000, 0x1000);
  assert.deepEqual(m.changedRanges(), []);
  m.loadBudget = 10;
  m.resetBudget();
  assert.throws(() => {
    for (;;) m.readU32(0x1000);
  }, { name: "RunawayReadsError" });
});
