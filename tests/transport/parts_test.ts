import assert from "node:assert/strict";
import { ids, RAM_BASE, setup, windowOf } from "./_harness.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { FAKE_DEVICE_ID, FakeDevice } from "./_fake_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import * as DeviceStatus from "../../transport/device_status.ts";
import * as QueueRegisters from "../../transport/queue_registers.ts";
import * as QueueNotify from "../../transport/queue_notify.ts";
import * as InterruptStatus from "../../transport/interrupt_status.ts";
import * as ConfigSpace from "../../transport/config_space.ts";
import * as DriverInit from "../../transport/driver_init.ts";
import * as DriverQueues from "../../transport/driver_queues.ts";
import * as DriverInterrupt from "../../transport/driver_interrupt.ts";
import * as DriverConfig from "../../transport/driver_config.ts";
import * as DriverCore from "../../transport/driver_core.ts";
import * as LegacyRegisters from "../../transport/legacy_registers.ts";
import * as DriverLegacy from "../../transport/driver_legacy.ts";
import {
  type MmioDeviceParts,
  REFERENCE_DRIVER_CORE_PARTS,
  REFERENCE_MMIO_DEVICE_PARTS,
  REFERENCE_MMIO_DRIVER_PARTS,
} from "../../transport/parts.ts";
import * as DeviceModule from "../../transport/mmio_device.ts";
import * as DriverModule from "../../transport/mmio_driver.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import { MmioDriverTransport } from "../../transport/mmio_driver.ts";
import { MmioBus } from "../../transport/mmio_bus.ts";
import { VirtioBus } from "../../transport/virtio_bus.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
} from "../../virtio/status.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../../virtio/features.ts";
import type { RegisterWindow } from "../../transport/types.ts";

const LIVE = ACK | DRIVER | FEATURES_OK | DRIVER_OK;

Deno.test("the parts tables are frozen and name every step exactly once", () => {
  assert.deepEqual(Object.keys(REFERENCE_MMIO_DEVICE_PARTS), [
    "checkRegisterAccess",
    "readIdentification",
    "nextDeviceStatus",
    "checkDriverFeatures",
    "queueAreaProblem",
    "writeQueueRegister",
    "queueNotifyTarget",
    "raiseInterrupt",
    "acknowledgeInterrupt",
    "checkConfigAccess",
    "configChanged",
    "markNeedsReset",
    "resetQueue",
    "nextLegacyDeviceStatus",
    "writeLegacyQueueRegister",
  ]);
  assert.deepEqual(Object.keys(REFERENCE_MMIO_DRIVER_PARTS), [
    "probeWindow",
    "beginInitialization",
    "failDevice",
    "negotiateFeatures",
    "setupQueue",
    "stopQueue",
    "handleInterrupt",
    "readConfigConsistent",
    "readConfig64",
    "probeTransitionalWindow",
    "negotiateLegacyFeatures",
    "setupLegacyQueue",
    "stopLegacyQueue",
  ]);
  assert.deepEqual(Object.keys(REFERENCE_DRIVER_CORE_PARTS), [
    "initializeDevice",
    "bindDriver",
    "recoverDevice",
  ]);
  const all = [
    REFERENCE_MMIO_DEVICE_PARTS,
    REFERENCE_MMIO_DRIVER_PARTS,
    REFERENCE_DRIVER_CORE_PARTS,
  ];
  for (const table of all) assert.ok(Object.isFrozen(table));
  const names = all.flatMap((t) => Object.keys(t));
  assert.equal(new Set(names).size, names.length, "part names are unique across the tables");
});

Deno.test("each reference part is the function its module exports under the same name", () => {
  const modules: Record<string, unknown>[] = [
    R,
    DeviceStatus,
    QueueRegisters,
    QueueNotify,
    InterruptStatus,
    ConfigSpace,
    DriverInit,
    DriverQueues,
    DriverInterrupt,
    DriverConfig,
    DriverCore,
    LegacyRegisters,
    DriverLegacy,
  ];
  const tables = [
    REFERENCE_MMIO_DEVICE_PARTS,
    REFERENCE_MMIO_DRIVER_PARTS,
    REFERENCE_DRIVER_CORE_PARTS,
  ];
  for (const table of tables) {
    for (const [name, part] of Object.entries(table)) {
      const homes = modules.filter((m) => m[name] === part);
      assert.equal(homes.length, 1, `${name} is exported by exactly one module`);
    }
  }
  // The old import paths keep working (lessons and the CLI use them).
  assert.equal(DeviceModule.REFERENCE_MMIO_DEVICE_PARTS, REFERENCE_MMIO_DEVICE_PARTS);
  assert.equal(DriverModule.REFERENCE_MMIO_DRIVER_PARTS, REFERENCE_MMIO_DRIVER_PARTS);
  assert.equal(DriverModule.probeWindow, DriverInit.probeWindow);
});

