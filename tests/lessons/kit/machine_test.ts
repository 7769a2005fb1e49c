// Tests for the bounds of the kit's machine check (lessons/kit/machine.ts):
// a part the learner has not written yet ends a phase at once instead of by
// its timeout; a reap loop that never ends inside the machine's interrupt
// handler is stopped by the queue's call budget and named in the failure; a
// machine whose interrupts are lost fails by the phase timeout, with the
// first error the learner's code threw inside the machine attached.

import assert from "node:assert/strict";
import { GradeFailure, isNotWrittenYet } from "../../../course/grader.ts";
import { NotWrittenYetError, todo } from "../../../course/stub.ts";
import { walkChain } from "../../../virtqueue/device/walk.ts";
import type { SplitDeviceRing } from "../../../virtqueue/device/ring.ts";
import type { UsedBufferSource } from "../../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../../virtqueue/types.ts";
import type { SplitDriverRing } from "../../../virtqueue/driver/ring.ts";
import { learnerParts, machineCheck, within } from "../../../lessons/kit/machine.ts";

const check = (parts: string[]) =>
  machineCheck<unknown>({
    id: "used-ring",
    requirement: "2.7.8.2/1",
    hint: 1,
    expects: "the machine to run",
    lesson: { parts },
    timeoutMs: 800,
  });

async function outcome(parts: string[], impl: unknown) {
  const started = performance.now();
  const error = await check(parts).run(impl as never)?.then(() => null, (e: unknown) => e);
  return { error: error as Error | null, ms: performance.now() - started };
}

Deno.test("a part not written yet ends the machine check at once", async () => {
  const { error, ms } = await outcome(["virtqueue.driver.enableCallbacks"], {
    enableCallbacks: (ring: SplitDriverRing<unknown>) =>
      todo("enableCallbacks", `queue ${ring.index}`),
  });
  assert.ok(isNotWrittenYet(error), String(error));
  assert.ok(ms < 800, `${ms} ms: the phase waited for its timeout`);
});

Deno.test("a reap loop that never ends inside the interrupt handler is stopped and named", async () => {
  const forever = <T>(queue: UsedBufferSource<T>, onUsed: (used: UsedBuffer<T>) => void) => {
    do {
      queue.disableCallbacks();
      for (let u = queue.getBuf(); u !== null; u = queue.getBuf()) onUsed(u);
    } while (queue.enableCallbacks());
  };
  const { error } = await outcome(["virtqueue.driver.drainUsed"], { drainUsed: forever });
  assert.match(String(error?.message), /did not complete within 800 ms/);
  assert.match(
    String(error?.message),
    /your code threw RunawayQueueError: .* more than 100,000 times/,
  );
});

Deno.test("lost interrupts fail by the phase timeout, the machine closed without waiting for them", async () => {
  // enableCallbacks that leaves notifications off: the console never hears from the device again.
  const deaf = (ring: SplitDriverRing<unknown>) => {
    ring.callbacks = true;
    ring.memory.writeU16(ring.availAddr, 1);
    return ring.memory.readU16(ring.usedAddr + 2) === ring.lastUsed;
  };
  const { error, ms } = await outcome(["virtqueue.driver.enableCallbacks"], {
    enableCallbacks: deaf,
  });
  assert.match(String(error?.message), /did not complete within 800 ms/);
  assert.ok(ms < 4000, `${ms} ms`);
});

const WALK = { parts: ["virtqueue.device.walkChain"] };
const walkCheck = machineCheck<{ walkChain: typeof walkChain }>({
  id: "mmio-window",
  requirement: "2.7.4.1/1",
  hint: 1,
  expects: "the machine to run",
  lesson: WALK,
});

Deno.test("machineCheck passes a machine on reference parts", async () => {
  await Promise.resolve(walkCheck.run({ walkChain }));
});

Deno.test("a ring part not written yet, reached only once traffic flows, ends the check at once", async () => {
  let calls = 0;
  const started = performance.now();
  await assert.rejects(
    async () =>
      await walkCheck.run({
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

Deno.test("learnerParts keeps the first error of the learner's code and rethrows it", () => {
  const guarded = learnerParts({
    walkChain: () => {
      throw new TypeError("ring.memory is undefined");
    },
  }, WALK.parts);
  const part = guarded.parts.virtqueue?.device?.walkChain!;
  assert.throws(() => part({} as SplitDeviceRing, 0), TypeError);
  assert.ok(guarded.first?.error instanceof TypeError);
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
