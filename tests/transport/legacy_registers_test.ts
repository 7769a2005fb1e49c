// The legacy (Version 1) register file of §4.2.4: its two parts on their own,
// then MmioDeviceTransport built with version 1, with the driver breaking
// each legacy rule on purpose.
import assert from "node:assert/strict";
import { ids, RAM_BASE, windowOf } from "./_harness.ts";
import { FakeDevice } from "./_fake_device.ts";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { MmioDeviceTransport } from "../../transport/mmio_device.ts";
import * as R from "../../transport/mmio_registers.ts";
import {
  INITIAL_LEGACY_QUEUE_REGISTERS,
  LEGACY_DEFAULT_QUEUE_ALIGN,
  type LegacyQueueRegisters,
  legacyQueueView,
  nextLegacyDeviceStatus,
  writeLegacyQueueRegister,
} from "../../transport/legacy_registers.ts";
import { join64, queueAreaProblem } from "../../transport/queue_registers.ts";
import { vringLayout } from "../../virtqueue/layout.ts";
import {
  features,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE as ACK,
  VIRTIO_CONFIG_S_DRIVER as DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK as DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED as FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK as FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET as NEEDS_RESET,
} from "../../virtio/status.ts";

const PAGE = 4096;
const RAM = { base: RAM_BASE, size: 1 << 20 };
const write = (
  offset: number,
  value: number,
  over: Partial<{ max: number; page: number }> = {},
) => ({
  queue: 0,
  offset,
  value,
  max: over.max ?? 256,
  guestPageSize: over.page ?? PAGE,
});
const areaCheck = (r: Parameters<typeof queueAreaProblem>[0]) =>
  queueAreaProblem(r, { queue: 0, max: 256, ram: RAM, eventIdx: true });
const PFN = RAM_BASE / PAGE + 1; // the second page of RAM

/** Registers after a sequence of writes, each applied to the previous outcome's registers. */
function after(writes: ReturnType<typeof write>[], start = INITIAL_LEGACY_QUEUE_REGISTERS) {
  let registers: LegacyQueueRegisters = start;
  let last: ReturnType<typeof writeLegacyQueueRegister> | null = null;
  for (const w of writes) {
    last = writeLegacyQueueRegister(registers, w, areaCheck);
    registers = last.registers;
  }
  return last!;
}

Deno.test("writeLegacyQueueRegister: QueueNum and QueueAlign are stored, QueuePFN puts the queue in use at QueuePFN × GuestPageSize", () => {
  const outcome = after([
    write(R.VIRTIO_MMIO_QUEUE_NUM, 256),
    write(R.VIRTIO_MMIO_QUEUE_ALIGN, PAGE),
    write(R.VIRTIO_MMIO_QUEUE_PFN, PFN),
  ]);
  assert.deepEqual(outcome.problems, []);
  assert.equal(outcome.enabled, true);
  assert.deepEqual(outcome.registers, { num: 256, align: PAGE, pfn: PFN, base: PFN * PAGE });
  // The view: the legacy layout of §2.7.2, as Linux's vring_init places it.
  const view = legacyQueueView(outcome.registers);
  const layout = vringLayout(256, PAGE);
  assert.equal(view.ready, true);
  assert.equal(Number(join64(view.descLow, view.descHigh)), PFN * PAGE);
  assert.equal(Number(join64(view.driverLow, view.driverHigh)), PFN * PAGE + 256 * 16);
  assert.equal(Number(join64(view.deviceLow, view.deviceHigh)), PFN * PAGE + layout.usedOffset);
  assert.equal(layout.usedOffset, 0x2000, "the used ring starts on the page after the avail ring");
  assert.equal(layout.total, 10246, "vring_size(256, 4096) of linux/virtio_ring.h");
});