/** A device transport on the fake device with some parts replaced, negotiated and with queue 0 configured. */
function deviceWith(parts: Partial<MmioDeviceParts>, device = new FakeDevice()) {
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const log = new ConformanceLog();
  const transport = new MmioDeviceTransport(device, { memory, log, parts, name: "fake" });
  const window = windowOf(transport);
  DriverInit.probeWindow(window);
  DriverInit.beginInitialization(window);
  DriverInit.negotiateFeatures(window, featureMask(VIRTIO_F_VERSION_1));
  return { transport, window, log, device };
}

function configureQueue0(window: RegisterWindow) {
  window.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  window.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  window.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE + 0x1000);
  window.write32(R.VIRTIO_MMIO_QUEUE_AVAIL_LOW, RAM_BASE + 0x2000);
  window.write32(R.VIRTIO_MMIO_QUEUE_USED_LOW, RAM_BASE + 0x3000);
  window.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
}

Deno.test("the register file activates the device when the status transition says so, and only then", () => {
  const never = deviceWith({
    nextDeviceStatus: (current, written) => ({
      ...DeviceStatus.nextDeviceStatus(current, written),
      activate: false,
    }),
  });
  never.window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  assert.equal(never.window.read32(R.VIRTIO_MMIO_STATUS), LIVE);
  assert.equal(never.transport.active, false, "activate: false keeps the device inactive");
  assert.equal(never.device.activations, 0);

  const reference = deviceWith({});
  reference.window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  assert.equal(reference.transport.active, true);
  assert.equal(reference.device.activations, 1);
});

Deno.test("the register file applies what writeQueueRegister returns and passes it the queueAreaProblem part", () => {
  const seen: number[] = [];
  const { window, transport, log } = deviceWith({
    writeQueueRegister: (registers, write, checkAreas) => {
      seen.push(write.offset);
      // Forget every QueueNum write; pass the rest to the reference.
      return write.offset === R.VIRTIO_MMIO_QUEUE_NUM
        ? { registers, enabled: false, stopped: false, reset: false, problems: [] }
        : QueueRegisters.writeQueueRegister(registers, write, checkAreas);
    },
    queueAreaProblem: (registers, context) =>
      registers.num === 0
        ? {
          id: "4.2.3.2/D1",
          message: "custom check: no QueueNum",
          values: { queue: context.queue },
        }
        : null,
  });
  configureQueue0(window);
  assert.deepEqual(seen, [0x038, 0x080, 0x090, 0x0a0, 0x044]);
  assert.equal(transport.queueRegisters(0)!.num, 0);
  assert.equal(transport.queueRegisters(0)!.descLow, RAM_BASE + 0x1000);
  assert.deepEqual(ids(log), ["4.2.3.2/D1"]);
  assert.equal(log.entries[0].message, "custom check: no QueueNum");
  assert.equal(log.entries[0].action, "QueueReady stays 0");
});

Deno.test("the register file delivers notifications where queueNotifyTarget says", () => {
  const { window, device } = deviceWith({
    queueNotifyTarget: (value, ctx) => ({
      ...QueueNotify.queueNotifyTarget(value, ctx),
      deliver: false,
    }),
  });
  configureQueue0(window);
  window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  window.write32(R.VIRTIO_MMIO_QUEUE_NOTIFY, 0);
  assert.deepEqual(device.notifications, []);
});

Deno.test("the register file stores the InterruptStatus raiseInterrupt and acknowledgeInterrupt return, and counts what was sent", () => {
  const { window, transport, device } = deviceWith({
    raiseInterrupt: (status) => ({ interruptStatus: status, sent: false }),
  });
  window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  device.change(0, 1);
  assert.equal(transport.interruptStatus, 0);
  assert.equal(transport.configInterrupts, 0);

  const sticky = deviceWith({
    acknowledgeInterrupt: (status) => ({ interruptStatus: status, problem: null }),
  });
  sticky.window.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  sticky.device.change(0, 1);
  sticky.window.write32(R.VIRTIO_MMIO_INTERRUPT_ACK, R.VIRTIO_MMIO_INT_CONFIG);
  assert.equal(sticky.transport.interruptStatus, R.VIRTIO_MMIO_INT_CONFIG);
  assert.equal(sticky.transport.configInterrupts, 1);
});

Deno.test("the register file serves configuration space as checkConfigAccess says and keeps the generation configChanged returns", () => {
  const { window, transport, device, log } = deviceWith({
    checkConfigAccess: (offset, width, kind, space) => ({
      ...ConfigSpace.checkConfigAccess(offset, width, kind, space),
      serve: offset !== 0,
    }),
    configChanged: (_generation, status) => ({
      configGeneration: 0x42,
      notify: (status & DRIVER_OK) !== 0,
    }),
  });
  assert.equal(window.read8(R.VIRTIO_MMIO_CONFIG), 0, "not served");
  assert.equal(window.read16(R.VIRTIO_MMIO_CONFIG + 2), 0x1234);
  device.change(0, 9);
  assert.equal(transport.configGeneration, 0x42);
  assert.equal(window.read32(R.VIRTIO_MMIO_CONFIG_GENERATION), 0x42);
  assert.deepEqual(ids(log), []);
});

