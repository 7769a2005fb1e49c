// Tests for virtqueue/packed/: both halves of the packed ring against each
// other (round trips across the wrap, out-of-order completion, chained and
// indirect buffers, event suppression with and without event idx, the
// store order that exposes a list), and what each class refuses.

import assert from "node:assert/strict";
import { GuestMemory } from "../../../memory/guest_memory.ts";
import { GuestAllocator } from "../../../memory/allocator.ts";
import { ConformanceLog } from "../../../conformance/log.ts";
import {
  allocatePackedQueueAreas,
  formatPackedRing,
  isValidPackedQueueSize,
  PackedQueueDevice,
  PackedQueueDriver,
  PackedQueueSizeError,
  PVIRTQ_DESC_FLAGS,
  PVIRTQ_DESC_SIZE,
  RING_EVENT_FLAGS_DESC,
  RING_EVENT_FLAGS_DISABLE,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../virtqueue/packed/mod.ts";
import { VirtqueueChainError, VirtqueueFullError } from "../../../virtqueue/types.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_WRITE } from "../../../virtqueue/constants.ts";

interface Pair {
  memory: GuestMemory;
  allocator: GuestAllocator;
  log: ConformanceLog;
  driver: PackedQueueDriver<string>;
  device: PackedQueueDevice;
  broken: string[];
}

function pair(
  size: number,
  options: { eventIdx?: boolean; indirect?: boolean; memory?: GuestMemory } = {},
): Pair {
  const memory = options.memory ?? new GuestMemory(1 << 20);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = {
    memory,
    index: 0,
    size,
    eventIdx: options.eventIdx ?? false,
    indirect: options.indirect ?? false,
  };
  const driver = PackedQueueDriver.create<string>({
    ...common,
    allocator,
    reporter: log.scoped("driver"),
  });
  const broken: string[] = [];
  const device = new PackedQueueDevice(
    { ...common, ...driver.addresses, reporter: log.scoped("device") },
    (v) => broken.push(v.id),
  );
  return { memory, allocator, log, driver, device, broken };
}

function ids(log: ConformanceLog): string[] {
  return log.entries.map((e) => e.id);
}

Deno.test("packed queue sizes: any integer from 1 to 32768, power of two or not", () => {
  assert.equal(isValidPackedQueueSize(1), true);
  assert.equal(isValidPackedQueueSize(100), true);
  assert.equal(isValidPackedQueueSize(32768), true);
  assert.equal(isValidPackedQueueSize(0), false);
  assert.equal(isValidPackedQueueSize(32769), false);
  assert.equal(isValidPackedQueueSize(2.5), false);
  const allocator = new GuestAllocator(new GuestMemory(1 << 16));
  assert.throws(() => allocatePackedQueueAreas(allocator, 0), PackedQueueSizeError);
  const areas = allocatePackedQueueAreas(allocator, 100);
  assert.equal(allocator.sizeOf(areas.descAddr), 1600);
  assert.equal(areas.descAddr % 16, 0);
  assert.equal(areas.availAddr % 4, 0);
  assert.equal(areas.usedAddr % 4, 0);
});

Deno.test("round trips cross the wrap many times on a ring of 5 (not a power of two)", () => {
  const { driver, device, allocator, log, memory } = pair(5);
  const buf = allocator.alloc(64);
  for (let i = 0; i < 40; i++) {
    // Lists of 1, 2 and 3 descriptors, so wraps fall inside lists too.
    const n = 1 + (i % 3);
    const writable = Array.from({ length: n }, (_, k) => ({ addr: buf + 8 * k, len: 8 }));
    driver.add([], writable, `r${i}`);
    assert.equal(driver.kickPrepare(), true);
    const chain = device.pop();
    assert.ok(chain, `pop ${i}`);
    assert.equal(chain.writable.length, n);
    assert.equal(chain.writableLength, 8 * n);
    device.push(chain.head, 8 * n - 1);
    assert.equal(device.needsInterrupt(), true);
    assert.deepEqual(driver.getBuf(), { token: `r${i}`, len: 8 * n - 1 });
    assert.equal(driver.numFree, 5);
  }
  assert.deepEqual(ids(log), []);
  // 40 lists of 1+2+3 descriptors: 80 slots, 16 laps of 5, both sides agree.
  assert.equal(driver.ring.nextAvail, device.ring.nextAvail);
  assert.equal(driver.ring.availWrap, device.ring.availWrap);
  assert.equal(device.ring.nextUsed, driver.ring.nextUsed);
  assert.match(formatPackedRing(driver.ring), /packed queue 0 \(driver\), size 5/);
  void memory;
});

Deno.test("out-of-order completion: the used descriptor goes at nextUsed, ids tell buffers apart", () => {
  const { driver, device, allocator, log } = pair(8);
  const a = allocator.alloc(4096);
  driver.add([{ addr: a, len: 16 }], [{ addr: a + 16, len: 512 }, { addr: a + 528, len: 1 }], "A");
  driver.add([{ addr: a + 1024, len: 16 }], [{ addr: a + 1040, len: 1 }], "B");
  driver.kickPrepare();
  const first = device.pop()!;
  const firstId = first.head;
  const second = device.pop()!;
  assert.equal(device.pop(), null);
  assert.notEqual(firstId, second.head);
  // B completes first: its used descriptor overwrites A's first slot.
  device.push(second.head, 1);
  device.push(firstId, 513);
  assert.deepEqual(driver.getBuf(), { token: "B", len: 1 });
  assert.deepEqual(driver.getBuf(), { token: "A", len: 513 });
  assert.equal(driver.getBuf(), null);
  assert.equal(driver.numFree, 8);
  // The next buffer goes after both lists (slots 0-4 were taken): at 5.
  assert.equal(driver.ring.nextAvail, 5);
  assert.equal(driver.ring.nextUsed, 5);
  assert.deepEqual(ids(log), []);
});

Deno.test("a full ring refuses a list it has no room for, and takes it once slots come back", () => {
  const { driver, device, allocator } = pair(4);
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }, { addr: b + 16, len: 8 }], "three");
  assert.throws(
    () => driver.add([], [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }], "two"),
    VirtqueueFullError,
  );
  driver.add([], [{ addr: b + 32, len: 8 }], "one");
  assert.equal(driver.numFree, 0);
  device.push(device.pop()!.head, 0);
  assert.deepEqual(driver.getBuf(), { token: "three", len: 0 });
  driver.add([], [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }], "two");
  assert.equal(driver.inFlight, 2);
});

