import assert from "node:assert/strict";
import { ids, recordingWindow, scriptedWindow, setup, windowOf } from "./_harness.ts";
import { FAKE_DEVICE_ID, FAKE_F_OPTIONAL_FIELD, FakeDevice } from "./_fake_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  addStatus,
  beginInitialization,
  DeviceResetError,
  failDevice,
  FeatureNegotiationError,
  MmioDriverTransport,
  negotiateFeatures,
  probeWindow,
  readDeviceFeatures,
  resetDevice,
  writeDriverFeatures,
} from "../../transport/mmio_driver.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import {
  featureMask,
  features,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_SR_IOV,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import type { DriverQueue } from "../../virtqueue/types.ts";
import type { MmioDriverParts } from "../../transport/parts.ts";

Deno.test("probeWindow reads magic, version, device id, vendor id in that order", () => {
  const { window, accesses } = scriptedWindow({
    0x000: 0x74726976,
    0x004: 2,
    0x008: 3,
    0x00c: 0x1af4,
  });
  assert.deepEqual(probeWindow(window), {
    kind: "device",
    deviceId: 3,
    vendorId: 0x1af4,
    version: 2,
  });
  assert.deepEqual(accesses, ["r 0x000", "r 0x004", "r 0x008", "r 0x00c"]);
});

Deno.test("probeWindow rejects a bad magic after one read (4.2.2.2/4)", () => {
  const { window, accesses } = scriptedWindow({ 0x000: 0x76697274, 0x004: 2, 0x008: 3 });
  const found = probeWindow(window);
  assert.equal(found.kind, "rejected");
  assert.ok(
    found.kind === "rejected" && found.requirement === "4.2.2.2/4" &&
      /0x76697274/.test(found.reason),
  );
  assert.deepEqual(accesses, ["r 0x000"]);
});

Deno.test("probeWindow rejects version 1 and other versions (4.2.2.2/5)", () => {
  for (const version of [1, 3, 0]) {
    const { window, accesses } = scriptedWindow({ 0x000: 0x74726976, 0x004: version, 0x008: 2 });
    const found = probeWindow(window);
    assert.ok(found.kind === "rejected" && found.requirement === "4.2.2.2/5", String(version));
    assert.deepEqual(accesses, ["r 0x000", "r 0x004"]);
  }
});

Deno.test("probeWindow stops at DeviceID 0 and touches nothing else (4.2.2.2/6, 4.2.3.1.1/2)", () => {
  const { window, accesses } = scriptedWindow({ 0x000: 0x74726976, 0x004: 2, 0x008: 0 });
  assert.deepEqual(probeWindow(window), { kind: "empty" });
  assert.deepEqual(accesses, ["r 0x000", "r 0x004", "r 0x008"]);
});

Deno.test("beginInitialization: reset, wait for 0, then ACKNOWLEDGE, then DRIVER, never clearing bits", () => {
  let status = 0x8f;
  const { window, accesses } = scriptedWindow({ 0x070: () => status }, (o, v) => {
    if (o === 0x070) status = v === 0 ? 0 : status | v;
  });
  beginInitialization(window);
  assert.equal(status, ACK | DRIVER);
  assert.deepEqual(accesses, [
    "w 0x070=0",
    "r 0x070",
    "r 0x070",
    "w 0x070=1",
    "r 0x070",
    "w 0x070=3",
  ]);
});

Deno.test("resetDevice gives up with DeviceResetError when Status never reads 0", () => {
  const { window } = scriptedWindow({ 0x070: ACK });
  assert.throws(() => resetDevice(window, 5), (e: unknown) => {
    assert.ok(e instanceof DeviceResetError);
    assert.equal(e.polls, 5);
    assert.equal(e.status, ACK);
    return true;
  });
});

Deno.test("failDevice adds FAILED to the current status", () => {
  let status = ACK | DRIVER;
  const { window } = scriptedWindow({ 0x070: () => status }, (o, v) => o === 0x070 && (status = v));
  failDevice(window);
  assert.equal(status, ACK | DRIVER | FAILED);
  assert.equal(addStatus(window, 0), ACK | DRIVER | FAILED);
});

