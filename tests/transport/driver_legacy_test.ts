// The driver side of legacy virtio-mmio (§4.2.4): the four parts on scripted
// windows and on a Version 1 register file, then MmioDriverTransport with
// `legacy: true` end to end.
import assert from "node:assert/strict";
import { ids, RAM_BASE, recordingWindow, scriptedWindow, windowOf } from "./_harness.ts";
import { FAKE_DEVICE_ID, FakeDevice } from "./_fake_device.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  LEGACY_PAGE_SIZE,
  negotiateLegacyFeatures,
  probeTransitionalWindow,
  setupLegacyQueue,
  stopLegacyQueue,
} from "../../transport/driver_legacy.ts";
import { QueueSetupError, QueueStopError } from "../../transport/driver_queues.ts";
import { vringLayout } from "../../virtqueue/layout.ts";
import { features, VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import type { DriverQueue } from "../../virtqueue/types.ts";

const h = (o: number) => `0x${o.toString(16).padStart(3, "0")}`;

Deno.test("probeTransitionalWindow accepts Version 1 and 2, reading magic, version, device id, vendor id", () => {
  for (const version of [1, 2]) {
    const { window, accesses } = scriptedWindow({
      0x000: R.VIRTIO_MMIO_MAGIC,
      0x004: version,
      0x008: 2,
      0x00c: 0x554d4551,
    });
    assert.deepEqual(probeTransitionalWindow(window), {
      kind: "device",
      deviceId: 2,
      vendorId: 0x554d4551,
      version,
    });
    assert.deepEqual(accesses, ["r 0x000", "r 0x004", "r 0x008", "r 0x00c"]);
  }
});

Deno.test("probeTransitionalWindow rejects other versions (4.2.2.2/5), a bad magic (4.2.2.2/4), and stops at an empty slot", () => {
  const three = probeTransitionalWindow(
    scriptedWindow({ 0x000: R.VIRTIO_MMIO_MAGIC, 0x004: 3, 0x008: 2 }).window,
  );
  assert.equal(three.kind === "rejected" && three.requirement, "4.2.2.2/5");
  const bad = scriptedWindow({ 0x000: 0x76697274, 0x004: 1 });
  const found = probeTransitionalWindow(bad.window);
  assert.equal(found.kind === "rejected" && found.requirement, "4.2.2.2/4");
  assert.deepEqual(bad.accesses, ["r 0x000"]);
  const empty = scriptedWindow({ 0x000: R.VIRTIO_MMIO_MAGIC, 0x004: 1, 0x008: 0 });
  assert.deepEqual(probeTransitionalWindow(empty.window), { kind: "empty" });
  assert.deepEqual(empty.accesses, ["r 0x000", "r 0x004", "r 0x008"]);
});

Deno.test("negotiateLegacyFeatures: word 0 in and out, no FEATURES_OK, no Status access (4.2.4/D4)", () => {
  const { window, accesses } = scriptedWindow({ 0x010: 0x3000_0246 });
  const supported = features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, 1, 2, 40);
  assert.equal(negotiateLegacyFeatures(window, supported), 0x2000_0006n);
  assert.deepEqual(accesses, ["w 0x014=0", "r 0x010", "w 0x024=0", `w 0x020=${0x2000_0006}`]);
});

/** A legacy register file on the fake device, with RAM and an allocator. */
function legacyWindow(device = new FakeDevice(), ramSize = 1 << 20) {
  const memory = new GuestMemory(ramSize, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog({ strict: false });
  const transport = new MmioDeviceTransport(device, { memory, log, name: "fake", version: 1 });
  const { window, accesses } = recordingWindow(windowOf(transport, 0x1e000));
  window.read32(R.VIRTIO_MMIO_MAGIC_VALUE);
  window.read32(R.VIRTIO_MMIO_VERSION);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER);
  accesses.length = 0;
  return { memory, allocator, log, transport, window, accesses };
}

