// The kit's fixtures on guest RAM of the grader's choosing: a register file
// and a lab machine with RAM above 4 GiB, where every area address has a
// high word and a driver that drops it is caught.

import assert from "node:assert/strict";
import { GuestMemory } from "../../../memory/guest_memory.ts";
import { GuestAllocator } from "../../../memory/allocator.ts";
import { allocateQueueAreas } from "../../../virtqueue/driver/areas.ts";
import { setupQueue } from "../../../transport/driver_queues.ts";
import type { RegisterWindow } from "../../../transport/types.ts";
import { deviceFixture } from "../../../lessons/kit/mmio.ts";
import { machineCheck } from "../../../lessons/kit/machine.ts";
import { MACHINE_RAM_BASE } from "../../../machine.ts";
import { failed, gradeRows } from "./_grade.ts";

const FOUR_GIB = 0x1_0000_0000;

/** A fixture device brought to FEATURES_OK, ready for queues. */
const readyForQueues = (memory?: GuestMemory) => deviceFixture({ memory, featuresOk: true });

Deno.test("deviceFixture puts the device's queues in the RAM it is given", () => {
  const memory = new GuestMemory(64 * 1024, { base: FOUR_GIB });
  const dev = readyForQueues(memory);
  assert.equal(dev.memory, memory);
  assert.deepEqual([dev.accesses.length, dev.log.entries.length], [0, 0]);
  const allocator = new GuestAllocator(dev.memory);
  const q = setupQueue(dev.window, allocator, 0, { maxSize: 64 }, allocateQueueAreas);
  assert.ok(q.descAddr >= FOUR_GIB);
  const [queue] = dev.transport.inspect().queues;
  assert.equal(queue.ready, true);
  assert.equal(queue.desc, q.descAddr);
  // The default: 64 KiB at the machine's RAM base, below 4 GiB.
  assert.ok(readyForQueues().memory.end < FOUR_GIB);
  // At FEATURES_OK, with nothing recorded or logged on the way.
  assert.equal(dev.status(), 0x0b);
});

Deno.test("deviceFixture above 4 GiB refuses a queue whose high words were dropped", () => {
  const dev = readyForQueues(new GuestMemory(64 * 1024, { base: FOUR_GIB }));
  dev.log.strict = false;
  const allocator = new GuestAllocator(dev.memory);
  const truncating = (w: RegisterWindow): RegisterWindow => ({
    ...w,
    // Every High register written 0, as a driver thinking in 32 bits would.
    write32: (o, v) => w.write32(o, [0x084, 0x094, 0x0a4].includes(o) ? 0 : v),
  });
  assert.throws(
    () => setupQueue(truncating(dev.window), allocator, 0, { maxSize: 64 }, allocateQueueAreas),
    /QueueReady reads 0/,
  );
  assert.deepEqual(dev.log.entries.map((v) => v.id), ["2.7.5/D2"]);
});

const machineOn = (base: number, memory?: () => GuestMemory) =>
  machineCheck<Record<string, unknown>>({
    id: "mmio-window",
    requirement: "6.1/4",
    hint: 1,
    expects: "the machine to run on the RAM given",
    lesson: { parts: ["transport.driver.setupQueue"] },
    memory,
    also(machine) {
      assert.equal(machine.memory.base, base, "the machine runs on the RAM given");
      assert.ok(machine.blk.driverTransport.queues.get(0)!.addresses.descAddr >= base);
    },
  });

/** A setupQueue that writes 0 to every High register. */
const lowOnly = {
  setupQueue(...args: Parameters<typeof setupQueue>) {
    const [window, ...rest] = args;
    const truncating = {
      ...window,
      write32: (o: number, v: number) =>
        window.write32(o, [0x084, 0x094, 0x0a4].includes(o) ? 0 : v),
    };
    return setupQueue(truncating, ...rest);
  },
};

Deno.test("machineCheck boots on the RAM it is given: above 4 GiB, dropped high words fail it", async () => {
  const above = () => new GuestMemory(16 << 20, { base: FOUR_GIB });
  assert.equal(failed(await gradeRows([machineOn(FOUR_GIB, above)], { setupQueue })).size, 0);
  const failure = failed(await gradeRows([machineOn(FOUR_GIB, above)], lowOnly))
    .get("your code runs the lab machine");
  assert.ok(failure, "the machine does not come up");
  assert.equal(failure.requirement, "2.7.5/D2");
  // On the default RAM, below 4 GiB, every high word is 0: the same code passes there.
  assert.equal(failed(await gradeRows([machineOn(MACHINE_RAM_BASE)], lowOnly)).size, 0);
});
