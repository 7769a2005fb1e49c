import assert from "node:assert/strict";
import { ids, recordingWindow, setup } from "./_harness.ts";
import { FAKE_DEVICE_ID, FakeDevice } from "./_fake_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  bindDriver,
  DeviceInitializationError,
  type InitializationSteps,
  initializeDevice,
} from "../../transport/driver_core.ts";
import {
  beginInitialization,
  DeviceResetError,
  failDevice,
  FeatureNegotiationError,
  negotiateFeatures,
  type ProbeResult,
  probeWindow,
} from "../../transport/driver_init.ts";
import { REFERENCE_MMIO_DRIVER_PARTS } from "../../transport/parts.ts";
import { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import type { RegisterWindow } from "../../transport/types.ts";
import type { DriverRegistration, VirtioDriver } from "../../virtio/driver.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";
import { features, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";

// ------------------------------------------------------------------ bindDriver

const device = (deviceId: number): ProbeResult => ({
  kind: "device",
  deviceId,
  vendorId: 0,
  version: 2,
});

function registration(deviceId: number, name = `driver-${deviceId}`) {
  const created: VirtioDriver[] = [];
  const reg: DriverRegistration = {
    deviceId,
    name,
    create: () => {
      const driver: VirtioDriver = { name, deviceId, supportedFeatures: 0n, probe() {} };
      created.push(driver);
      return driver;
    },
  };
  return { reg, created };
}

Deno.test("bindDriver gives each device a fresh instance of the driver registered for its DeviceID", () => {
  const blk = registration(2);
  const con = registration(3);
  const regs = [blk.reg, con.reg];
  const first = bindDriver(device(3), regs);
  const second = bindDriver(device(3), regs);
  assert.equal(first.driver?.name, "driver-3");
  assert.equal(first.reason, "");
  assert.notEqual(first.driver, second.driver, "one driver instance per device");
  assert.equal(con.created.length, 2, "create is called once per binding");
  assert.equal(blk.created.length, 0);
});

Deno.test("bindDriver skips an empty slot silently (4.2.2.2/6)", () => {
  const blk = registration(2);
  assert.deepEqual(bindDriver({ kind: "empty" }, [blk.reg]), { driver: null, reason: "" });
  assert.equal(blk.created.length, 0);
});

Deno.test("bindDriver gives no driver, with a reason, to an unknown DeviceID or a rejected window", () => {
  const blk = registration(2);
  const unknown = bindDriver(device(0x1d), [blk.reg]);
  assert.equal(unknown.driver, null);
  assert.match(unknown.reason, /no driver for device 0x1d/);
  const rejected = bindDriver(
    {
      kind: "rejected",
      requirement: "4.2.2.2/5",
      reason: "Version reads 3, not 2",
      magic: 0,
      version: 3,
    },
    [blk.reg],
  );
  assert.deepEqual(rejected, { driver: null, reason: "Version reads 3, not 2" });
  assert.equal(blk.created.length, 0);
});

Deno.test("bindDriver refuses a driver that says it drives another device type", () => {
  const liar: DriverRegistration = {
    deviceId: 2,
    name: "liar",
    create: () => ({ name: "liar", deviceId: 3, supportedFeatures: 0n, probe() {} }),
  };
  const binding = bindDriver(device(2), [liar]);
  assert.equal(binding.driver, null);
  assert.match(binding.reason, /liar registered for virtio-blk drives virtio-console/);
});

// ------------------------------------------------------------ initializeDevice

/** Steps that record their calls and run the reference ones (or a replacement). */
function spySteps(over: Partial<InitializationSteps> = {}) {
  const calls: string[] = [];
  const steps: InitializationSteps = {
    beginInitialization: (
      w,
    ) => (calls.push("begin"), (over.beginInitialization ?? beginInitialization)(w)),
    negotiateFeatures: (
      w,
      s,
    ) => (calls.push("negotiate"), (over.negotiateFeatures ?? negotiateFeatures)(w, s)),
    failDevice: (w) => (calls.push("fail"), (over.failDevice ?? failDevice)(w)),
  };
  return { calls, steps };
}

const statusWrites = (accesses: string[]) =>
  accesses.filter((a) => a.startsWith("w 0x070=")).map((a) => Number(a.slice(8)));

Deno.test("initializeDevice runs §3.1.1 in order, with setup after FEATURES_OK and before DRIVER_OK", async () => {
  const { window: inner, transport, log } = setup();
  probeWindow(inner); // the MMIO probe comes first (4.2.3.1.1/1), then §3.1 (4.2.3.1.1/4)
  const { window, accesses } = recordingWindow(inner);
  const { calls, steps } = spySteps();
  let statusAtSetup = -1;
  const negotiated = await initializeDevice(window, {
    supportedFeatures: 0n,
    setup: (features) => {
      calls.push(`setup ${features === transport.negotiatedFeatures}`);
      statusAtSetup = window.read32(R.VIRTIO_MMIO_STATUS);
    },
  }, steps);
  assert.deepEqual(calls, ["begin", "negotiate", "setup true"]);
  assert.equal(
    statusAtSetup,
    ACK | DRIVER | FEATURES_OK,
    "FEATURES_OK confirmed, DRIVER_OK not yet",
  );
  assert.deepEqual(statusWrites(accesses), [
    0,
    ACK,
    ACK | DRIVER,
    ACK | DRIVER | FEATURES_OK,
    ACK | DRIVER | FEATURES_OK | DRIVER_OK,
  ]);
  assert.equal(negotiated, features(VIRTIO_F_VERSION_1));
  assert.equal(transport.active, true);
  assert.deepEqual(ids(log), []);
});

Deno.test("initializeDevice calls the steps it is given, not the reference ones", async () => {
  const { window, transport } = setup();
  probeWindow(window);
  // A negotiation that accepts nothing but VIRTIO_F_VERSION_1, whatever the driver supports.
  const { calls, steps } = spySteps({ negotiateFeatures: (w) => negotiateFeatures(w, 0n) });
  const got = await initializeDevice(window, { supportedFeatures: ~0n, setup() {} }, steps);
  assert.equal(got, features(VIRTIO_F_VERSION_1));
  assert.equal(transport.negotiatedFeatures, got);
  assert.deepEqual(calls, ["begin", "negotiate"]);
});

Deno.test("initializeDevice: a failing step sets FAILED and stops there (3.1.1/4, 3.1.1/5)", async () => {
  const { window: inner } = setup();
  const { window, accesses } = recordingWindow(inner);
  const { calls, steps } = spySteps({
    beginInitialization: () => {
      throw new DeviceResetError(ACK, 1000);
    },
  });
  let setups = 0;
  await assert.rejects(
    initializeDevice(window, { supportedFeatures: 0n, setup: () => void setups++ }, steps),
    DeviceResetError,
  );
  assert.deepEqual(calls, ["begin", "fail"]);
  assert.equal(setups, 0);
  assert.deepEqual(statusWrites(accesses), [FAILED], "nothing but FAILED was written");
});

Deno.test("initializeDevice: setup throwing sets FAILED, and DRIVER_OK is never written", async () => {
  const { window: inner, transport } = setup();
  const { window, accesses } = recordingWindow(inner);
  const { calls, steps } = spySteps();
  await assert.rejects(
    initializeDevice(window, {
      supportedFeatures: 0n,
      setup: () => Promise.reject(new Error("no memory for the rings")),
    }, steps),
    /no memory for the rings/,
  );
  assert.deepEqual(calls, ["begin", "negotiate", "fail"]);
  assert.ok(statusWrites(accesses).every((s) => (s & DRIVER_OK) === 0));
  assert.equal(transport.status & FAILED, FAILED);
});

Deno.test("initializeDevice does not set FAILED twice when negotiation already did", async () => {
  const refusing = new FakeDevice();
  refusing.refuse = "no";
  const { window } = setup(refusing);
  const { calls, steps } = spySteps();
  await assert.rejects(
    initializeDevice(window, { supportedFeatures: 0n, setup() {} }, steps),
    FeatureNegotiationError,
  );
  assert.deepEqual(calls, ["begin", "negotiate"], "negotiateFeatures set FAILED itself");
  assert.equal(window.read32(R.VIRTIO_MMIO_STATUS) & FAILED, FAILED);
});

Deno.test("initializeDevice: a device answering DRIVER_OK with DEVICE_NEEDS_RESET did not go live", async () => {
  const { window: inner } = setup();
  const window: RegisterWindow = {
    ...inner,
    read32: (o) => {
      const v = inner.read32(o);
      return o === R.VIRTIO_MMIO_STATUS && (v & DRIVER_OK) ? v | NEEDS_RESET : v;
    },
  };
  const { calls, steps } = spySteps();
  await assert.rejects(
    initializeDevice(window, { supportedFeatures: 0n, setup() {} }, steps),
    (e: unknown) => e instanceof DeviceInitializationError && (e.status & NEEDS_RESET) !== 0,
  );
  assert.deepEqual(calls, ["begin", "negotiate", "fail"]);
});

Deno.test("the reference driver parts table has the steps initializeDevice needs", () => {
  const steps: InitializationSteps = REFERENCE_MMIO_DRIVER_PARTS;
  assert.equal(steps.beginInitialization, beginInitialization);
});

Deno.test("the driver transport runs the initializeDevice it is given", async () => {
  const { window, memory, allocator, log } = setup();
  let initializations = 0;
  const t = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    coreParts: {
      initializeDevice: (w, d, s) => (initializations++, initializeDevice(w, d, s)),
    },
  });
  await t.initialize({ name: "x", deviceId: FAKE_DEVICE_ID, supportedFeatures: 0n, probe() {} });
  assert.equal(initializations, 1);
  assert.equal(t.state, "live");
});
