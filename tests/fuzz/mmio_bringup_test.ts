// The drivers' hostile bring-up targets: the window lies while the block and
// console drivers probe, negotiate and set up their queues. The reference
// refuses what it must (with the rule in the log where the device broke one),
// never throws anything but an Error that says why, never loops, and leaves
// nothing waiting; planted bring-up bugs are found and replay from their seed.

import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/engine.ts";
import { HOSTILE_BRINGUP_CLASSES } from "../../fuzz/hostile_mmio.ts";
import { FEATURES_OK_NOT_REREAD, UNBOUNDED_RESET } from "./planted.ts";

const TARGETS = ["blk-bringup", "console-bringup"] as const;

/** Classes whose device the driver must refuse, and the id it reports (or `null`: refusal only). */
const REFUSED: Record<string, string | null> = {
  'a MagicValue that is not "virt"': "4.2.2.1/1",
  "a Version other than 2": "4.2.2.1/2",
  "a reset that never completes": "2.4.1/1",
  "QueueReady already 1 after the reset": "4.2.2.1/5",
  "FEATURES_OK that does not stick": null,
  "QueueNumMax 0": null,
  "QueueReady that does not read back 1": null,
};

Deno.test("the drivers survive a hostile bring-up: every class delivered, refused where it must be, with its rule", async () => {
  const report = await runFuzz({ seed: 20261201, ops: 8_000, targets: [...TARGETS] });
  assert.equal(report.ops, 8_000);
  assert.deepEqual(report.failures, [], JSON.stringify(report.failures, null, 2));
  assert.equal(report.passed, true);
  for (const target of TARGETS) {
    for (const cls of HOSTILE_BRINGUP_CLASSES) {
      const t = report.classes.find((c) => c.target === target && c.name === cls.name);
      assert.ok(t && t.runs > 0, `${target}: ${cls.name} was never delivered`);
      assert.equal(t.threw, 0, `${target}: ${cls.name}: ${t.firstThrown}`);
      assert.equal(t.hung, 0, `${target}: ${cls.name} hung`);
      if (cls.name in REFUSED) {
        assert.equal(t.broke, t.runs, `${target}: ${cls.name} was not always refused`);
        const id = REFUSED[cls.name];
        if (id) assert.equal(t.reported[id], t.runs, `${target}: ${cls.name} reported ${id}`);
        // A request of the failed driver settled at once, with an error that says why.
        const codes = Object.keys(t.settled);
        assert.ok(codes.length > 0, `${target}: ${cls.name} settled nothing`);
      }
    }
    // The identification is read once: values that change afterwards change nothing.
    for (
      const name of [
        "MagicValue and Version that change between reads",
        "a DeviceID that changes between reads",
      ]
    ) {
      const t = report.classes.find((c) => c.target === target && c.name === name)!;
      assert.equal(t.broke, 0, `${target}: ${name} made the bring-up fail`);
    }
    // A QueueNumMax that is not a power of two is rounded down, and the device often comes up.
    const odd = report.classes.find((c) =>
      c.target === target && c.name === "a QueueNumMax that is not a power of two"
    )!;
    assert.ok(odd.broke < odd.runs, `${target}: never came up with an odd QueueNumMax`);
  }
});

Deno.test("a reset waited for without a bound is stopped by the register budget and reported as hung", async () => {
  const report = await runFuzz({
    seed: 3,
    ops: 2_000,
    targets: ["blk-bringup"],
    parts: UNBOUNDED_RESET,
  });
  const hung = report.failures.find((f) => f.kind === "hung");
  assert.ok(hung, JSON.stringify(report.failures));
  assert.equal(hung.caseClass, "a reset that never completes");
  assert.match(hung.message, /register budget/);
  assert.equal(report.passed, false);
  const replay = await runFuzz({
    seed: hung.seed,
    ops: hung.step + 1,
    targets: ["blk-bringup"],
    parts: UNBOUNDED_RESET,
  });
  assert.equal(replay.failures.find((f) => f.kind === "hung")?.message, hung.message);
});

Deno.test("a negotiation that never re-reads FEATURES_OK is found: the refused device is driven silently", async () => {
  const report = await runFuzz({
    seed: 5,
    ops: 3_000,
    targets: ["console-bringup"],
    parts: FEATURES_OK_NOT_REREAD,
  });
  const silent = report.failures.find((f) =>
    f.kind === "silent" && f.caseClass === "FEATURES_OK that does not stick"
  );
  assert.ok(silent, JSON.stringify(report.failures.map((f) => `${f.kind} ${f.caseClass}`)));
  assert.equal(silent.requirement, "2.2.2/2");
});
