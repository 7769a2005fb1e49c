import assert from "node:assert/strict";
import { ids, RAM_BASE, setup, windowOf } from "./_harness.ts";
import { FAKE_F_NOT_OFFERED, FAKE_F_OPTIONAL_FIELD, FakeDevice } from "./_fake_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  beginInitialization,
  negotiateFeatures,
  probeWindow,
  readDeviceFeatures,
} from "../../transport/mmio_driver.ts";
import { EmptyMmioSlot, MmioDeviceTransport } from "../../transport/mmio_device.ts";
import { ConformanceError, ConformanceLog } from "../../conformance/log.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import {
  featureMask,
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { RegisterWindow } from "../../transport/types.ts";

const ALL = features(VIRTIO_F_VERSION_1, VIRTIO_F_RING_RESET, FAKE_F_OPTIONAL_FIELD);

/** Probe, ACK, DRIVER, features, FEATURES_OK: ready for queue setup. */
function negotiate(window: RegisterWindow, wanted = ALL): bigint {
  probeWindow(window);
  beginInitialization(window);
  return negotiateFeatures(window, wanted);
}

/** Configures queue `index` with `num` entries at sane addresses. */
function configureQueue(
  window: RegisterWindow,
  index: number,
  num: number,
  base = RAM_BASE + 0x1000,
) {
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, index);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, num);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, base);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, base + 0x400);
  window.write32(R.VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_LOW, base + 0x800);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
}

Deno.test("identification registers and a clean bring-up leave the log empty", () => {
  const { window, log, transport, device } = setup();
  assert.equal(window.read32(R.VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
  assert.equal(window.read32(R.VIRTIO_MMIO_VERSION), 2);
  assert.equal(window.read32(R.VIRTIO_MMIO_DEVICE_ID), device.deviceId);
  assert.equal(window.read32(R.VIRTIO_MMIO_VENDOR_ID), device.vendorId);
  const negotiated = negotiate(window);
  assert.equal(negotiated, ALL);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.equal(transport.active, true);
  assert.equal(device.activations, 1);
  assert.ok(transport.liveQueue(0));
  assert.equal(transport.liveQueue(1), null);
  assert.deepEqual(ids(log), []);
});

Deno.test("reads of write-only and writes of read-only registers are logged and answered as QEMU does (4.2.2.2/1)", () => {
  const { window, log } = setup();
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_NOTIFY), 0);
  window.write32(R.VIRTIO_MMIO_MAGIC_VALUE, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
  assert.equal(window.read32(0x018), 0); // a hole in the table
  window.write32(0x0f0, 1);
  assert.deepEqual(ids(log), ["4.2.2.2/1", "4.2.2.2/1", "4.2.2.2/1", "4.2.2.2/1"]);
  assert.match(log.entries[0].message, /QueueNotify/);
  assert.equal(log.entries[0].action, "read returned 0");
  assert.equal(log.entries[1].action, "write ignored");
  assert.equal(log.entries[0].role, "driver");
});

Deno.test("narrow or unaligned control register accesses read 0 and are logged (4.2.2.2/2)", () => {
  const { window, log } = setup();
  assert.equal(window.read16(R.VIRTIO_MMIO_MAGIC_VALUE), 0);
  assert.equal(window.read8(R.VIRTIO_MMIO_VERSION), 0);
  window.write8(R.VIRTIO_MMIO_STATUS, ACK);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), 0);
  assert.deepEqual(ids(log), ["4.2.2.2/2", "4.2.2.2/2", "4.2.2.2/2"]);
});

Deno.test("feature words are selected through DeviceFeaturesSel and DriverFeaturesSel", () => {
  const { window, log, transport, device } = setup();
  const offered = device.deviceFeatures;
  window.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_DEVICE_FEATURES), Number(offered >> 32n));
  window.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_DEVICE_FEATURES), Number(offered & 0xffffffffn));
  window.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
  assert.equal(window.read32(R.VIRTIO_MMIO_DEVICE_FEATURES), 0, "bits 64 and up do not exist");
  assert.deepEqual(ids(log), []);
  assert.equal(transport.negotiatedFeatures, 0n);
});

Deno.test("reading DeviceFeatures before selecting a word breaks 4.2.2.2/7", () => {
  const { window, log } = setup();
  window.read32(R.VIRTIO_MMIO_DEVICE_FEATURES);
  assert.deepEqual(ids(log), ["4.2.2.2/7"]);
});

