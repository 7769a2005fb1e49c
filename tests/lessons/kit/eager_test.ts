// Tests for lessons/kit/eager.ts: a device that completes inside the
// driver's notification catches a driver that records what it waits for
// only after notifying; a handler that resubmits is served without recursion.

import assert from "node:assert/strict";
import { eagerDevice, eagerPattern } from "../../../lessons/kit/eager.ts";
import { ringFixture } from "../../../lessons/kit/ring.ts";
import type { BufferSegment } from "../../../virtqueue/types.ts";

/**
 * A small driver over the fixture's driver half: `read` posts a buffer and
 * returns a promise of its length; the interrupt handler reaps and settles.
 * `late` records the waiter only after notifying (the mistake).
 */
function driver(late: boolean) {
  const f = ringFixture<number>();
  const waiting = new Map<number, (len: number) => void>();
  const strays: number[] = [];
  const device = eagerDevice(f, {
    interrupt: () => {
      for (let u = f.driverQueue.getBuf(); u !== null; u = f.driverQueue.getBuf()) {
        const settle = waiting.get(u.token);
        if (settle) {
          waiting.delete(u.token);
          settle(u.len);
        } else strays.push(u.token);
      }
    },
  });
  let next = 0;
  const read = (buffer: BufferSegment): Promise<number> => {
    const token = next++;
    return new Promise((resolve) => {
      f.driverQueue.add([], [buffer], token);
      if (!late) waiting.set(token, resolve);
      if (f.driverQueue.kickPrepare()) device.notify();
      if (late) waiting.set(token, resolve);
    });
  };
  return { f, device, read, waiting, strays };
}

Deno.test("a driver that records its waiter before notifying gets its completion from an eager device", async () => {
  const { f, device, read, strays } = driver(false);
  const buffer = f.buffer(32);
  assert.equal(await read(buffer), 32);
  assert.deepEqual(strays, []);
  assert.equal(device.completed.length, 1);
  assert.equal(device.interrupts, 1);
  const data = f.memory.quietly(() => f.memory.bytes(buffer.addr, 32));
  assert.deepEqual([...data], Array.from({ length: 32 }, (_, i) => eagerPattern(0, i)));
});

Deno.test("a driver that records its waiter after notifying loses the completion", async () => {
  const { f, device, read, waiting, strays } = driver(true);
  const pending = read(f.buffer(32));
  const outcome = await Promise.race([pending, Promise.resolve("still waiting")]);
  assert.equal(outcome, "still waiting");
  assert.deepEqual(strays, [0], "the completion came before anyone waited for it");
  assert.equal(waiting.size, 1, "and the waiter waits forever");
  assert.equal(device.completed.length, 1);
});

Deno.test("notifications from inside the interrupt handler are served in the same call, without recursion", () => {
  const f = ringFixture<number>({ size: 4 });
  const buffer = f.buffer(16);
  let reaped = 0;
  const device = eagerDevice(f, {
    limit: 1000,
    interrupt: () => {
      while (f.driverQueue.getBuf() !== null) {
        reaped++;
        f.driverQueue.add([], [buffer], reaped); // resubmit at once, as an rx refill does
        if (f.driverQueue.kickPrepare()) device.notify();
      }
    },
  });
  f.driverQueue.add([], [buffer], 0);
  f.driverQueue.kickPrepare();
  device.notify();
  assert.equal(device.saturated, true);
  assert.equal(device.completed.length, 1000);
  assert.equal(device.notifications, device.nested + 1);
  assert.ok(reaped >= 999);
});

Deno.test("a custom completion reports what it wrote, and no interrupt goes to a driver that asked for none", () => {
  const f = ringFixture<number>();
  let interrupts = 0;
  const device = eagerDevice(f, { complete: () => 0, interrupt: () => interrupts++ });
  f.driverQueue.disableCallbacks();
  f.driverQueue.add([f.buffer(8)], [], 1);
  f.driverQueue.kickPrepare();
  device.notify();
  assert.equal(interrupts, 0);
  assert.equal(device.interrupts, 0);
  assert.deepEqual(f.driverQueue.getBuf(), { token: 1, len: 0 });
});
