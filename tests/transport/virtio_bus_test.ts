import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { MmioBus } from "../../transport/mmio_bus.ts";
import { EmptyMmioSlot, MmioDeviceTransport } from "../../transport/mmio_device.ts";
import { VirtioBus } from "../../transport/virtio_bus.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import { FAKE_DEVICE_ID, FakeDevice } from "./_fake_device.ts";
import type { DriverQueue } from "../../virtqueue/types.ts";

function machine() {
  const memory = new GuestMemory(1 << 20, { base: 0x4000_0000 });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const bus = new MmioBus({ log });
  const device = new FakeDevice();
  bus.map(0x1e000, new MmioDeviceTransport(device, { memory, log, name: "fake@0x1e000" }), {
    irq: 42,
    name: "virtio_fake",
  });
  bus.map(0x1e200, new EmptyMmioSlot(log, "virtio_mmio@0x1e200"), { irq: 43, name: "virtio_mmio" });
  const virtio = new VirtioBus({ bus, memory, allocator, log });
  return { memory, allocator, log, bus, device, virtio };
}

class Echo implements VirtioDriver {
  readonly name = "echo";
  readonly deviceId = FAKE_DEVICE_ID;
  readonly supportedFeatures = 0n;
  q!: DriverQueue<number>;
  ctx!: VirtioDriverContext;
  done: number[] = [];
  probe(ctx: VirtioDriverContext) {
    this.ctx = ctx;
    this.q = ctx.setupQueue<number>(0, {
      onUsed: () => {
        let b;
        while ((b = this.q.getBuf())) this.done.push(b.token);
      },
    });
  }
}

Deno.test("probeAll binds drivers by device id, skips empty slots silently and routes interrupts", async () => {
  const { virtio, log, allocator, bus } = machine();
  const drivers: Echo[] = [];
  virtio.register({
    deviceId: FAKE_DEVICE_ID,
    name: "echo",
    create: () => (drivers.push(new Echo()), drivers.at(-1)!),
  });
  const devices = await virtio.probeAll();
  assert.equal(devices.length, 2);
  assert.equal(devices[0].transport.state, "live");
  assert.equal(devices[0].error, "");
  assert.equal(devices[1].transport.state, "empty");
  assert.equal(devices[1].driver, null);
  assert.deepEqual(log.entries, [], "an empty slot is not an error (4.2.2.2/6)");
  const echo = drivers[0];
  const buf = allocator.alloc(16);
  echo.q.add([], [{ addr: buf, len: 16 }], 7);
  if (echo.q.kickPrepare()) echo.ctx.notify(0);
  await bus.idle();
  assert.deepEqual(echo.done, [7]);
  assert.equal(bus.interruptCount(42), 1);
  assert.equal(virtio.find(FAKE_DEVICE_ID), devices[0]);
});

Deno.test("a device without a driver, and a driver whose probe fails, are recorded, not thrown", async () => {
  const { virtio } = machine();
  let devices = await virtio.probeAll();
  assert.match(devices[0].error, /no driver for device 0x1d/);
  virtio.register({
    deviceId: FAKE_DEVICE_ID,
    name: "broken",
    create: () => ({
      name: "broken",
      deviceId: FAKE_DEVICE_ID,
      supportedFeatures: 0n,
      probe() {
        throw new Error("nope");
      },
    }),
  });
  devices = await virtio.probeAll();
  assert.equal(devices[0].error, "nope");
  assert.equal(devices[0].transport.state, "failed");
  assert.throws(
    () => virtio.register({ deviceId: FAKE_DEVICE_ID, name: "again", create: () => new Echo() }),
    /already registered/,
  );
});