Deno.test("writing DriverFeatures before DriverFeaturesSel breaks 4.2.2.2/8; after FEATURES_OK breaks 3.1.1/3", () => {
  const { window, log, transport } = setup();
  probeWindow(window);
  beginInitialization(window);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 0);
  assert.deepEqual(ids(log), ["4.2.2.2/8"]);
  log.clear();
  negotiate(window);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 0xffff_ffff);
  assert.deepEqual(ids(log), ["3.1.1/3"]);
  assert.equal(transport.negotiatedFeatures, ALL, "the late write changed nothing");
});

Deno.test("FEATURES_OK is refused for features never offered (2.2.1/1, 2.2.2/2)", () => {
  const { window, log, transport } = setup();
  probeWindow(window);
  beginInitialization(window);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1 << FAKE_F_NOT_OFFERED);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1); // VIRTIO_F_VERSION_1
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER, "FEATURES_OK did not stick");
  assert.deepEqual(ids(log), ["2.2.1/1"]);
  assert.equal(log.entries[0].action, "FEATURES_OK refused");
  assert.equal(transport.negotiatedFeatures, 0n);
});

Deno.test("FEATURES_OK is refused without VIRTIO_F_VERSION_1 (6.1/1) and when the device model says no", () => {
  const { window, log } = setup();
  probeWindow(window);
  beginInitialization(window);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 0);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FEATURES_OK, 0);
  assert.deepEqual(ids(log), ["6.1/1"]);

  const device = new FakeDevice();
  device.refuse = "no event idx without indirect";
  const other = setup(device);
  assert.throws(() => negotiate(other.window), /refused features/);
  assert.deepEqual(
    ids(other.log),
    [],
    "a refusal of a valid subset is the device's right, not a violation",
  );
});

Deno.test("starting initialization without reading MagicValue and Version breaks 4.2.3.1.1/1", () => {
  const { window, log } = setup();
  window.write32(R.VIRTIO_MMIO_STATUS, 0);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK);
  assert.deepEqual(ids(log), ["4.2.3.1.1/1"]);
  assert.match(log.entries[0].message, /MagicValue and Version/);
});

Deno.test("status rules from the state machine reach the log (2.1.1/2, 3.1.1/1)", () => {
  const { window, log } = setup();
  probeWindow(window);
  window.write32(R.VIRTIO_MMIO_STATUS, DRIVER);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK);
  assert.deepEqual(ids(log), ["3.1.1/1", "2.1.1/2"]);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER);
});

Deno.test("DRIVER_OK without FEATURES_OK sets DEVICE_NEEDS_RESET and raises a config change (2.1.2/2)", () => {
  const { window, transport, device } = setup();
  probeWindow(window);
  beginInitialization(window);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | DRIVER_OK);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & NEEDS_RESET, NEEDS_RESET);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), R.VIRTIO_MMIO_INT_CONFIG);
  assert.equal(device.activations, 0);
  assert.equal(transport.active, false);
  assert.match(transport.needsResetReason, /FEATURES_OK/);
  window.write32(R.VIRTIO_MMIO_STATUS, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), 0, "reset clears DEVICE_NEEDS_RESET");
});

Deno.test("queue registers are guarded: size limits, power of two, QueueReady (4.2.2.2/9, 2.7/D1, 4.2.2.2/10)", () => {
  const { window, log } = setup();
  negotiate(window);
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX), 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 16);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 6);
  assert.deepEqual(ids(log), ["4.2.2.2/9", "2.7/D1"]);
  log.clear();
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 4);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE);
  assert.deepEqual(ids(log), ["4.2.2.2/10", "4.2.2.2/10"]);
  assert.equal(log.entries[0].action, "write ignored");
  assert.equal(transportQueue(window), 8, "QueueNum kept its value");
});

function transportQueue(window: RegisterWindow): number {
  // QueueNum is write-only; what the device holds shows in how big a ring it accepts.
  // Reading it back is a violation, so read the snapshot through QueueNumMax instead.
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  return window.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX);
}

Deno.test("QueueReady stays 0 for an unusable queue (4.2.3.2/D1, 2.7.1/1, 2.7.5/D2)", () => {
  const { window, log, transport } = setup();
  negotiate(window);
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1); // no QueueNum yet
  configureQueue(window, 0, 8, RAM_BASE + 0x1008); // descriptor table not 16-byte aligned
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  configureQueue(window, 0, 8, 0x1000); // below RAM
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.deepEqual(ids(log), ["4.2.3.2/D1", "2.7.1/1", "2.7.5/D2"]);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 0);
  assert.equal(transport.inspect().queues[0].ready, false);
});

