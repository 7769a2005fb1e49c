// The parts tables of the split ring: their contents, merging replacements,
// the queue classes calling every step through the merged table, and the
// factories that bind a learner's parts for the lab machine.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import {
  mergeParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
  type SplitRingDeviceParts,
  type SplitRingDriverParts,
} from "../../virtqueue/parts.ts";
import * as virtqueue from "../../virtqueue/mod.ts";
import {
  createSplitQueueDriverFactory,
  SplitQueueDriver,
  splitQueueDriverFactory,
} from "../../virtqueue/driver_queue.ts";
import {
  createSplitQueueDeviceFactory,
  SplitQueueDevice,
  splitQueueDeviceFactory,
} from "../../virtqueue/device_queue.ts";
import type { SplitDeviceRing } from "../../virtqueue/device/ring.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../virtqueue/constants.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";

const DRIVER_PART_NAMES = [
  "splitQueueLayout",
  "allocateQueueAreas",
  "addChain",
  "addIndirectChain",
  "placeAvailEntry",
  "publishAvail",
  "needsKick",
  "moreUsed",
  "getBuf",
  "detachChain",
  "updateUsedEvent",
  "disableCallbacks",
  "enableCallbacks",
  "drainUsed",
];
const DEVICE_PART_NAMES = [
  "availableCount",
  "availHead",
  "updateAvailEvent",
  "walkChain",
  "readIndirectTable",
  "pushUsed",
  "needsInterrupt",
  "disableNotifications",
  "enableNotifications",
];

Deno.test("the reference parts tables hold the exported functions, frozen, with unique names", () => {
  assert.deepEqual(Object.keys(REFERENCE_SPLIT_RING_DRIVER_PARTS), DRIVER_PART_NAMES);
  assert.deepEqual(Object.keys(REFERENCE_SPLIT_RING_DEVICE_PARTS), DEVICE_PART_NAMES);
  assert.ok(Object.isFrozen(REFERENCE_SPLIT_RING_DRIVER_PARTS));
  assert.ok(Object.isFrozen(REFERENCE_SPLIT_RING_DEVICE_PARTS));
  const exports = virtqueue as unknown as Record<string, unknown>;
  for (const table of [REFERENCE_SPLIT_RING_DRIVER_PARTS, REFERENCE_SPLIT_RING_DEVICE_PARTS]) {
    for (const [name, part] of Object.entries(table)) {
      assert.equal(exports[name], part, `${name} is exported under its part name`);
      assert.equal(part.name, name);
    }
  }
  const all = [...DRIVER_PART_NAMES, ...DEVICE_PART_NAMES];
  assert.equal(new Set(all).size, all.length, "a part name is unique across both sides");
});

Deno.test("mergeParts keeps the reference for missing or undefined parts and refuses mistakes", () => {
  const publishAvail = () => 0;
  const merged = mergeParts(REFERENCE_SPLIT_RING_DRIVER_PARTS, { publishAvail, getBuf: undefined });
  assert.equal(merged.publishAvail, publishAvail);
  assert.equal(merged.getBuf, REFERENCE_SPLIT_RING_DRIVER_PARTS.getBuf);
  assert.ok(Object.isFrozen(merged));
  assert.deepEqual(Object.keys(merged), DRIVER_PART_NAMES);
  assert.equal(
    mergeParts(REFERENCE_SPLIT_RING_DEVICE_PARTS).walkChain,
    REFERENCE_SPLIT_RING_DEVICE_PARTS.walkChain,
  );
  assert.throws(
    () =>
      mergeParts(
        REFERENCE_SPLIT_RING_DRIVER_PARTS,
        { addchain: () => 0 } as Partial<SplitRingDriverParts>,
      ),
    /No part is called addchain/,
  );
  assert.throws(
    () =>
      mergeParts(
        REFERENCE_SPLIT_RING_DEVICE_PARTS,
        { pushUsed: 42 } as unknown as Partial<SplitRingDeviceParts>,
      ),
    /Part pushUsed is a number, not a function/,
  );
});

/** Wraps every reference part so that each call is counted by name. */
function counting<P extends object>(
  reference: P,
): { parts: Partial<P>; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const parts: Record<string, unknown> = {};
  for (const [name, part] of Object.entries(reference)) {
    const fn = part as (...args: unknown[]) => unknown;
    parts[name] = (...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return fn(...args);
    };
  }
  return { parts: parts as Partial<P>, calls };
}

