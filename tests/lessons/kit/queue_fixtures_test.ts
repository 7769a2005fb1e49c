// The kit's queue fixtures: a register that takes its time to settle, the
// order of a queue's setup in a driver's accesses, and the address formatter.

import assert from "node:assert/strict";
import { GuestAllocator } from "../../../memory/allocator.ts";
import { setupQueue } from "../../../transport/driver_queues.ts";
import { allocateQueueAreas } from "../../../virtqueue/driver/areas.ts";
import type { RegisterWindow } from "../../../transport/types.ts";
import { deviceFixture, pollingDevice, queueSetupOrder } from "../../../lessons/kit/mmio.ts";
import { guestAddress } from "../../../lessons/kit/format.ts";

Deno.test("pollingDevice: a register that settles after some reads, counted from the trigger", () => {
  const late = pollingDevice({ register: 0x044, trigger: 0, busy: 1, settled: 0, late: 2 });
  assert.equal(late.window.read32(0x044), 1); // before the trigger: busy, and no poll
  late.window.write32(0x044, 1); // not the trigger
  late.window.write32(0x044, 0);
  assert.deepEqual([0, 1, 2].map(() => late.window.read32(0x044)), [1, 1, 0]);
  assert.deepEqual([late.polls(), late.settledSeen()], [3, true]);
  assert.equal(late.window.read32(0x030), 0);
  const never = pollingDevice({ register: 0x044, trigger: 0, busy: 1, settled: 0, late: Infinity });
  never.window.write32(0x044, 0);
  for (let i = 0; i < 100; i++) assert.equal(never.window.read32(0x044), 1);
  assert.deepEqual([never.polls(), never.settledSeen()], [100, false]);
});

/** The block device at FEATURES_OK and the order of a setupQueue run on it. */
function orderOf(step: (w: RegisterWindow, a: GuestAllocator) => void, index = 0) {
  const dev = deviceFixture({ strict: false, featuresOk: true });
  step(dev.window, new GuestAllocator(dev.memory));
  return queueSetupOrder(dev.accesses, index);
}

Deno.test("queueSetupOrder: the reference's setup keeps every step of §4.2.3.2 in order", () => {
  const order = orderOf((w, a) => setupQueue(w, a, 0, {}, allocateQueueAreas));
  assert.deepEqual(order, {
    selected: true,
    readyReadFirst: true,
    maxBeforeNum: true,
    configuredFirst: true,
    readBack: true,
  });
  // Another queue than the one asked about was selected.
  assert.equal(orderOf((w, a) => setupQueue(w, a, 0, {}, allocateQueueAreas), 1).selected, false);
});

Deno.test("queueSetupOrder: steps out of place are seen", () => {
  const reordered = (move: (w: RegisterWindow) => RegisterWindow) =>
    orderOf((w, a) => {
      try {
        setupQueue(move(w), a, 0, {}, allocateQueueAreas);
      } catch {
        // a refused queue still shows its order
      }
    });
  // QueueReady written first of all, before the addresses (and read back at once).
  const early = reordered((w) => {
    let enabled = false;
    return {
      ...w,
      write32: (o, v) => {
        if (o === 0x038 && !enabled) {
          enabled = true;
          w.write32(0x044, 1);
        }
        w.write32(o, v);
      },
    };
  });
  assert.equal(early.configuredFirst, false);
  assert.equal(early.readyReadFirst, true);
  const unread = orderOf((w) => {
    w.write32(0x030, 0);
    w.write32(0x038, 8);
    w.read32(0x034);
  });
  assert.deepEqual([unread.readyReadFirst, unread.maxBeforeNum, unread.readBack], [
    false,
    false,
    false,
  ]);
});

Deno.test("guestAddress: addresses and lists of them in hex, bigints whole", () => {
  assert.equal(guestAddress(0x1_0000_1000), "0x100001000");
  assert.equal(guestAddress([0x4000_0000, 0]), "[0x40000000, 0x0]");
  assert.equal(guestAddress(2n ** 64n - 16n), "0xfffffffffffffff0");
  assert.equal(guestAddress(-1), "-1");
  assert.equal(guestAddress(undefined), "undefined");
});