Deno.test("notifications before DRIVER_OK or for queues that are not ready are ignored and logged (3.1.1/6, 4.2.3.3/D1)", () => {
  const { window, log, device } = setup();
  negotiate(window);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 7);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert.deepEqual(ids(log), ["3.1.1/6", "4.2.3.3/D1", "4.2.3.3/D1"]);
  assert.deepEqual(device.notifications, [0]);
});

Deno.test("InterruptACK clears exactly the acknowledged bits; undefined bits break 4.2.2.2/13", () => {
  const { window, log, device } = setup();
  negotiate(window);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  device.change(0, 1); // config change interrupt
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), R.VIRTIO_MMIO_INT_CONFIG);
  window.write32(R.VIRTIO_MMIO_INTERRUPT_ACK, R.VIRTIO_MMIO_INT_VRING);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), R.VIRTIO_MMIO_INT_CONFIG);
  window.write32(R.VIRTIO_MMIO_INTERRUPT_ACK, 0x102);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), 0);
  assert.deepEqual(ids(log), ["4.2.2.2/13"]);
});

Deno.test("ConfigGeneration changes with the configuration (4.2.2.1/6); no interrupt before DRIVER_OK", () => {
  const { window, device } = setup();
  const before = window.read32(R.VIRTIO_MMIO_CONFIG_GENERATION);
  device.change(0, 0x77);
  assert.notEqual(window.read32(R.VIRTIO_MMIO_CONFIG_GENERATION), before);
  assert.equal(window.read8(R.VIRTIO_MMIO_CONFIG), 0x77);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), 0);
});

Deno.test("configuration space: field widths (4.2.2.2/3), bounds (4.2.2.2/1), feature-gated fields (2.5.1/1)", () => {
  const { window, log } = setup();
  assert.equal(window.read8(R.VIRTIO_MMIO_CONFIG), 0x5a);
  assert.equal(window.read16(R.VIRTIO_MMIO_CONFIG + 2), 0x1234);
  assert.equal(window.read32(R.VIRTIO_MMIO_CONFIG + 4), 0xdeadbeef);
  assert.deepEqual(ids(log), []);
  assert.equal(window.read8(R.VIRTIO_MMIO_CONFIG + 4), 0xef, "served anyway, as QEMU does");
  window.read32(R.VIRTIO_MMIO_CONFIG + 2);
  assert.equal(window.read32(R.VIRTIO_MMIO_CONFIG + 16), 0);
  window.read32(R.VIRTIO_MMIO_CONFIG + 8);
  assert.deepEqual(ids(log), ["4.2.2.2/3", "4.2.2.2/3", "4.2.2.2/1", "2.5.1/1"]);
});

Deno.test("configuration writes: only writable fields change; not during feature negotiation (3.1.1/2) unless anytime", () => {
  const { window, log, device } = setup();
  window.write8(R.VIRTIO_MMIO_CONFIG, 0x11);
  assert.equal(device.config[0], 0x5a, "read-only field unchanged");
  probeWindow(window);
  beginInitialization(window);
  window.write32(R.VIRTIO_MMIO_CONFIG + 4, 1);
  window.write32(R.VIRTIO_MMIO_CONFIG + 12, 0x41);
  assert.deepEqual(ids(log), ["3.1.1/2"]);
  assert.equal(device.readConfig(4, 4), 1);
  assert.equal(device.readConfig(12, 4), 0x41);
});

Deno.test("reset clears interrupts, queues and negotiation (4.2.2.1/5, 2.4.1/1)", () => {
  const { window, transport, device } = setup();
  negotiate(window);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  device.change(0, 9);
  const resetsBefore = device.resets;
  window.write32(R.VIRTIO_MMIO_STATUS, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS), 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_INTERRUPT_STATUS), 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 0);
  assert.equal(transport.negotiatedFeatures, 0n);
  assert.equal(transport.active, false);
  assert.equal(device.resets, resetsBefore + 1);
});

Deno.test("QueueReset resets one queue when VIRTIO_F_RING_RESET is negotiated (4.2.2.1/10, 4.2.2.1/12)", () => {
  const { window, transport, device } = setup();
  negotiate(window);
  configureQueue(window, 1, 16);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.ok(transport.liveQueue(1));
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_RESET, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_RESET), 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 0);
  assert.equal(transport.liveQueue(1), null);
  assert.deepEqual(device.queueResets, [1]);
  // Re-enable with new parameters (4.2.2.2/15, 4.2.2.2/16).
  configureQueue(window, 1, 4, RAM_BASE + 0x8000);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.equal(transport.inspect().queues[1].num, 4);
  assert.ok(transport.liveQueue(1));
});

