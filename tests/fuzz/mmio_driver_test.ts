import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/engine.ts";
import { HOSTILE_WINDOW_CLASSES } from "../../fuzz/hostile_mmio.ts";
import { CONSOLE_TRUSTS_LEN } from "./planted.ts";

Deno.test("the block and console drivers survive a hostile MMIO window: only the known bug", async () => {
  const report = await runFuzz({
    seed: 20240601,
    ops: 12_000,
    targets: ["blk-driver", "console-driver"],
  });
  assert.equal(report.ops, 12_000);
  const unknown = report.failures.filter((f) => f.known === undefined);
  assert.deepEqual(unknown, [], JSON.stringify(unknown, null, 2));
  assert.equal(report.passed, true);
  for (const target of ["blk-driver", "console-driver"] as const) {
    for (const cls of HOSTILE_WINDOW_CLASSES) {
      // The console driver posts one-descriptor chains: none has a middle.
      if (target === "console-driver" && cls.name === "a used id in the middle of a chain") {
        continue;
      }
      const t = report.classes.find((c) => c.target === target && c.name === cls.name);
      assert.ok(t && t.runs > 0, `${target}: ${cls.name} was never delivered`);
      if (cls.rule !== null) assert.equal(t.silent, 0, `${target}: ${cls.name} taken silently`);
    }
    // DEVICE_NEEDS_RESET settles what was waiting, with an error that says why.
    const reset = report.classes.find((c) =>
      c.target === target && c.name === "DEVICE_NEEDS_RESET"
    )!;
    assert.equal(reset.broke, reset.runs);
    assert.ok((reset.settled["needs-reset"] ?? 0) > 0, JSON.stringify(reset.settled));
  }
  // The hostile window really was hostile: the drivers' checks reported it.
  for (const id of ["2.7.8/D2", "2.7.8.2/2", "4.2.2.1/4"]) {
    assert.ok((report.violations[id] ?? 0) > 0, `nothing reported ${id}`);
  }
});

Deno.test("a console driver that trusts the used len is found, and its seed and step replay it", async () => {
  const report = await runFuzz({
    seed: 1,
    ops: 3_000,
    targets: ["console-driver"],
    parts: CONSOLE_TRUSTS_LEN,
  });
  assert.equal(report.passed, false);
  const leak = report.failures.find((f) => f.invariant === "console-data-not-from-device");
  assert.ok(leak, JSON.stringify(report.failures.map((f) => f.invariant ?? f.kind)));
  assert.equal(leak.caseClass, "a used len beyond the writable bytes");
  const replay = await runFuzz({
    seed: leak.seed,
    ops: leak.step + 1,
    targets: ["console-driver"],
    parts: CONSOLE_TRUSTS_LEN,
  });
  const again = replay.failures.find((f) => f.invariant === leak.invariant);
  assert.ok(again, `seed ${leak.seed} step ${leak.step} did not replay`);
  assert.equal(again.step, leak.step);
  assert.equal(again.message, leak.message);
});

// Two bugs this target found in the reference drivers, fixed: the console driver freeing a
// failed write's buffer again when a completion written before DEVICE_NEEDS_RESET was reaped
// (allocator.free(-1)), and the block driver letting a ConfigGenerationError out of its
// configuration-change handler. Their seeds replay the same hostile steps, now without a failure,
// and a few hundred steps past them.
for (
  const [target, seed, step] of [
    ["console-driver", 4176287394, 29],
    ["blk-driver", 616940891, 44],
  ] as const
) {
  Deno.test(`fixed: ${target} seed ${seed} (found at step ${step}) runs clean`, async () => {
    const report = await runFuzz({ seed, ops: step + 300, targets: [target] });
    assert.deepEqual(report.failures, [], JSON.stringify(report.failures));
    assert.equal(report.passed, true);
  });
}