Deno.test("writeLegacyQueueRegister refuses a QueuePFN, and keeps the queue out of use, for each rule broken (4.2.4/D1, D2, 2.7/D1, 4.2.2.2/9, 2.7.5/D2)", () => {
  const num = (n: number) => write(R.VIRTIO_MMIO_QUEUE_NUM, n);
  const pfn = (v: number, over = {}) => write(R.VIRTIO_MMIO_QUEUE_PFN, v, over);
  const cases: [string, ReturnType<typeof write>[], string][] = [
    ["no GuestPageSize", [num(8), pfn(PFN, { page: 0 })], "4.2.4/D1"],
    ["GuestPageSize 3000", [num(8), pfn(PFN, { page: 3000 })], "4.2.4/D1"],
    ["QueueAlign 3000", [num(8), write(R.VIRTIO_MMIO_QUEUE_ALIGN, 3000), pfn(PFN)], "4.2.4/D1"],
    ["QueueAlign 2", [num(8), write(R.VIRTIO_MMIO_QUEUE_ALIGN, 2), pfn(PFN)], "4.2.4/D1"],
    ["no QueueNum", [pfn(PFN)], "4.2.4/D2"],
    ["QueueNum 6", [num(6), pfn(PFN)], "2.7/D1"],
    ["QueueNum above QueueNumMax", [num(512), pfn(PFN)], "4.2.2.2/9"],
    ["region past RAM's end", [num(256), pfn((RAM_BASE + RAM.size) / PAGE - 2)], "2.7.5/D2"],
    ["region below RAM", [num(8), pfn(1)], "2.7.5/D2"],
    ["page number beyond 2^53", [num(8), pfn(0xffff_ffff, { page: 1 << 30 })], "2.7.5/D2"],
  ];
  for (const [name, writes, id] of cases) {
    const outcome = after(writes);
    assert.equal(outcome.enabled, false, name);
    assert.equal(outcome.registers.pfn, 0, `${name}: QueuePFN reads 0`);
    assert.deepEqual(outcome.problems.map((p) => p.id), [id], name);
    assert.equal(outcome.problems[0].action, "QueuePFN refused", name);
  }
});