Deno.test("QueueReset does nothing without VIRTIO_F_RING_RESET", () => {
  const { window, transport, device } = setup();
  negotiate(window, featureMask(VIRTIO_F_VERSION_1));
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_RESET, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 1);
  assert.deepEqual(device.queueResets, []);
  assert.equal(transport.inspect().queues[0].ready, true);
});

Deno.test("shared memory registers read all ones for a region that does not exist", () => {
  const { window } = setup();
  window.write32(R.VIRTIO_MMIO_SHM_SEL, 0);
  for (
    const reg of [
      R.VIRTIO_MMIO_SHM_LEN_LOW,
      R.VIRTIO_MMIO_SHM_LEN_HIGH,
      R.VIRTIO_MMIO_SHM_BASE_LOW,
      R.VIRTIO_MMIO_SHM_BASE_HIGH,
    ]
  ) {
    assert.equal(window.read32(reg), 0xffff_ffff);
  }
});

Deno.test("shared memory registers describe a region the device has", () => {
  const device = new FakeDevice();
  Object.assign(device, { shmRegions: [{ id: 3, base: 0x1_2345_6000n, length: 0x20_0000n }] });
  const { window } = setup(device);
  window.write32(R.VIRTIO_MMIO_SHM_SEL, 3);
  assert.equal(window.read32(R.VIRTIO_MMIO_SHM_BASE_LOW), 0x2345_6000);
  assert.equal(window.read32(R.VIRTIO_MMIO_SHM_BASE_HIGH), 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_SHM_LEN_LOW), 0x20_0000);
  assert.equal(window.read32(R.VIRTIO_MMIO_SHM_LEN_HIGH), 0);
});

Deno.test("a strict log turns the first violation into a thrown ConformanceError", () => {
  const { window } = setup(new FakeDevice(), true);
  assert.throws(() => window.read32(R.VIRTIO_MMIO_QUEUE_NOTIFY), (e: unknown) => {
    assert.ok(e instanceof ConformanceError);
    assert.equal(e.violation.id, "4.2.2.2/1");
    return true;
  });
});

Deno.test("an empty slot answers identification and logs any other access (4.2.3.1.1/2)", () => {
  const log = new ConformanceLog();
  const slot = new EmptyMmioSlot(log, "virtio_mmio@0x1e400");
  assert.equal(slot.read(R.VIRTIO_MMIO_MAGIC_VALUE, 4), 0x74726976);
  assert.equal(slot.read(R.VIRTIO_MMIO_VERSION, 4), 2);
  assert.equal(slot.read(R.VIRTIO_MMIO_DEVICE_ID, 4), 0);
  assert.deepEqual(ids(log), []);
  slot.read(R.VIRTIO_MMIO_VENDOR_ID, 4);
  slot.write(R.VIRTIO_MMIO_STATUS, 4, 1);
  assert.deepEqual(ids(log), ["4.2.3.1.1/2", "4.2.3.1.1/2"]);
});

Deno.test("inspect() describes the window without touching it", () => {
  const { window, transport, log } = setup();
  negotiate(window);
  const snap = transport.inspect();
  assert.equal(snap.statusByte.toString(), "0x0b ACKNOWLEDGE|DRIVER|FEATURES_OK");
  assert.deepEqual(snap.negotiated.names, [
    "FAKE_F_OPTIONAL_FIELD",
    "VIRTIO_F_VERSION_1",
    "VIRTIO_F_RING_RESET",
  ]);
  const text = snap.format();
  assert.match(text, /MagicValue\s+0x74726976 \("virt"\)/);
  const html = (snap as unknown as Record<symbol, () => Record<string, string>>)
    [Symbol.for("Jupyter.display")]();
  const registers = /<table [^>]*data-virtio-lab="register-window".*?<\/table>/s.exec(
    html["text/html"],
  )?.[0] ?? "";
  assert.match(registers, /<td style="text-align:left[^"]*"><code>0x070<\/code><\/td>/);
  assert.match(registers, /<code>0x0b ACKNOWLEDGE\|DRIVER\|FEATURES_OK<\/code>/);
  assert.match(html["text/html"], /data-virtio-lab="queues"/);
  assert.deepEqual(ids(log), []);
});

Deno.test("reconfiguring a reset queue before QueueReset reads 0 breaks 4.2.2.2/14 (2.6.1.1.2/1)", () => {
  const { window, log } = setup();
  negotiate(window);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  window.write32(R.VIRTIO_MMIO_QUEUE_RESET, 1);
  configureQueue(window, 0, 4); // no read of QueueReset first
  assert.deepEqual(ids(log), ["4.2.2.2/14"]);
});