Deno.test("the driver refuses lists the spec forbids before writing anything", () => {
  const { driver, allocator, memory } = pair(4);
  const b = allocator.alloc(64);
  const five = Array.from({ length: 5 }, (_, i) => ({ addr: b + i, len: 1 }));
  assert.throws(() => driver.add([], five, "x"), (e: VirtqueueChainError) => e.rule === "2.8.17/2");
  assert.throws(
    () => driver.add([], [{ addr: memory.end, len: 8 }], "x"),
    (e: VirtqueueChainError) => e.rule === "2.8.4/D1",
  );
  assert.throws(() => driver.add([], [], "x"), VirtqueueChainError);
  assert.throws(
    () => driver.add([], [{ addr: b, len: 1 }], "x", { indirect: "always" }),
    (e: VirtqueueChainError) => e.rule === "2.8.19/1",
  );
  assert.equal(driver.numFree, 4);
  assert.equal(memory.readU16(driver.addresses.descAddr + PVIRTQ_DESC_FLAGS), 0);
});

Deno.test("the first descriptor's flags are the list's last store (2.8.21.1.1/1, 2.8.17/6)", () => {
  const memory = new GuestMemory(1 << 16);
  const stores: number[] = [];
  const observed = new Proxy(memory, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && prop.startsWith("write")) {
        return (addr: number, v: unknown) => {
          stores.push(addr);
          return value.call(target, addr, v);
        };
      }
      return value.bind(target);
    },
  }) as GuestMemory;
  const { driver, allocator } = pair(4, { memory: observed });
  const b = allocator.alloc(64);
  stores.length = 0;
  driver.add([{ addr: b, len: 16 }], [{ addr: b + 16, len: 8 }, { addr: b + 24, len: 1 }], "x");
  const head = driver.addresses.descAddr + PVIRTQ_DESC_FLAGS;
  assert.equal(stores.at(-1), head);
  assert.equal(stores.filter((a) => a === head).length, 1);
});

