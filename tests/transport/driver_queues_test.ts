import assert from "node:assert/strict";
import { ids, recordingWindow, scriptedWindow, setup } from "./_harness.ts";
import { FAKE_DEVICE_ID, FakeDevice } from "./_fake_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  type QueueAreaAllocator,
  QueueSetupError,
  QueueStopError,
  setupQueue,
  stopQueue,
} from "../../transport/driver_queues.ts";
import { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator, GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { VirtioDriver } from "../../virtio/driver.ts";
import { VIRTIO_CONFIG_S_FAILED as FAILED } from "../../virtio/status.ts";

const allocate: QueueAreaAllocator = (allocator, size) =>
  SplitQueueDriver.allocate(allocator, size);
const hex = (o: number) => `0x${o.toString(16).padStart(3, "0")}`;

/** An allocation step that records the sizes asked for. */
function spyAllocate() {
  const sizes: number[] = [];
  const step: QueueAreaAllocator = (
    allocator,
    size,
  ) => (sizes.push(size), allocate(allocator, size));
  return { sizes, step };
}

/** A scripted window that reads QueueNumMax `max` and QueueReady as last written (or `stuck`). */
function queueWindow(max: number, stuck?: number) {
  let ready = 0;
  return scriptedWindow(
    {
      [R.VIRTIO_MMIO_QUEUE_NUM_MAX]: max,
      [R.VIRTIO_MMIO_QUEUE_READY]: () => stuck ?? ready,
    },
    (o, v) => {
      if (o === R.VIRTIO_MMIO_QUEUE_READY) ready = v;
    },
  );
}

function ram(base = 0x4000_0000) {
  const memory = new GuestMemory(1 << 20, { base });
  return { memory, allocator: new GuestAllocator(memory) };
}

Deno.test("setupQueue follows §4.2.3.2 step by step, and the device takes the queue", () => {
  const { window: inner, allocator, transport } = setup();
  const { window, accesses } = recordingWindow(inner);
  const q = setupQueue(window, allocator, 0, { maxSize: 256 }, allocate);
  assert.equal(q.size, 8, "QueueNumMax of queue 0");
  assert.deepEqual(accesses, [
    "w 0x030=0",
    "r 0x044",
    "r 0x034",
    "w 0x038=8",
    `w 0x080=${q.descAddr}`,
    "w 0x084=0",
    `w 0x090=${q.availAddr}`,
    "w 0x094=0",
    `w 0x0a0=${q.usedAddr}`,
    "w 0x0a4=0",
    "w 0x044=1",
    "r 0x044",
  ]);
  const registers = transport.queueRegisters(0)!;
  assert.equal(registers.ready, true);
  assert.equal(registers.num, 8);
});

Deno.test("setupQueue rounds the size down to a power of two: QueueNumMax 100 gives 64", () => {
  const { window, allocator, transport, log } = setup(new FakeDevice(undefined, [100]));
  const { sizes, step } = spyAllocate();
  assert.equal(setupQueue(window, allocator, 0, {}, step).size, 64);
  assert.deepEqual(sizes, [64], "the areas are allocated for the size written");
  assert.equal(transport.queueRegisters(0)!.num, 64);
  assert.deepEqual(ids(log), []);
});

Deno.test("setupQueue takes the smallest of the request, QueueNumMax and the driver's bound", () => {
  const cases: [number, { size?: number; maxSize?: number }, number][] = [
    [256, { size: 6 }, 4],
    [256, { size: 300 }, 256],
    [256, { maxSize: 32 }, 32],
    [256, { size: 128, maxSize: 100 }, 64],
    [0xffff_ffff, {}, 32768], // a hostile QueueNumMax: no more than the largest Queue Size
    [1, {}, 1],
  ];
  for (const [max, request, expected] of cases) {
    const { window } = queueWindow(max);
    const { allocator } = ram(); // 1 MiB: room for the areas of a 32768-entry queue
    assert.equal(
      setupQueue(window, allocator, 0, request, allocate).size,
      expected,
      JSON.stringify({ max, request }),
    );
  }
});

Deno.test("setupQueue: QueueNumMax 0 means no such queue, and no further queue register is touched", () => {
  const { window: inner, allocator } = setup();
  const { window, accesses } = recordingWindow(inner);
  const { sizes, step } = spyAllocate();
  assert.throws(() => setupQueue(window, allocator, 5, {}, step), (e: unknown) => {
    assert.ok(e instanceof QueueSetupError);
    assert.equal(e.step, "QueueNumMax");
    assert.equal(e.queue, 5);
    assert.match(e.message, /Queue 5 does not exist \(QueueNumMax reads 0\)/);
    return true;
  });
  assert.deepEqual(accesses, ["w 0x030=5", "r 0x044", "r 0x034"]);
  assert.deepEqual(sizes, [], "nothing allocated");
});

Deno.test("setupQueue: a queue that reads QueueReady 1 is in use and is left alone", () => {
  const { window, accesses } = queueWindow(8, 1);
  const { allocator } = ram();
  assert.throws(
    () => setupQueue(window, allocator, 2, {}, allocate),
    (e: unknown) => e instanceof QueueSetupError && e.step === "QueueReady" && e.value === 1,
  );
  assert.deepEqual(accesses, ["w 0x030=2", "r 0x044"]);
  assert.equal(allocator.count, 0);
});

Deno.test("setupQueue: no size fits a request of 0", () => {
  const { window } = queueWindow(8);
  const { allocator } = ram();
  assert.throws(
    () => setupQueue(window, allocator, 0, { size: 0 }, allocate),
    (e: unknown) => e instanceof QueueSetupError && e.step === "size",
  );
  assert.equal(allocator.count, 0);
});

Deno.test("setupQueue: an allocation failure writes nothing more and keeps the cause", () => {
  const { window, accesses } = queueWindow(256);
  const { allocator } = ram();
  const full: QueueAreaAllocator = () => {
    throw new GuestOutOfMemoryError(4096, 16, 0);
  };
  assert.throws(() => setupQueue(window, allocator, 0, {}, full), (e: unknown) => {
    assert.ok(e instanceof QueueSetupError);
    assert.equal(e.step, "allocation");
    assert.ok(e.cause instanceof GuestOutOfMemoryError);
    return true;
  });
  assert.deepEqual(accesses, ["w 0x030=0", "r 0x044", "r 0x034"]);
});

Deno.test("setupQueue: a device that does not read QueueReady back as 1 gets nothing, and the areas are freed", () => {
  const { window, accesses } = queueWindow(8, 0);
  const { allocator } = ram();
  assert.throws(
    () => setupQueue(window, allocator, 0, {}, allocate),
    (e: unknown) =>
      e instanceof QueueSetupError && e.step === "QueueReady read-back" && e.value === 0,
  );
  assert.equal(allocator.count, 0, "all three areas went back");
  assert.deepEqual(accesses.slice(-2), ["w 0x044=1", "r 0x044"]);
});

Deno.test("setupQueue writes the high address words for RAM above 4 GiB", () => {
  const { window: inner, allocator, transport, log } = setup(
    new FakeDevice(),
    false,
    0x1_0000_0000,
  );
  const { window, accesses } = recordingWindow(inner);
  const q = setupQueue(window, allocator, 1, {}, allocate);
  assert.ok(q.descAddr >= 0x1_0000_0000);
  for (const [reg, addr] of [[0x080, q.descAddr], [0x090, q.availAddr], [0x0a0, q.usedAddr]]) {
    assert.ok(
      accesses.includes(`w ${hex(reg)}=${addr - 0x1_0000_0000}`),
      `low word of ${hex(reg)}`,
    );
    assert.ok(accesses.includes(`w ${hex(reg + 4)}=1`), `high word of ${hex(reg)}`);
  }
  const registers = transport.queueRegisters(1)!;
  assert.equal(registers.ready, true, "the device found the areas inside its RAM");
  assert.deepEqual([registers.descHigh, registers.driverHigh, registers.deviceHigh], [1, 1, 1]);
  assert.deepEqual(ids(log), []);
});

Deno.test("stopQueue writes QueueReady 0 and reads it back until 0 (4.2.2.2/11)", () => {
  const { window: inner, allocator, transport, log } = setup();
  setupQueue(inner, allocator, 1, {}, allocate);
  const { window, accesses } = recordingWindow(inner);
  stopQueue(window, 1);
  assert.deepEqual(accesses, ["w 0x030=1", "w 0x044=0", "r 0x044"]);
  assert.equal(transport.queueRegisters(1)!.ready, false);
  assert.equal(transport.queueRegisters(1)!.stopUnconfirmed, false, "the device saw the read-back");
  setupQueue(inner, allocator, 1, {}, allocate);
  assert.deepEqual(ids(log), [], "setting the queue up again breaks nothing");
});

Deno.test("stopQueue gives up after maxPolls reads of a QueueReady that stays 1", () => {
  const { window, accesses } = queueWindow(8, 1);
  assert.throws(() => stopQueue(window, 3, 5), (e: unknown) => {
    assert.ok(e instanceof QueueStopError);
    assert.deepEqual([e.queue, e.polls, e.ready], [3, 5, 1]);
    return true;
  });
  assert.equal(accesses.filter((a) => a === "r 0x044").length, 5);
  assert.throws(() => stopQueue(window, 3, 0), RangeError);
});

/** A window whose QueueReady reads 1 once `stuck.on` is set, as if the device never stopped. */
function stubbornWindow(inner: RegisterWindow) {
  const stuck = { on: false };
  const window: RegisterWindow = {
    ...inner,
    read32: (o) => (stuck.on && o === R.VIRTIO_MMIO_QUEUE_READY ? 1 : inner.read32(o)),
  };
  return { window, stuck };
}

Deno.test("a failed bring-up stops and frees exactly the queues it set up (NetBSD virtio_mmio 1.14)", async () => {
  const { window: inner, memory, allocator, log, transport } = setup();
  const { window, accesses } = recordingWindow(inner);
  const driverSide = new MmioDriverTransport({ window, memory, allocator, log });
  const before = allocator.count;
  const driver: VirtioDriver = {
    name: "half-done",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: 0n,
    probe(ctx) {
      ctx.setupQueue(0, { onUsed() {} });
      throw new Error("config looks wrong");
    },
  };
  await assert.rejects(driverSide.initialize(driver), /config looks wrong/);
  assert.equal(allocator.count, before, "queue 0's areas went back");
  assert.equal(transport.queueRegisters(0)!.ready, false, "queue 0 was stopped first");
  assert.equal(driverSide.queues.size, 0);
  assert.ok(!accesses.includes("w 0x030=1"), "queue 1 was never set up, so never touched");
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
  assert.deepEqual(ids(log), []);
});

Deno.test("deleteQueue stops the queue before freeing it, and keeps the areas of a queue that never stops", async () => {
  const { window: inner, memory, allocator, log } = setup();
  const { window, stuck } = stubbornWindow(inner);
  const driverSide = new MmioDriverTransport({ window, memory, allocator, log });
  await driverSide.initialize({
    name: "two",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: 0n,
    probe(ctx) {
      ctx.setupQueue(0, { onUsed() {} });
      ctx.setupQueue(1, { onUsed() {} });
    },
  });
  const live = allocator.count;
  driverSide.deleteQueue(0);
  assert.equal(allocator.count, live - 3);
  assert.deepEqual([...driverSide.queues.keys()], [1]);
  stuck.on = true;
  assert.throws(() => driverSide.deleteQueue(1), QueueStopError);
  assert.equal(allocator.count, live - 3, "the device may still write queue 1's areas");
  assert.deepEqual([...driverSide.queues.keys()], [1]);
  assert.throws(() => driverSide.deleteQueue(0), /queue 0 is not set up/);
});

Deno.test("a queue the factory cannot build is stopped on the device and its areas freed", async () => {
  const { window, memory, allocator, log, transport } = setup();
  const driverSide = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    queueFactory: () => {
      throw new Error("no queue for you");
    },
  });
  const before = allocator.count;
  await assert.rejects(
    driverSide.initialize({
      name: "q",
      deviceId: FAKE_DEVICE_ID,
      supportedFeatures: 0n,
      probe(ctx) {
        ctx.setupQueue(0, { onUsed() {} });
      },
    }),
    /no queue for you/,
  );
  assert.equal(allocator.count, before);
  assert.equal(transport.queueRegisters(0)!.ready, false);
});

Deno.test("setting up a queue twice is refused without touching the device", async () => {
  const { window, memory, allocator, log } = setup();
  const driverSide = new MmioDriverTransport({ window, memory, allocator, log });
  await assert.rejects(
    driverSide.initialize({
      name: "twice",
      deviceId: FAKE_DEVICE_ID,
      supportedFeatures: 0n,
      probe(ctx) {
        ctx.setupQueue(0, { onUsed() {} });
        ctx.setupQueue(0, { onUsed() {} });
      },
    }),
    /queue 0 is set up already/,
  );
  assert.deepEqual(ids(log), []);
});
