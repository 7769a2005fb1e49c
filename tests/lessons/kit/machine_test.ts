// Tests for the bounds of the kit's machine check (lessons/kit/machine.ts):
// a part the learner has not written yet ends a phase at once instead of by
// its timeout; a reap loop that never ends inside the machine's interrupt
// handler is stopped by the queue's call budget and named in the failure; a
// machine whose interrupts are lost fails by the phase timeout, with the
// first error the learner's code threw inside the machine attached.

import assert from "node:assert/strict";
import { isNotWrittenYet } from "../../../course/grader.ts";
import { todo } from "../../../course/stub.ts";
import type { UsedBufferSource } from "../../../virtqueue/driver/drain.ts";
import type { UsedBuffer } from "../../../virtqueue/types.ts";
import type { SplitDriverRing } from "../../../virtqueue/driver/ring.ts";
import { machineCheck } from "../../../lessons/kit/machine.ts";

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