Deno.test("indirect buffers take one slot; the table is freed when the buffer comes back", () => {
  const { driver, device, allocator, log, memory } = pair(4, { indirect: true });
  const b = allocator.alloc(64);
  const before = allocator.count;
  driver.add([{ addr: b, len: 16 }], [{ addr: b + 16, len: 32 }, { addr: b + 48, len: 1 }], "ind");
  assert.equal(driver.numFree, 3);
  const descFlags = memory.readU16(driver.addresses.descAddr + PVIRTQ_DESC_FLAGS);
  assert.ok(descFlags & VIRTQ_DESC_F_INDIRECT);
  driver.kickPrepare();
  const chain = device.pop()!;
  assert.equal(chain.indirect, true);
  assert.equal(chain.descriptorCount, 3);
  assert.deepEqual(chain.writable.map((s) => s.len), [32, 1]);
  device.push(chain.head, 33);
  assert.deepEqual(driver.getBuf(), { token: "ind", len: 33 });
  assert.equal(driver.numFree, 4);
  assert.equal(allocator.count, before);
  assert.deepEqual(ids(log), []);
});

Deno.test("event suppression without event idx: DISABLE silences both directions", () => {
  const { driver, device, allocator } = pair(4);
  const b = allocator.alloc(64);
  device.disableNotifications();
  driver.add([], [{ addr: b, len: 8 }], "a");
  assert.equal(driver.kickPrepare(), false);
  assert.equal(device.enableNotifications(), true); // "a" arrived while they were off
  driver.disableCallbacks();
  device.push(device.pop()!.head, 8);
  assert.equal(device.needsInterrupt(), false);
  assert.equal(driver.enableCallbacks(), false); // a used buffer waits
  assert.equal(driver.getBuf()?.token, "a");
  assert.equal(driver.enableCallbacks(), true);
  driver.add([], [{ addr: b, len: 8 }], "b");
  assert.equal(driver.kickPrepare(), true);
  device.push(device.pop()!.head, 8);
  assert.equal(device.needsInterrupt(), true);
  assert.equal(device.needsInterrupt(), false); // consumed
});

Deno.test("event idx: a notification only for the descriptor asked for, across the wrap", () => {
  const { driver, device, allocator, memory, log } = pair(4, { eventIdx: true });
  const b = allocator.alloc(64);
  device.enableNotifications(); // desc_event = position 0, wrap 1
  assert.equal(
    memory.readU16(driver.addresses.usedAddr + 2),
    RING_EVENT_FLAGS_DESC,
  );
  driver.enableCallbacks(); // driver event = position 0, wrap 1
  let kicks = 0;
  let interrupts = 0;
  for (let i = 0; i < 11; i++) {
    driver.add([], [{ addr: b, len: 8 }], `t${i}`);
    if (driver.kickPrepare()) kicks++;
    // The device pops only when kicked or when it polls; here it polls every time.
    const chain = device.pop()!;
    device.push(chain.head, 8);
    if (device.needsInterrupt()) interrupts++;
    assert.equal(driver.getBuf()?.token, `t${i}`);
  }
  // Each pop moves the device's event to the next slot, each reap the driver's:
  // every single buffer is asked for, on both sides, through three wraps.
  assert.equal(kicks, 11);
  assert.equal(interrupts, 11);
  // Asking for a slot two ahead: the next buffer does not notify, the second does.
  const off = (driver.ring.nextUsed + 1) % 4;
  const wrap = driver.ring.nextUsed + 1 >= 4 ? driver.ring.usedWrap ^ 1 : driver.ring.usedWrap;
  memory.writeU16(driver.addresses.availAddr, off | (wrap << 15));
  driver.add([], [{ addr: b, len: 8 }], "x");
  driver.add([], [{ addr: b, len: 8 }], "y");
  device.push(device.pop()!.head, 8);
  assert.equal(device.needsInterrupt(), false);
  device.push(device.pop()!.head, 8);
  assert.equal(device.needsInterrupt(), true);
  assert.deepEqual(ids(log), []);
});