Deno.test("writeLegacyQueueRegister: a region ending on RAM's last byte is accepted, one page further is not", () => {
  const layout = vringLayout(8, PAGE);
  const lastPfn = (RAM_BASE + RAM.size - Math.ceil(layout.total / PAGE) * PAGE) / PAGE;
  const num = write(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  assert.equal(after([num, write(R.VIRTIO_MMIO_QUEUE_PFN, lastPfn)]).enabled, true);
  assert.equal(after([num, write(R.VIRTIO_MMIO_QUEUE_PFN, lastPfn + 1)]).enabled, false);
});

Deno.test("writeLegacyQueueRegister: nothing changes while the queue is in use (4.2.4/D3), and QueuePFN 0 stops it", () => {
  const live = after([write(R.VIRTIO_MMIO_QUEUE_NUM, 8), write(R.VIRTIO_MMIO_QUEUE_PFN, PFN)]);
  assert.equal(live.enabled, true);
  for (
    const [offset, value] of [
      [R.VIRTIO_MMIO_QUEUE_NUM, 16],
      [R.VIRTIO_MMIO_QUEUE_ALIGN, 8192],
      [R.VIRTIO_MMIO_QUEUE_PFN, PFN + 4],
    ]
  ) {
    const outcome = writeLegacyQueueRegister(live.registers, write(offset, value), areaCheck);
    assert.deepEqual(outcome.registers, live.registers);
    assert.deepEqual(outcome.problems.map((p) => p.id), ["4.2.4/D3"]);
    assert.equal(outcome.enabled || outcome.stopped, false);
  }
  const stop = writeLegacyQueueRegister(
    live.registers,
    write(R.VIRTIO_MMIO_QUEUE_PFN, 0),
    areaCheck,
  );
  assert.equal(stop.stopped, true);
  assert.deepEqual(stop.registers, { num: 8, align: LEGACY_DEFAULT_QUEUE_ALIGN, pfn: 0, base: 0 });
  const again = writeLegacyQueueRegister(
    stop.registers,
    write(R.VIRTIO_MMIO_QUEUE_PFN, 0),
    areaCheck,
  );
  assert.deepEqual(
    [again.stopped, again.problems.length],
    [false, 0],
    "0 on a stopped queue does nothing",
  );
  assert.equal(legacyQueueView(stop.registers).ready, false);
});

Deno.test("nextLegacyDeviceStatus: DRIVER_OK without FEATURES_OK activates; FEATURES_OK breaks 4.2.4/D4 and is not kept", () => {
  assert.deepEqual(nextLegacyDeviceStatus(ACK | DRIVER, ACK | DRIVER | DRIVER_OK), {
    status: ACK | DRIVER | DRIVER_OK,
    reset: false,
    negotiate: false,
    activate: true,
    violations: [],
  });
  const featuresOk = nextLegacyDeviceStatus(ACK | DRIVER, ACK | DRIVER | FEATURES_OK);
  assert.deepEqual(featuresOk.violations.map((v) => v.id), ["4.2.4/D4"]);
  assert.equal(featuresOk.status, ACK | DRIVER, "a legacy device has no FEATURES_OK bit");
  assert.equal(featuresOk.negotiate, false);
  assert.equal(nextLegacyDeviceStatus(ACK | DRIVER, 0).reset, true);
  assert.deepEqual(nextLegacyDeviceStatus(ACK | DRIVER, ACK).violations.map((v) => v.id), [
    "2.1.1/2",
  ]);
  assert.deepEqual(nextLegacyDeviceStatus(ACK, ACK | DRIVER_OK).violations.map((v) => v.id), [
    "3.1.1/1",
  ]);
  const afterFailed = nextLegacyDeviceStatus(ACK | FAILED, ACK | FAILED | DRIVER);
  assert.deepEqual(afterFailed.violations.map((v) => v.id), ["2.1.1/3"]);
  assert.equal(
    nextLegacyDeviceStatus(ACK | DRIVER | FAILED, ACK | DRIVER | FAILED | DRIVER_OK).activate,
    false,
  );
  // DEVICE_NEEDS_RESET is the device's bit: kept, never taken from the driver.
  assert.equal(
    nextLegacyDeviceStatus(ACK | NEEDS_RESET, ACK | DRIVER).status,
    ACK | DRIVER | NEEDS_RESET,
  );
});

/** A legacy register file on the fake device, probed. */
function legacyDevice(device = new FakeDevice(), strict = false) {
  const memory = new GuestMemory(1 << 20, { base: RAM_BASE });
  const log = new ConformanceLog({ strict });
  const transport = new MmioDeviceTransport(device, { memory, log, name: "fake", version: 1 });
  const w = windowOf(transport);
  w.read32(R.VIRTIO_MMIO_MAGIC_VALUE);
  w.read32(R.VIRTIO_MMIO_VERSION);
  return { memory, log, transport, w, device };
}

/** The legacy bring-up by hand, queue 0 at the second page of RAM. */
function bringUp(w: ReturnType<typeof windowOf>, accepted: number) {
  w.write32(R.VIRTIO_MMIO_STATUS, 0);
  w.write32(R.VIRTIO_MMIO_STATUS, ACK);
  w.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER);
  w.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  w.read32(R.VIRTIO_MMIO_DEVICE_FEATURES);
  w.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  w.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, accepted);
  w.write32(R.VIRTIO_MMIO_GUEST_PAGE_SIZE, PAGE);
  w.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  w.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  w.write32(R.VIRTIO_MMIO_QUEUE_ALIGN, PAGE);
  w.write32(R.VIRTIO_MMIO_QUEUE_PFN, PFN);
  w.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | DRIVER_OK);
}

Deno.test("a Version 1 register file: Version reads 1, the modern-only registers are refused (4.2.2.2/1)", () => {
  const { transport, w, log } = legacyDevice();
  assert.equal(w.read32(R.VIRTIO_MMIO_VERSION), 1);
  assert.equal(transport.version, 1);
  for (
    const offset of [
      R.VIRTIO_MMIO_QUEUE_READY,
      R.VIRTIO_MMIO_CONFIG_GENERATION,
      R.VIRTIO_MMIO_SHM_LEN_LOW,
    ]
  ) {
    assert.equal(w.read32(offset), 0);
  }
  w.write32(R.VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_BASE);
  w.write32(R.VIRTIO_MMIO_QUEUE_READY, 1);
  assert.deepEqual(ids(log), Array(5).fill("4.2.2.2/1"));
  assert.ok(log.entries.some((v) => /not a register of the version 1 layout/.test(v.message)));
});