Deno.test("reusing a stopped queue before reading QueueReady back breaks 4.2.2.2/11", () => {
  const { window, log } = setup();
  negotiate(window);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 4);
  assert.deepEqual(ids(log), ["4.2.2.2/11"]);
  log.clear();
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 0);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 0, "the read-back the spec asks for");
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  assert.deepEqual(ids(log), []);
});

Deno.test("a feature set accepted once is accepted again after a reset (2.2.2/3)", () => {
  const { window, transport, log } = setup();
  const first = negotiate(window);
  window.write32(R.VIRTIO_MMIO_STATUS, 0);
  const again = negotiate(window);
  assert.equal(again, first);
  assert.equal(transport.negotiatedFeatures, first);
  assert.deepEqual(ids(log), []);
});

Deno.test("re-enabling a reset queue without setting it up again breaks 2.6.1.2.2/1", () => {
  const { window, log } = setup();
  negotiate(window);
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  window.write32(R.VIRTIO_MMIO_QUEUE_RESET, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_RESET), 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.deepEqual(ids(log), ["2.6.1.2.2/1"]);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 0);
});

Deno.test("featureMask withholds feature bits: DeviceFeatures reads and the FEATURES_OK check both see the mask", () => {
  const device = new FakeDevice();
  const memory = setup().memory;
  const log = new ConformanceLog();
  const mask = ~(featureMask(VIRTIO_F_EVENT_IDX) | featureMask(VIRTIO_F_INDIRECT_DESC) |
    featureMask(VIRTIO_F_RING_RESET));
  const transport = new MmioDeviceTransport(device, { memory, log, featureMask: mask });
  const window = windowOf(transport);
  assert.equal(transport.offeredFeatures, device.deviceFeatures & mask);
  probeWindow(window);
  beginInitialization(window);
  assert.equal(readDeviceFeatures(window), features(VIRTIO_F_VERSION_1, FAKE_F_OPTIONAL_FIELD));
  assert.equal(transport.inspect().deviceFeatures, transport.offeredFeatures);

  // A driver that accepts a withheld bit anyway is refused, as for any bit never offered.
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1 << VIRTIO_F_EVENT_IDX);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  window.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK);
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FEATURES_OK, 0);
  assert.deepEqual(ids(log), ["2.2.1/1"]);
  assert.match(log.entries[0].message, /VIRTIO_F_EVENT_IDX/);

  // The reference negotiation, asking for everything, gets only what is left.
  beginInitialization(window);
  assert.equal(negotiateFeatures(window, ~0n), features(VIRTIO_F_VERSION_1, FAKE_F_OPTIONAL_FIELD));
});

Deno.test("featureMask: a configuration field of a withheld feature does not exist (2.5.1/1)", () => {
  const device = new FakeDevice(features(VIRTIO_F_VERSION_1, FAKE_F_NOT_OFFERED));
  const log = new ConformanceLog();
  const offered = new MmioDeviceTransport(device, { memory: setup().memory, log });
  windowOf(offered).read32(R.VIRTIO_MMIO_CONFIG + 8);
  assert.deepEqual(ids(log), []);
  const masked = new MmioDeviceTransport(device, {
    memory: setup().memory,
    log,
    featureMask: ~featureMask(FAKE_F_NOT_OFFERED),
  });
  windowOf(masked).read32(R.VIRTIO_MMIO_CONFIG + 8);
  assert.deepEqual(ids(log), ["2.5.1/1"]);
});

Deno.test("with VIRTIO_F_EVENT_IDX withheld the queues go live without event fields, sized for that", () => {
  const device = new FakeDevice(undefined, [8]);
  const { memory } = setup();
  const log = new ConformanceLog();
  const transport = new MmioDeviceTransport(device, {
    memory,
    log,
    featureMask: ~featureMask(VIRTIO_F_EVENT_IDX),
  });
  const window = windowOf(transport);
  negotiate(window, ~0n);
  // A used ring of 4 + 8 * 8 = 68 bytes ending on RAM's last byte: enough without avail_event.
  const end = memory.base + memory.size;
  configureQueue(window, 0, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_LOW, end - 68);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.equal(window.read32(R.VIRTIO_MMIO_QUEUE_READY), 1);
  window.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
  assert.ok(transport.liveQueue(0));
  assert.equal(hasFeature(transport.negotiatedFeatures, VIRTIO_F_EVENT_IDX), false);
  assert.deepEqual(ids(log), []);
});