Deno.test("a device asking for no available buffer notifications in DESC mode without event idx is reported", () => {
  const { driver, allocator, memory, log } = pair(4);
  const b = allocator.alloc(64);
  memory.writeU16(driver.addresses.usedAddr + 2, RING_EVENT_FLAGS_DESC);
  driver.add([], [{ addr: b, len: 8 }], "a");
  assert.equal(driver.kickPrepare(), true);
  assert.deepEqual(ids(log), ["2.8.14/D2"]);
  memory.writeU16(driver.addresses.usedAddr + 2, RING_EVENT_FLAGS_DISABLE);
  driver.add([], [{ addr: b, len: 8 }], "b");
  assert.equal(driver.kickPrepare(), false);
});

Deno.test("the driver breaks the queue on a used descriptor naming no buffer in flight (2.8.22/D1)", () => {
  const { driver, allocator, memory, log } = pair(4);
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }], "a");
  const d = driver.addresses.descAddr;
  memory.writeU16(d + 12, 3); // id 3 was never made available
  memory.writeU16(d + PVIRTQ_DESC_FLAGS, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
  assert.equal(driver.getBuf(), null);
  assert.deepEqual(ids(log), ["2.8.22/D1"]);
  assert.ok(driver.broken);
});

Deno.test("the driver breaks the queue on a used len above the writable bytes (2.8.4/D2)", () => {
  const { driver, allocator, memory, log } = pair(4);
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }], "a");
  const d = driver.addresses.descAddr;
  memory.writeU32(d + 8, 9);
  memory.writeU16(
    d + PVIRTQ_DESC_FLAGS,
    VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED | VIRTQ_DESC_F_WRITE,
  );
  assert.equal(driver.getBuf(), null);
  assert.deepEqual(ids(log), ["2.8.4/D2"]);
});

Deno.test("a used len without VIRTQ_DESC_F_WRITE is reserved and read as 0", () => {
  const { driver, allocator, memory, log } = pair(4);
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }], "a");
  const d = driver.addresses.descAddr;
  memory.writeU32(d + 8, 0xffff_ffff);
  memory.writeU16(d + PVIRTQ_DESC_FLAGS, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
  assert.deepEqual(driver.getBuf(), { token: "a", len: 0 });
  assert.deepEqual(ids(log), []);
});

Deno.test("detach hands back what never came back and frees tables; free releases the areas", () => {
  const { driver, allocator } = pair(4, { indirect: true });
  const used = allocator.count;
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }, { addr: b + 8, len: 8 }], "ind");
  driver.add([], [{ addr: b, len: 8 }], "direct");
  assert.deepEqual(driver.detach().sort(), ["direct", "ind"]);
  assert.equal(driver.numFree, 4);
  allocator.free(b);
  driver.free();
  assert.ok(allocator.count < used);
  assert.throws(() => driver.add([], [{ addr: b, len: 8 }], "late"), Error);
});

Deno.test("the device refuses a push of a Buffer ID it does not hold, or a len too large", () => {
  const { driver, device, allocator } = pair(4);
  const b = allocator.alloc(64);
  driver.add([], [{ addr: b, len: 8 }], "a");
  const chain = device.pop()!;
  assert.throws(() => device.push(chain.head + 1, 0), RangeError);
  assert.throws(() => device.push(chain.head, 9), RangeError);
  device.push(chain.head, 8);
  assert.throws(() => device.push(chain.head, 8), RangeError);
});

Deno.test("used descriptors carry VIRTQ_DESC_F_WRITE exactly when they report bytes (2.8.3/D1)", () => {
  const { driver, device, allocator, memory } = pair(4);
  const b = allocator.alloc(64);
  driver.add([{ addr: b, len: 8 }], [], "out");
  driver.add([], [{ addr: b, len: 8 }], "in");
  device.push(device.pop()!.head, 0);
  device.push(device.pop()!.head, 5);
  const d = driver.addresses.descAddr;
  assert.equal(memory.readU16(d + PVIRTQ_DESC_FLAGS) & VIRTQ_DESC_F_WRITE, 0);
  assert.equal(
    memory.readU16(d + PVIRTQ_DESC_SIZE + PVIRTQ_DESC_FLAGS) & VIRTQ_DESC_F_WRITE,
    VIRTQ_DESC_F_WRITE,
  );
});