Deno.test("a legacy device offers 32 feature bits, never VIRTIO_F_VERSION_1 (4.2.4/D5)", () => {
  const { w } = legacyDevice(
    new FakeDevice(features(VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, 40)),
  );
  w.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert.equal(w.read32(R.VIRTIO_MMIO_DEVICE_FEATURES), (1 << 28 | 1 << 29) >>> 0);
  w.write32(R.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  assert.equal(w.read32(R.VIRTIO_MMIO_DEVICE_FEATURES), 0);
});

Deno.test("legacy bring-up: no FEATURES_OK, the queue goes live at DRIVER_OK with the features written", () => {
  const { transport, w, log, device } = legacyDevice(undefined, true);
  bringUp(w, 1 << VIRTIO_F_EVENT_IDX);
  assert.equal(w.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER | DRIVER_OK);
  assert.equal(transport.active, true);
  assert.equal(device.activations, 1);
  assert.equal(transport.negotiatedFeatures, 1n << BigInt(VIRTIO_F_EVENT_IDX));
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_PFN), PFN, "QueuePFN reads the page in use (4.2.4/D6)");
  const live = transport.liveQueue(0);
  assert.ok(live, "queue 0 is live");
  assert.equal(transport.inspect().queues[0].desc, PFN * PAGE);
  assert.equal(log.entries.length, 0);
  // A device reset clears every QueuePFN (4.2.4/D6) and keeps GuestPageSize.
  w.write32(R.VIRTIO_MMIO_STATUS, 0);
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_PFN), 0);
  assert.equal(transport.liveQueue(0), null);
  assert.equal(transport.guestPageSize, PAGE);
});

Deno.test("QueuePFN 0 stops a live legacy queue; QueueNumMax read while in use breaks 4.2.4/D3", () => {
  const { transport, w, log } = legacyDevice();
  bringUp(w, 0);
  assert.ok(transport.liveQueue(0));
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX), 8, "answered all the same");
  assert.deepEqual(ids(log), ["4.2.4/D3"]);
  w.write32(R.VIRTIO_MMIO_QUEUE_PFN, 0);
  assert.equal(transport.liveQueue(0), null);
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_PFN), 0);
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_NUM_MAX), 8);
  assert.deepEqual(ids(log), ["4.2.4/D3"], "not in use any more: no report");
});

Deno.test("a legacy driver that sets FEATURES_OK, or writes feature word 1, breaks 4.2.4/D4", () => {
  const { w, log, transport } = legacyDevice();
  w.write32(R.VIRTIO_MMIO_STATUS, ACK);
  w.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER);
  w.write32(R.VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  w.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1); // VIRTIO_F_VERSION_1, as a modern driver would
  w.write32(R.VIRTIO_MMIO_STATUS, ACK | DRIVER | FEATURES_OK);
  assert.deepEqual(ids(log), ["4.2.4/D4", "4.2.4/D4"]);
  assert.equal(w.read32(R.VIRTIO_MMIO_STATUS), ACK | DRIVER, "FEATURES_OK is not kept");
  assert.equal(transport.inspect().driverFeatures, 0n, "word 1 was ignored");
});

Deno.test("features written after DRIVER_OK are ignored (4.2.4/D4): they became final at DRIVER_OK", () => {
  const { w, log, transport } = legacyDevice();
  bringUp(w, 1 << VIRTIO_F_EVENT_IDX);
  w.write32(R.VIRTIO_MMIO_DRIVER_FEATURES, 1 << VIRTIO_F_INDIRECT_DESC);
  assert.deepEqual(ids(log), ["4.2.4/D4"]);
  assert.equal(transport.negotiatedFeatures, 1n << BigInt(VIRTIO_F_EVENT_IDX));
});

Deno.test("a feature never offered, accepted by a legacy driver, is caught at DRIVER_OK (2.2.1/1): the device needs a reset", () => {
  const { w, log, transport, device } = legacyDevice();
  bringUp(w, 1 << 6); // FAKE_F_NOT_OFFERED
  assert.deepEqual(ids(log), ["2.2.1/1"]);
  assert.equal(transport.active, false);
  assert.equal(device.activations, 0);
  assert.ok(w.read32(R.VIRTIO_MMIO_STATUS) & NEEDS_RESET);
});

Deno.test("a QueuePFN written before GuestPageSize is refused by the register file (4.2.4/D1)", () => {
  const { w, log } = legacyDevice();
  w.write32(R.VIRTIO_MMIO_QUEUE_SEL, 0);
  w.write32(R.VIRTIO_MMIO_QUEUE_NUM, 8);
  w.write32(R.VIRTIO_MMIO_QUEUE_PFN, PFN);
  assert.equal(w.read32(R.VIRTIO_MMIO_QUEUE_PFN), 0);
  assert.deepEqual(ids(log), ["4.2.4/D1"]);
});