Deno.test("SplitQueueDriver and SplitQueueDevice do every step through their parts table", () => {
  for (const eventIdx of [false, true]) {
    const memory = new GuestMemory(1 << 20);
    const allocator = new GuestAllocator(memory);
    const log = new ConformanceLog();
    const drv = counting(REFERENCE_SPLIT_RING_DRIVER_PARTS);
    const dev = counting(REFERENCE_SPLIT_RING_DEVICE_PARTS);
    const common = { memory, index: 0, size: 8, eventIdx, indirect: true };
    const driver = SplitQueueDriver.create<string>({
      ...common,
      allocator,
      reporter: log.scoped("driver"),
      parts: drv.parts,
    });
    const device = new SplitQueueDevice(
      { ...common, ...driver.addresses, reporter: log.scoped("device") },
      () => {},
      { parts: dev.parts },
    );
    const b = (len: number): BufferSegment => ({ addr: allocator.alloc(len), len });
    driver.add([b(16)], [b(512), b(1)], "indirect");
    driver.add([b(4)], [], "direct");
    driver.kickPrepare();
    device.disableNotifications();
    assert.equal(device.hasAvailable(), true);
    const chains: DescriptorChain[] = [];
    for (let c = device.pop(); c !== null; c = device.pop()) chains.push(c);
    assert.equal(device.enableNotifications(), false);
    for (const c of chains) device.push(c.head, c.writableLength);
    assert.equal(device.needsInterrupt(), true);
    driver.disableCallbacks();
    assert.equal(driver.enableCallbacks(), false, "entries are waiting");
    assert.equal(driver.hasUsed(), true);
    assert.deepEqual(driver.getBuf(), { token: "indirect", len: 513 });
    assert.deepEqual(driver.getBuf(), { token: "direct", len: 0 });
    const drained: string[] = [];
    driver.drainUsed((used) => void drained.push(used.token));
    assert.deepEqual(drained, [], "nothing was left to reap");
    driver.add([b(4)], [], "never used");
    assert.deepEqual(driver.detach(), ["never used"]);
    assert.equal(log.entries.length, 0, log.format());

    const expectedDriver = DRIVER_PART_NAMES.filter((n) => eventIdx || n !== "updateUsedEvent");
    const expectedDevice = DEVICE_PART_NAMES.filter((n) => eventIdx || n !== "updateAvailEvent");
    assert.deepEqual(
      [...drv.calls.keys()].sort(),
      [...expectedDriver].sort(),
      `event idx ${eventIdx}`,
    );
    assert.deepEqual(
      [...dev.calls.keys()].sort(),
      [...expectedDevice].sort(),
      `event idx ${eventIdx}`,
    );
    assert.equal(drv.calls.get("addChain"), 2);
    assert.equal(drv.calls.get("addIndirectChain"), 1);
    assert.equal(drv.calls.get("placeAvailEntry"), 3);
    assert.equal(drv.calls.get("detachChain"), 3, "two reaped, one detached");
    assert.equal(dev.calls.get("walkChain"), 2);
    assert.equal(dev.calls.get("readIndirectTable"), 1, "only for the chain that ends in a table");
    assert.equal(dev.calls.get("pushUsed"), 2);
  }
});

Deno.test("a replaced part runs instead of the reference one", () => {
  const memory = new GuestMemory(1 << 16);
  const allocator = new GuestAllocator(memory);
  const common = { memory, index: 0, size: 4, eventIdx: false, indirect: false };
  // A learner's needsKick that never kicks: the queue follows it.
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: new ConformanceLog().scoped("q"),
    parts: { needsKick: () => false },
  });
  driver.add([{ addr: allocator.alloc(8), len: 8 }], [], 1);
  assert.equal(driver.kickPrepare(), false);
  assert.equal(
    memory.readU16(driver.addresses.availAddr + 2),
    1,
    "the reference publishAvail still ran",
  );
});

Deno.test("the factories bind parts; the exported factory constants are the reference queues", () => {
  const memory = new GuestMemory(1 << 16);
  const allocator = new GuestAllocator(memory);
  const areas = SplitQueueDriver.allocate(allocator, 4);
  const config = {
    memory,
    index: 2,
    size: 4,
    eventIdx: false,
    indirect: false,
    reporter: new ConformanceLog().scoped("q"),
    ...areas,
  };
  const needsInterrupt = () => false;
  const device = createSplitQueueDeviceFactory({ needsInterrupt })(config, () => {});
  assert.ok(device instanceof SplitQueueDevice);
  assert.equal(device.parts.needsInterrupt, needsInterrupt);
  const reference = splitQueueDeviceFactory(config, () => {}) as SplitQueueDevice;
  assert.deepEqual(reference.parts, REFERENCE_SPLIT_RING_DEVICE_PARTS);

  const moreUsed = () => true;
  const driver = createSplitQueueDriverFactory({ moreUsed })<string>({ ...config, allocator });
  assert.ok(driver instanceof SplitQueueDriver);
  assert.equal(driver.hasUsed(), true, "the learner's moreUsed answers");
  assert.equal(driver.index, 2);
  const plain = splitQueueDriverFactory<string>({ ...config, allocator }) as SplitQueueDriver<
    string
  >;
  assert.equal(plain.hasUsed(), false);
  assert.deepEqual(plain.parts, REFERENCE_SPLIT_RING_DRIVER_PARTS);
});