Deno.test("a queue factory that throws leaves the queue dead and the device needing a reset, not the driver's write throwing", () => {
  const device = new FakeDevice();
  const transport = new MmioDeviceTransport(device, {
    memory: new GuestMemory(1 << 20, { base: RAM_BASE }),
    log: new ConformanceLog(),
    queueFactory: () => {
      throw new RangeError("areas not in RAM");
    },
  });
  const w = windowOf(transport);
  DriverInit.probeWindow(w);
  DriverInit.beginInitialization(w);
  DriverInit.negotiateFeatures(w, 0n);
  configureQueue0(w);
  w.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  assert.equal(transport.liveQueue(0), null);
  assert.match(transport.needsResetReason, /queue 0 could not be built: areas not in RAM/);
  assert.equal(device.activations, 0);
});

Deno.test("a raiseInterrupt part that throws while the device asks for a reset still leaves DEVICE_NEEDS_RESET set, and says so", () => {
  const device = new FakeDevice();
  const transport = new MmioDeviceTransport(device, {
    memory: new GuestMemory(1 << 20, { base: RAM_BASE }),
    log: new ConformanceLog(),
    parts: {
      raiseInterrupt: () => {
        throw new TypeError("not written yet");
      },
    },
  });
  const w = windowOf(transport);
  DriverInit.probeWindow(w);
  DriverInit.beginInitialization(w);
  DriverInit.negotiateFeatures(w, 0n);
  w.write32(R.VIRTIO_MMIO_STATUS, LIVE);
  // A device model asks from a promise reaction: nothing there could take an error.
  device.host!.needsReset("the backend failed");
  assert.ok(w.read32(R.VIRTIO_MMIO_STATUS) & 0x40, "DEVICE_NEEDS_RESET is set");
  assert.match(
    transport.needsResetReason,
    /^the backend failed; the configuration change notification failed: TypeError: not written yet$/,
  );
  assert.equal(transport.interruptStatus, 0);
});

Deno.test("the driver transport sets queues up with its setupQueue part and the allocation step it was given", async () => {
  const { window, memory, allocator, log } = setup();
  const calls: string[] = [];
  const t = new MmioDriverTransport({
    window,
    memory,
    allocator,
    log,
    parts: {
      setupQueue: (w, a, index, request, allocateAreas) => {
        calls.push(`setupQueue ${index} max ${request.maxSize}`);
        return DriverQueues.setupQueue(w, a, index, request, allocateAreas);
      },
      stopQueue: (w, index, maxPolls) => {
        calls.push(`stopQueue ${index}`);
        DriverQueues.stopQueue(w, index, maxPolls);
      },
    },
    allocateQueueAreas: (
      a,
      size,
    ) => (calls.push(`allocate ${size}`), SplitQueueDriver.allocate(a, size)),
    maxQueueSize: 4,
  });
  await t.initialize({
    name: "q",
    deviceId: FAKE_DEVICE_ID,
    supportedFeatures: 0n,
    probe: (ctx) => void ctx.setupQueue(1, { onUsed() {} }),
  });
  assert.equal(t.queues.get(1)?.size, 4);
  t.deleteQueue(1);
  assert.deepEqual(calls, ["setupQueue 1 max 4", "allocate 4", "stopQueue 1"]);
});

Deno.test("the bus binds drivers with its bindDriver part, and a second probe unroutes the first one's interrupts", async () => {
  const { memory, allocator, log, device } = setup();
  const bus = new MmioBus({ log });
  bus.map(0x1e000, new MmioDeviceTransport(device, { memory, log, name: "fake" }), {
    irq: 42,
    name: "virtio_fake",
  });
  const refusing = new VirtioBus({
    bus,
    memory,
    allocator,
    log,
    coreParts: { bindDriver: () => ({ driver: null, reason: "not today" }) },
  });
  refusing.register({
    deviceId: FAKE_DEVICE_ID,
    name: "echo",
    create: () => ({ name: "echo", deviceId: FAKE_DEVICE_ID, supportedFeatures: 0n, probe() {} }),
  });
  const [found] = await refusing.probeAll();
  assert.equal(found.driver, null);
  assert.equal(found.error, "not today");

  const virtio = new VirtioBus({ bus, memory, allocator, log });
  virtio.register({
    deviceId: FAKE_DEVICE_ID,
    name: "echo",
    create: () => ({ name: "echo", deviceId: FAKE_DEVICE_ID, supportedFeatures: 0n, probe() {} }),
  });
  const [first] = await virtio.probeAll();
  const [second] = await virtio.probeAll();
  assert.equal(second.transport.state, "live");
  device.change(0, 5); // a configuration change interrupt
  await bus.idle();
  assert.equal(second.transport.interrupts, 1);
  assert.equal(
    first.transport.interrupts,
    0,
    "the first probe's transport no longer handles the line",
  );
});
