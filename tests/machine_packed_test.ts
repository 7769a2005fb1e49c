// Tests for createMachine({ packed: true }): VIRTIO_F_RING_PACKED offered by
// the device transports and accepted by the driver transports, every queue a
// packed one on both sides, the disk and console unchanged to the layers
// above; the feature mask withholding it; the register file checking a
// packed queue's areas by the packed layout.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import { featureMask, hasFeature, VIRTIO_F_RING_PACKED } from "../virtio/features.ts";
import { PackedQueueDevice } from "../virtqueue/packed/device_queue.ts";
import { PackedQueueDriver } from "../virtqueue/packed/driver_queue.ts";
import { SplitQueueDriver } from "../virtqueue/driver_queue.ts";
import { readChain } from "../virtqueue/chain.ts";
import { INITIAL_QUEUE_REGISTERS } from "../transport/queue_registers.ts";
import { packedQueueAreaProblem } from "../transport/packed_queue_registers.ts";

function randomDisk(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  return data;
}

Deno.test("packed machine: every queue is packed on both sides and the disk reads back whole", async () => {
  const data = randomDisk(4 << 20);
  const machine = await createMachine({ disk: new MemoryBlockBackend(data.slice()), packed: true });
  try {
    for (const dev of [machine.blk, machine.console]) {
      assert.ok(hasFeature(dev.driverTransport.features, VIRTIO_F_RING_PACKED), dev.window.name);
      assert.ok(hasFeature(dev.transport.negotiatedFeatures, VIRTIO_F_RING_PACKED));
      for (const [index, queue] of dev.driverTransport.queues) {
        assert.ok(queue instanceof PackedQueueDriver, `${dev.window.name} driver queue ${index}`);
        assert.ok(dev.transport.liveQueue(index) instanceof PackedQueueDevice);
      }
    }
    const summary = machine.devices().find((d) => d.type === "virtio-blk")!;
    assert.ok(summary.features.includes("VIRTIO_F_RING_PACKED"));
    const blk = machine.blk.driver!;
    const read = new Uint8Array(data.length);
    // 64 KiB reads, four in flight: the ring wraps many times, completions interleave.
    const chunk = 128;
    const reads: Promise<void>[] = [];
    for (let s = 0; s < data.length / 512; s += chunk) {
      reads.push(blk.read(BigInt(s), chunk).then((b) => read.set(b, s * 512)));
      if (reads.length === 4) await Promise.all(reads.splice(0));
    }
    await Promise.all(reads);
    const hash = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    assert.equal(hash(read), hash(data));
    await blk.write(7n, new Uint8Array(1024).fill(0xa5));
    assert.ok((await blk.read(7n, 2)).every((b) => b === 0xa5));
    assert.equal(machine.log.entries.length, 0, JSON.stringify(machine.log.entries));
  } finally {
    await machine.close();
  }
});

Deno.test("packed machine: the console transmits and receives; devices copy with the stream parts", async () => {
  const console = new MemoryConsoleBackend();
  const reads: number[] = [];
  const machine = await createMachine({
    console,
    packed: true,
    parts: {
      virtqueue: {
        device: {
          readChain(memory, segments, dest, offset) {
            reads.push(dest.length);
            return readChain(memory, segments, dest, offset);
          },
        },
      },
    },
  });
  try {
    const driver = machine.console.driver!;
    await driver.write("over a packed ring\n");
    await console.waitForOutput(19);
    assert.equal(console.outputText, "over a packed ring\n");
    assert.equal(reads.reduce((a, b) => a + b, 0), 19);
    console.input("typed back");
    const input = driver[Symbol.asyncIterator]();
    const { value } = await input.next();
    await input.return?.();
    assert.equal(new TextDecoder().decode(value), "typed back");
    assert.equal(machine.log.entries.length, 0);
  } finally {
    await machine.close();
  }
});

Deno.test("a feature mask without VIRTIO_F_RING_PACKED keeps a packed machine on split rings", async () => {
  const machine = await createMachine({
    packed: true,
    featureMask: ~featureMask(VIRTIO_F_RING_PACKED) & 0xffff_ffff_ffff_ffffn,
  });
  try {
    assert.ok(!hasFeature(machine.blk.driverTransport.features, VIRTIO_F_RING_PACKED));
    assert.ok(machine.blk.driverTransport.queues.get(0) instanceof SplitQueueDriver);
    assert.equal((await machine.blk.driver!.read(2n, 1)).length, 512);
  } finally {
    await machine.close();
  }
});

Deno.test("a machine without packed offers no VIRTIO_F_RING_PACKED", async () => {
  const machine = await createMachine();
  try {
    assert.ok(!hasFeature(machine.blk.transport.offeredFeatures, VIRTIO_F_RING_PACKED));
    assert.ok(machine.blk.driverTransport.queues.get(0) instanceof SplitQueueDriver);
  } finally {
    await machine.close();
  }
});

Deno.test("packed queue areas: sizes, alignment, RAM and overlap by §2.8.10.1", () => {
  const ram = { base: 0x4000_0000, size: 0x10_0000 };
  const context = { queue: 0, max: 256, ram, eventIdx: true };
  const good = {
    ...INITIAL_QUEUE_REGISTERS,
    num: 100, // not a power of two: fine for a packed ring
    descLow: 0x4000_0000,
    driverLow: 0x4000_0640, // right after 100 descriptors
    deviceLow: 0x4000_0644,
  };
  assert.equal(packedQueueAreaProblem(good, context), null);
  const cases: [Partial<typeof good>, string][] = [
    [{ num: 0 }, "4.2.3.2/D1"],
    [{ num: 300 }, "4.2.2.2/9"],
    [{ descLow: 0x4000_0008 }, "2.8.11/1"],
    [{ deviceLow: 0x4000_0646 }, "2.8.11/1"],
    [{ driverLow: 0x4010_0000 }, "2.8.4/D1"],
    [{ driverLow: 0x4000_063c }, "2.8/D2"],
    [{ deviceLow: 0x4000_0640 }, "2.8/D2"],
  ];
  for (const [change, id] of cases) {
    assert.equal(
      packedQueueAreaProblem({ ...good, ...change }, context)?.id,
      id,
      JSON.stringify(change),
    );
  }
});

Deno.test("a packed machine recovers from DEVICE_NEEDS_RESET on packed rings again", async () => {
  const machine = await createMachine({ packed: true });
  try {
    const blk = machine.blk.driver!;
    machine.blk.transport.markNeedsReset("broken on purpose by the test");
    await machine.idle();
    assert.equal(await machine.blk.recover(), true);
    assert.ok(hasFeature(machine.blk.driverTransport.features, VIRTIO_F_RING_PACKED));
    assert.ok(machine.blk.driverTransport.queues.get(0) instanceof PackedQueueDriver);
    assert.equal(new TextDecoder().decode((await blk.read(2n, 1)).subarray(0, 5)), "Hello");
  } finally {
    await machine.close();
  }
});