Deno.test("readDeviceFeatures and writeDriverFeatures select each word first (4.2.2.2/7, 4.2.2.2/8)", () => {
  const words: Record<number, number> = { 0: 0x0000_0260, 1: 0x0000_0001 };
  let sel = -1;
  const written: Record<number, number> = {};
  let driverSel = -1;
  const { window, accesses } = scriptedWindow({ 0x010: () => words[sel] ?? 0 }, (o, v) => {
    if (o === 0x014) sel = v;
    if (o === 0x024) driverSel = v;
    if (o === 0x020) written[driverSel] = v;
  });
  assert.equal(readDeviceFeatures(window), 0x1_0000_0260n);
  writeDriverFeatures(window, 0x1_0000_0240n);
  assert.deepEqual(written, { 0: 0x240, 1: 1 });
  assert.deepEqual(accesses, [
    "w 0x014=0",
    "r 0x010",
    "w 0x014=1",
    "r 0x010",
    "w 0x024=0",
    "w 0x020=576",
    "w 0x024=1",
    "w 0x020=1",
  ]);
});

Deno.test("negotiateFeatures accepts offered ∩ supported plus VERSION_1 and checks FEATURES_OK stuck", () => {
  const { window, log, device, transport } = setup();
  probeWindow(window);
  beginInitialization(window);
  const got = negotiateFeatures(window, featureMask(FAKE_F_OPTIONAL_FIELD) | featureMask(40 + 10));
  assert.equal(got, features(VIRTIO_F_VERSION_1, FAKE_F_OPTIONAL_FIELD));
  assert.equal(transport.negotiatedFeatures, got);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER | FEATURES_OK);
  assert.deepEqual(ids(log), []);
  void device;
});

Deno.test("negotiateFeatures sets FAILED and throws when the device refuses", () => {
  const device = new FakeDevice();
  device.refuse = "not today";
  const { window } = setup(device);
  probeWindow(window);
  beginInitialization(window);
  assert.throws(() => negotiateFeatures(window, 0n), FeatureNegotiationError);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
});

Deno.test("negotiateFeatures gives up on a legacy-only device (6.1/2)", () => {
  const { window } = setup(new FakeDevice(features(FAKE_F_OPTIONAL_FIELD)));
  probeWindow(window);
  beginInitialization(window);
  assert.throws(() => negotiateFeatures(window, ~0n), /legacy-only/);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
});

class EchoDriver implements VirtioDriver {
  readonly name = "echo";
  readonly deviceId = FAKE_DEVICE_ID;
  readonly supportedFeatures = features(VIRTIO_F_EVENT_IDX);
  queue!: DriverQueue<string>;
  used: { token: string; len: number }[] = [];
  configChanges = 0;
  context!: VirtioDriverContext;
  probe(device: VirtioDriverContext): void {
    this.context = device;
    this.queue = device.setupQueue<string>(0, {
      onUsed: () => {
        let buf;
        while ((buf = this.queue.getBuf())) this.used.push(buf);
      },
    });
  }
  configChanged(): void {
    this.configChanges++;
  }
}

Deno.test("MmioDriverTransport brings a device up, runs a request and handles the interrupt", async () => {
  const { window, log, memory, allocator, transport } = setup();
  const driverSide = new MmioDriverTransport({ window, memory, allocator, log, name: "fake" });
  const driver = new EchoDriver();
  await driverSide.initialize(driver);
  assert.equal(driverSide.state, "live");
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.equal(driverSide.features, features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX));
  const buf = allocator.alloc(64, 8);
  driver.queue.add([], [{ addr: buf, len: 64 }], "hello");
  if (driver.queue.kickPrepare()) driverSide.notify(0);
  assert.equal(transport.interruptStatus, R.VIRTIO_MMIO_INT_VRING);
  driverSide.handleInterrupt();
  assert.deepEqual(driver.used, [{ token: "hello", len: 64 }]);
  assert.equal(memory.readU8(buf + 63), 0xee);
  assert.equal(transport.interruptStatus, 0, "the handler acknowledged");
  assert.deepEqual(ids(log), []);
  const text = Deno.inspect(driverSide);
  assert.match(text, /live/);
});

