// Tests for lessons/kit/machine.ts: the learner's parts in the lab machine.
// An error the learner's code throws while traffic flows (a ring part is
// called only then) ends the machine check at once, as that error, instead
// of a phase timing out; `within` still times out on its own.

import assert from "node:assert/strict";
import { GradeFailure } from "../../../course/grader.ts";
import { NotWrittenYetError } from "../../../course/stub.ts";
import { walkChain } from "../../../virtqueue/device/walk.ts";
import type { SplitDeviceRing } from "../../../virtqueue/device/ring.ts";
import { learnerParts, machineCheck, within } from "../../../lessons/kit/machine.ts";

const LESSON = { parts: ["virtqueue.device.walkChain"] };
const check = machineCheck<{ walkChain: typeof walkChain }>({
  id: "mmio-window",
  requirement: "2.7.4.1/1",
  hint: 1,
  expects: "the machine to run",
  lesson: LESSON,
});

Deno.test("machineCheck passes a machine on reference parts", async () => {
  await Promise.resolve(check.run({ walkChain }));
});

Deno.test("an error the learner's part throws once traffic flows ends the machine check at once, as that error", async () => {
  let calls = 0;
  const started = performance.now();
  await assert.rejects(
    async () =>
      await check.run({
        walkChain(ring: SplitDeviceRing, head: number) {
          if (++calls > 1) throw new NotWrittenYetError("walkChain", "walk the chain");
          return walkChain(ring, head);
        },
      }),
    NotWrittenYetError,
  );
  const ms = performance.now() - started;
  assert.ok(ms < 1000, `the check took ${ms.toFixed(0)} ms: it waited for a phase to time out`);
});

Deno.test("learnerParts: threw rejects with the first error of the learner's code", async () => {
  const guarded = learnerParts({
    walkChain: () => {
      throw new TypeError("ring.memory is undefined");
    },
  }, LESSON.parts);
  const part = guarded.parts.virtqueue?.device?.walkChain!;
  assert.throws(() => part({} as SplitDeviceRing, 0), TypeError);
  await assert.rejects(() => guarded.threw, /ring\.memory is undefined/);
  assert.throws(() => guarded.rethrow(), TypeError);
});

Deno.test("within fails with what it waited for when the time is up", async () => {
  await assert.rejects(
    () => within(new Promise(() => {}), 20, "a promise that never settles", "it to settle"),
    (e: unknown) =>
      e instanceof GradeFailure &&
      /a promise that never settles did not complete within 20 ms/.test(e.message),
  );
});
