import assert from "node:assert/strict";
import { runFuzz } from "../../fuzz/engine.ts";
import { FUZZ_REGRESSIONS } from "../../fuzz/regressions.ts";
import { TRUSTS_NEXT, TRUSTS_USED } from "./planted.ts";

const PLANTED = { "trusts-next": TRUSTS_NEXT, "trusts-used": TRUSTS_USED };

for (const r of FUZZ_REGRESSIONS) {
  Deno.test(`regression (${r.target}, seed ${r.seed}, step ${r.step}): ${r.what}`, async () => {
    const parts = r.planted === null ? undefined : PLANTED[r.planted];
    const report = await runFuzz({ seed: r.seed, ops: r.step + 1, targets: [r.target], parts });
    const at = report.failures.filter((f) => f.step === r.step && f.seed === r.seed);
    const found = at.some((f) =>
      f.kind === r.kind && (r.invariant === undefined || f.invariant === r.invariant)
    );
    if (r.planted !== null) {
      assert.ok(found, `not found again; at that step: ${JSON.stringify(at)}`);
    } else {
      assert.ok(!found, `the reference fails again: ${JSON.stringify(at)}`);
    }
  });
}

Deno.test("the same seeds pass on the reference parts", async () => {
  for (const r of FUZZ_REGRESSIONS) {
    const report = await runFuzz({ seed: r.seed, ops: r.step + 1, targets: [r.target] });
    assert.deepEqual(report.failures, [], `${r.what}: ${JSON.stringify(report.failures)}`);
  }
});