Deno.test("the interrupt handler acknowledges exactly the defined bits it read and reports undefined ones (4.2.2.1/4)", () => {
  const { window: inner } = setup();
  const fake = {
    ...inner,
    read32: (o: number) => (o === R.VIRTIO_MMIO_INTERRUPT_STATUS ? 0x103 : inner.read32(o)),
  };
  const { window, accesses } = recordingWindow(fake);
  const log = new ConformanceLog();
  const t = new MmioDriverTransport({
    window,
    memory: setup().memory,
    allocator: setup().allocator,
    log,
  });
  t.handleInterrupt();
  assert.ok(accesses.includes("w 0x064=3"));
  assert.deepEqual(ids(log), ["4.2.2.1/4"]);
  assert.equal(log.entries[0].role, "device");
});

Deno.test("probe() reports a bad magic as a device violation (4.2.2.1/1) but an empty slot silently", () => {
  const log = new ConformanceLog();
  const { window: bad } = scriptedWindow({ 0x000: 0x12345678 });
  const t = new MmioDriverTransport({
    window: bad,
    memory: setup().memory,
    allocator: setup().allocator,
    log,
  });
  assert.equal(t.probe().kind, "rejected");
  assert.equal(t.state, "rejected");
  const { window: empty } = scriptedWindow({ 0x000: 0x74726976, 0x004: 2, 0x008: 0 });
  const e = new MmioDriverTransport({
    window: empty,
    memory: setup().memory,
    allocator: setup().allocator,
    log,
  });
  assert.equal(e.probe().kind, "empty");
  assert.deepEqual(ids(log), ["4.2.2.1/1"]);
});

Deno.test("readConfigConsistent reads again while ConfigGeneration moves (§2.5.1)", () => {
  let generation = 0;
  let reads = 0;
  const { window } = scriptedWindow({ 0x0fc: () => generation, 0x100: () => ++reads });
  const t = new MmioDriverTransport({
    window,
    memory: setup().memory,
    allocator: setup().allocator,
    log: new ConformanceLog(),
  });
  const value = t.readConfigConsistent(() => {
    const v = t.readConfig(0, 4);
    if (v < 3) generation++;
    return v;
  });
  assert.equal(value, 3);
  assert.throws(() => t.readConfigConsistent(() => generation++, 4), /kept changing/);
});

Deno.test("a config change interrupt reaches the driver, and DEVICE_NEEDS_RESET marks the device", async () => {
  const { window, log, memory, allocator, device } = setup();
  const driverSide = new MmioDriverTransport({ window, memory, allocator, log });
  const driver = new EchoDriver();
  await driverSide.initialize(driver);
  device.change(0, 3);
  driverSide.handleInterrupt();
  assert.equal(driver.configChanges, 1);
  assert.equal(driverSide.state, "live");
  device.host.needsReset("test says so");
  driverSide.handleInterrupt();
  assert.equal(driver.configChanges, 2);
  assert.equal(driverSide.state, "needs-reset");
});