Deno.test("setupLegacyQueue follows §4.2.4 step by step and places the queue as vring_size says (§2.7.2)", () => {
  const { allocator, transport, window, accesses, log, memory } = legacyWindow();
  memory.fill(RAM_BASE, memory.size, 0xa5); // stale bytes: the region must come back zeroed
  const q = setupLegacyQueue(window, allocator, 1, { maxSize: 256 });
  const layout = vringLayout(16, LEGACY_PAGE_SIZE);
  assert.equal(q.size, 16);
  assert.equal(q.descAddr % LEGACY_PAGE_SIZE, 0);
  assert.equal(q.availAddr - q.descAddr, layout.availOffset);
  assert.equal(q.usedAddr - q.descAddr, layout.usedOffset);
  assert.equal(allocator.sizeOf(q.descAddr), layout.total, "one region of vring_size bytes");
  assert.ok(memory.bytes(q.descAddr, layout.total).every((b) => b === 0), "zeroed");
  const pfn = q.descAddr / LEGACY_PAGE_SIZE;
  assert.deepEqual(accesses, [
    `w 0x028=${LEGACY_PAGE_SIZE}`,
    "w 0x030=1",
    "r 0x040",
    "r 0x034",
    "w 0x038=16",
    `w 0x03c=${LEGACY_PAGE_SIZE}`,
    `w 0x040=${pfn}`,
    "r 0x040",
  ]);
  assert.equal(transport.legacyQueueRegisters(1)?.pfn, pfn);
  assert.equal(log.entries.length, 0);
});

Deno.test("setupLegacyQueue: a queue in use, an absent queue, a refused QueuePFN each throw, leaving nothing allocated", () => {
  // In use: QueuePFN reads nonzero (4.2.4/D3); nothing further is touched.
  const inUse = scriptedWindow({ 0x040: 0x40010, 0x034: 8 });
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  assert.throws(
    () => setupLegacyQueue(inUse.window, allocator, 0, {}),
    (e) => e instanceof QueueSetupError && e.step === "QueuePFN" && e.value === 0x40010,
  );
  assert.deepEqual(inUse.accesses, ["w 0x028=4096", "w 0x030=0", "r 0x040"]);
  // Absent: QueueNumMax 0.
  const absent = scriptedWindow({ 0x034: 0 });
  assert.throws(
    () => setupLegacyQueue(absent.window, allocator, 5, {}),
    (e) => e instanceof QueueSetupError && e.step === "QueueNumMax",
  );
  assert.equal(absent.accesses.some((a) => a.startsWith("w 0x038")), false);
  // No room: 8 KiB of RAM cannot hold the 10,246 bytes of vring_size(256, 4096).
  const small = legacyWindow(new FakeDevice(undefined, [256]), 0x2000);
  assert.throws(
    () => setupLegacyQueue(small.window, small.allocator, 0, {}),
    (e) => e instanceof QueueSetupError && /allocat/.test(e.message),
  );
  assert.equal(small.allocator.count, 0);
  const refusing = legacyWindow();
  let pfnWrites = 0;
  const window = {
    ...refusing.window,
    write32: (o: number, v: number) => {
      if (o === R.VIRTIO_MMIO_QUEUE_PFN) pfnWrites++;
      // A device that ignores the page number: QueuePFN keeps reading 0.
      if (o !== R.VIRTIO_MMIO_QUEUE_PFN) refusing.window.write32(o, v);
    },
  };
  assert.throws(
    () => setupLegacyQueue(window, refusing.allocator, 0, {}),
    (e) => e instanceof QueueSetupError && e.step === "QueuePFN read-back" && e.value === 0,
  );
  assert.equal(pfnWrites, 1);
  assert.equal(refusing.allocator.count, 0, "the region was freed");
});

Deno.test("stopLegacyQueue writes QueuePFN 0 and reads it back; a device that never lets go is a QueueStopError", () => {
  const { allocator, window, accesses, transport } = legacyWindow();
  setupLegacyQueue(window, allocator, 0, {});
  accesses.length = 0;
  stopLegacyQueue(window, 0);
  assert.deepEqual(accesses, ["w 0x030=0", "w 0x040=0", "r 0x040"]);
  assert.equal(transport.legacyQueueRegisters(0)?.pfn, 0);
  const stuck = scriptedWindow({ 0x040: 0x40010 });
  assert.throws(
    () => stopLegacyQueue(stuck.window, 0, 3),
    (e) => e instanceof QueueStopError && e.register === "QueuePFN" && e.polls === 3,
  );
  assert.throws(() => stopLegacyQueue(stuck.window, 0, 0), RangeError);
});

