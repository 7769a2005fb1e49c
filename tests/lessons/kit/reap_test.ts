// Tests for lessons/kit/reap.ts: the reference drainUsed on every case hands
// every entry on with notifications off and leaves them on, nothing waiting;
// a loop without its second look leaves the late entry waiting; a loop that
// never ends is stopped by the read budget; a loop that never turns
// notifications off is seen doing so.

import assert from "node:assert/strict";
import { drainUsed } from "../../../virtqueue/driver/drain.ts";
import { RunawayReadsError } from "../../../lessons/kit/budget.ts";
import { REAP_CASES, type ReapPart, runReap } from "../../../lessons/kit/reap.ts";

for (const c of REAP_CASES) {
  Deno.test(`the reference drainUsed with ${c.waiting} waiting, late ${c.late.join(",") || "none"}${c.hostile ? ", hostile" : ""}`, () => {
    const run = runReap(drainUsed, c);
    const tokens = Array.from(
      { length: c.waiting + (c.hostile ? 0 : c.late.length) },
      (_, k) => `chain ${k}`,
    );
    assert.deepEqual(run.delivered, tokens);
    assert.equal(run.offWhileReaping, true);
    // A broken queue stays as it broke: nothing more is reaped, so nothing turns notifications on.
    assert.equal(run.onAtEnd, !c.hostile);
    assert.equal(run.waiting, false);
  });
}

Deno.test("a reap loop without its second look leaves the entry returned after the last getBuf", () => {
  const once: ReapPart = (queue, onUsed) => {
    queue.disableCallbacks();
    for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    queue.enableCallbacks();
  };
  const c = REAP_CASES.find((c) => c.waiting === 1 && c.late[0] === 2)!;
  const run = runReap(once, c);
  assert.deepEqual(run.delivered, ["chain 0"]);
  assert.equal(run.waiting, true);
});

Deno.test("a reap loop that never ends is stopped by the read budget", () => {
  const forever: ReapPart = (queue, onUsed) => {
    do {
      queue.disableCallbacks();
      for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    } while (queue.enableCallbacks());
  };
  assert.throws(() => runReap(forever, REAP_CASES[0]), RunawayReadsError);
});

Deno.test("a reap loop that never turns notifications off is seen", () => {
  const open: ReapPart = (queue, onUsed) => {
    do {
      for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    } while (!queue.enableCallbacks());
  };
  const run = runReap(open, REAP_CASES[1]);
  assert.equal(run.offWhileReaping, false);
  assert.equal(run.onAtEnd, true);
});