Deno.test("an exception in the configuration change handler does not drop the used buffers of the same interrupt", async () => {
  // A handleInterrupt part written the plain way, with no try: a throwing
  // configChanged would skip usedBuffers if the transport's handlers threw.
  const plain: MmioDriverParts["handleInterrupt"] = (window, handlers) => {
    const status = window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS);
    const handled = status & 3;
    if (handled) window.write32(R.VIRTIO_MMIO_INTERRUPT_ACK, handled);
    if (handled & R.VIRTIO_MMIO_INT_CONFIG) handlers.configChanged();
    if (handled & R.VIRTIO_MMIO_INT_VRING) handlers.usedBuffers();
    return { status, acknowledged: handled };
  };
  const { window, log, memory, allocator, device, transport } = setup();
  const driverSide = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    parts: { handleInterrupt: plain },
  });
  const driver = new EchoDriver();
  driver.configChanged = () => {
    throw new Error("configuration unreadable");
  };
  await driverSide.initialize(driver);
  const buf = allocator.alloc(64, 8);
  driver.queue.add([], [{ addr: buf, len: 64 }], "hello");
  if (driver.queue.kickPrepare()) driverSide.notify(0);
  device.change(0, 3);
  assert.equal(transport.interruptStatus, R.VIRTIO_MMIO_INT_VRING | R.VIRTIO_MMIO_INT_CONFIG);
  assert.throws(() => driverSide.handleInterrupt(), /configuration unreadable/);
  assert.deepEqual(driver.used, [{ token: "hello", len: 64 }], "the used buffer was reaped");
  assert.equal(transport.interruptStatus, 0);
});

Deno.test("initialize refuses a driver for another device type and sets FAILED when probe throws", async () => {
  const { window, log, memory, allocator } = setup();
  const t = new MmioDriverTransport({ window, memory, allocator, log });
  await assert.rejects(
    t.initialize({ ...new EchoDriver(), deviceId: 2, name: "blk", probe() {} }),
    /virtio-blk/,
  );
  const failing: VirtioDriver = {
    name: "broken",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: 0n,
    probe() {
      throw new Error("cannot allocate");
    },
  };
  await assert.rejects(t.initialize(failing), /cannot allocate/);
  assert.equal(t.state, "failed");
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
  // A fresh initialization resets first, so it succeeds (2.1.1/3 is respected).
  await t.initialize(new EchoDriver());
  assert.equal(t.state, "live");
  assert.deepEqual(ids(log), []);
});

Deno.test("setupQueue refuses a queue that does not exist", async () => {
  const { window, log, memory, allocator } = setup();
  const t = new MmioDriverTransport({ window, memory, allocator, log });
  const driver: VirtioDriver = {
    name: "greedy",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: 0n,
    probe(ctx) {
      ctx.setupQueue(5, { onUsed() {} });
    },
  };
  await assert.rejects(t.initialize(driver), /Queue 5 does not exist/);
  void windowOf;
});

Deno.test("the driver reports an MMIO device offering VIRTIO_F_SR_IOV (6.2/8) and does not accept it", async () => {
  const { window, log, memory, allocator, transport } = setup(
    new FakeDevice(features(VIRTIO_F_VERSION_1, VIRTIO_F_SR_IOV)),
  );
  const t = new MmioDriverTransport({ window, memory, allocator, log });
  await t.initialize(new EchoDriver());
  assert.deepEqual(ids(log), ["6.2/8"]);
  assert.equal(transport.negotiatedFeatures & featureMask(VIRTIO_F_SR_IOV), 0n);
});

Deno.test("the driver reports a Version 2 device without VIRTIO_F_VERSION_1 (6.2/1) and sets FAILED", async () => {
  const { window, log, memory, allocator } = setup(new FakeDevice(features(FAKE_F_OPTIONAL_FIELD)));
  const t = new MmioDriverTransport({ window, memory, allocator, log });
  await assert.rejects(t.initialize(new EchoDriver()), FeatureNegotiationError);
  assert.deepEqual(ids(log), ["6.2/1"]);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
});

Deno.test("a probe that throws is remembered, not run again when the result is looked at", () => {
  const { window, log, memory, allocator } = setup();
  let calls = 0;
  const t = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    parts: {
      probeWindow: () => {
        calls++;
        throw new Error("learner bug");
      },
    },
  });
  assert.throws(() => t.probe(), /learner bug/);
  assert.equal(t.probed.kind, "rejected");
  assert.equal(t.state, "rejected");
  assert.match(t.failure, /probe failed: learner bug/);
  assert.equal(calls, 1);
});