/** A driver for the fake device that sets up queue 0 and keeps it. */
function fakeDriver(supported: bigint) {
  const driver: VirtioDriver & { queue: DriverQueue<string> | null; used: number } = {
    name: "fake",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: supported,
    queue: null as DriverQueue<string> | null,
    used: 0,
    probe(ctx: VirtioDriverContext) {
      driver.queue = ctx.setupQueue<string>(0, { onUsed: () => void driver.used++ });
      // A consistent read: a legacy device has no ConfigGeneration to read.
      ctx.readConfigConsistent(() => ctx.readConfig(4, 4));
    },
  };
  return driver;
}

Deno.test("MmioDriverTransport with legacy: true brings a Version 1 device up through the legacy steps, on a strict log", async () => {
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog({ strict: true });
  const device = new FakeDevice();
  const transport = new MmioDeviceTransport(device, { memory, log, name: "fake", version: 1 });
  const { window, accesses } = recordingWindow(windowOf(transport, 0x1e000));
  const driverTransport = new MmioDriverTransport({ window, memory, allocator, log, legacy: true });
  const driver = fakeDriver(features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX));
  await driverTransport.initialize(driver);
  assert.equal(driverTransport.legacy, true);
  assert.equal(driverTransport.state, "live");
  assert.equal(driverTransport.features, 1n << BigInt(VIRTIO_F_EVENT_IDX));
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FEATURES_OK, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER | DRIVER_OK);
  assert.equal(accesses.includes(`r ${h(R.VIRTIO_MMIO_CONFIG_GENERATION)}`), false);
  // The queue works: the fake device echoes a chain.
  const queue = driver.queue!;
  const buffer = allocator.alloc(16);
  queue.add([], [{ addr: buffer, len: 16 }], "token");
  if (queue.kickPrepare()) driverTransport.notify(0);
  driverTransport.handleInterrupt();
  assert.equal(driver.used, 1);
  assert.equal(queue.getBuf()?.token, "token");
  // Deleting the queue stops it through QueuePFN and frees its one region.
  const before = allocator.count;
  driverTransport.deleteQueue(0);
  assert.equal(transport.legacyQueueRegisters(0)?.pfn, 0);
  assert.equal(allocator.count, before - 1);
  assert.equal(log.entries.length, 0);
});

Deno.test("without legacy: true a Version 1 window is rejected, and with it a Version 2 window still goes the modern way", async () => {
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const v1 = new MmioDeviceTransport(new FakeDevice(), { memory, log, name: "v1", version: 1 });
  const modernOnly = new MmioDriverTransport({
    window: windowOf(v1, 0x1e000),
    memory,
    allocator,
    log,
  });
  assert.equal(modernOnly.probe().kind, "rejected");
  const v2 = new MmioDeviceTransport(new FakeDevice(), { memory, log, name: "v2" });
  const transitional = new MmioDriverTransport({
    window: windowOf(v2, 0x1e200),
    memory,
    allocator,
    log,
    legacy: true,
  });
  await transitional.initialize(fakeDriver(features(VIRTIO_F_VERSION_1)));
  assert.equal(transitional.legacy, false);
  assert.equal(v2.status & FEATURES_OK, FEATURES_OK);
  assert.equal(transitional.features, 1n << BigInt(VIRTIO_F_VERSION_1));
  assert.deepEqual(ids(log), []);
});

Deno.test("a legacy window offering bits beyond word 0 is reported by the driver (4.2.4/D5)", async () => {
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const device = new MmioDeviceTransport(new FakeDevice(), { memory, log, name: "v1", version: 1 });
  const inner = windowOf(device, 0x1e000);
  let sel = 0;
  // A broken legacy device: DeviceFeatures word 1 reads VIRTIO_F_VERSION_1.
  const window = {
    ...inner,
    write32: (o: number, v: number) => {
      if (o === R.VIRTIO_MMIO_DEVICE_FEATURES_SEL) sel = v;
      inner.write32(o, v);
    },
    read32: (o: number) => (o === R.VIRTIO_MMIO_DEVICE_FEATURES && sel === 1 ? 1 : inner.read32(o)),
  };
  const driverTransport = new MmioDriverTransport({ window, memory, allocator, log, legacy: true });
  await driverTransport.initialize(fakeDriver(features(VIRTIO_F_VERSION_1)));
  assert.deepEqual(ids(log), ["4.2.4/D5"]);
  assert.equal(driverTransport.features, 0n, "only word 0 was negotiated");
});