Deno.test("SplitQueueDriver.create allocates through the allocateQueueAreas and splitQueueLayout parts", () => {
  const memory = new GuestMemory(1 << 16);
  const allocator = new GuestAllocator(memory);
  const seen: string[] = [];
  const driver = SplitQueueDriver.create({
    memory,
    allocator,
    index: 0,
    size: 16,
    eventIdx: true,
    indirect: false,
    reporter: new ConformanceLog().scoped("q"),
    parts: {
      splitQueueLayout: (size, eventIdx) => {
        seen.push(`layout ${size} ${eventIdx}`);
        return REFERENCE_SPLIT_RING_DRIVER_PARTS.splitQueueLayout(size, eventIdx);
      },
      allocateQueueAreas: (a, size, layout) => {
        seen.push(`allocate ${size}`);
        return REFERENCE_SPLIT_RING_DRIVER_PARTS.allocateQueueAreas(a, size, layout);
      },
    },
  });
  assert.deepEqual(seen, ["allocate 16", "layout 16 true"]);
  assert.equal(allocator.count, 3);
  driver.free();
  assert.equal(allocator.count, 0);
});

/**
 * A chain walker as a learner writes it before indirect tables are taught:
 * it follows NEXT, sorts buffers by WRITE, and stops at an indirect
 * descriptor after noting it, without knowing what a table holds. (No
 * validation: this is about the composition, not about the rules.)
 */
function directOnlyWalker(ring: SplitDeviceRing, head: number): DescriptorChain | null {
  const readable: BufferSegment[] = [];
  const writable: BufferSegment[] = [];
  let i = head;
  let count = 0;
  for (;;) {
    count++;
    const at = ring.descAddr + 16 * i;
    const addr = ring.memory.readU64Number(at);
    const len = ring.memory.readU32(at + 8);
    const flags = ring.memory.readU16(at + 12);
    const next = ring.memory.readU16(at + 14);
    if (flags & VIRTQ_DESC_F_INDIRECT) {
      Object.assign(ring.indirectDesc, { index: i, addr, len, flags });
      return chainOf(head, readable, writable, count, true);
    }
    (flags & VIRTQ_DESC_F_WRITE ? writable : readable).push({ addr, len });
    if (!(flags & VIRTQ_DESC_F_NEXT)) return chainOf(head, readable, writable, count, false);
    i = next;
  }
}

function chainOf(
  head: number,
  readable: BufferSegment[],
  writable: BufferSegment[],
  descriptorCount: number,
  indirect: boolean,
): DescriptorChain {
  const sum = (s: BufferSegment[]) => s.reduce((t, x) => t + x.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount,
    indirect,
  };
}

Deno.test("a walker that knows nothing of indirect tables runs with the reference readIndirectTable", () => {
  const memory = new GuestMemory(1 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: 8, eventIdx: false, indirect: true };
  const driver = SplitQueueDriver.create<string>({
    ...common,
    allocator,
    reporter: log.scoped("d"),
  });
  const device = new SplitQueueDevice(
    { ...common, ...driver.addresses, reporter: log.scoped("v") },
    () => {},
    { parts: { walkChain: directOnlyWalker } },
  );
  const header = { addr: allocator.alloc(16), len: 16 };
  const data = { addr: allocator.alloc(4096), len: 4096 };
  const status = { addr: allocator.alloc(1), len: 1 };
  driver.add([header], [data, status], "through a table", { indirect: "always" });
  driver.add([header], [status], "direct", { indirect: "never" });
  driver.kickPrepare();
  const viaTable = device.pop()!;
  assert.deepEqual(viaTable.readable, [header]);
  assert.deepEqual(viaTable.writable, [data, status]);
  assert.equal(viaTable.indirect, true);
  assert.equal(viaTable.descriptorCount, 4);
  const direct = device.pop()!;
  assert.deepEqual(direct.writable, [status]);
  assert.equal(direct.indirect, false);
  assert.equal(log.entries.length, 0, log.format());
});
