import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator, GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { ConformanceError, ConformanceLog } from "../../conformance/log.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from "../../virtqueue/constants.ts";
import {
  SplitQueueDriver,
  splitQueueDriverFactory,
  VirtqueueChainError,
} from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import { availRingSize, QueueSizeError, usedRingSize } from "../../virtqueue/layout.ts";
import {
  type BufferSegment,
  VirtqueueBrokenError,
  VirtqueueFullError,
} from "../../virtqueue/types.ts";

const BASE = 0x4000_0000;
const RAM = 1 << 20;
const NEXT = VIRTQ_DESC_F_NEXT;
const WRITE = VIRTQ_DESC_F_WRITE;
const INDIRECT = VIRTQ_DESC_F_INDIRECT;

interface RigOptions {
  size?: number;
  eventIdx?: boolean;
  indirect?: boolean;
  strict?: boolean;
}

/**
 * A driver queue with the test playing the device: it reads the descriptors
 * and writes used entries byte by byte, so it can break any device rule.
 */
class Rig {
  readonly memory = new GuestMemory(RAM, { base: BASE });
  readonly allocator = new GuestAllocator(this.memory);
  readonly log: ConformanceLog;
  readonly driver: SplitQueueDriver<string>;
  readonly size: number;
  usedIdx = 0;

  constructor(options: RigOptions = {}) {
    this.size = options.size ?? 8;
    this.log = new ConformanceLog({ strict: options.strict ?? false });
    this.driver = SplitQueueDriver.create<string>({
      memory: this.memory,
      allocator: this.allocator,
      index: 0,
      size: this.size,
      eventIdx: options.eventIdx ?? false,
      indirect: options.indirect ?? false,
      reporter: this.log.scoped("test queue 0"),
    });
  }

  get desc(): number {
    return this.driver.addresses.descAddr;
  }
  get avail(): number {
    return this.driver.addresses.availAddr;
  }
  get used(): number {
    return this.driver.addresses.usedAddr;
  }

  /** A data buffer of `len` bytes. */
  buf(len: number): BufferSegment {
    return { addr: this.allocator.alloc(len, 8), len };
  }

  readDesc(i: number, table = this.desc) {
    const at = table + 16 * i;
    return {
      addr: this.memory.readU64Number(at),
      len: this.memory.readU32(at + 8),
      flags: this.memory.readU16(at + 12),
      next: this.memory.readU16(at + 14),
    };
  }

  availIdx(): number {
    return this.memory.readU16(this.avail + 2);
  }

  availEntry(i: number): number {
    return this.memory.readU16(this.avail + 4 + 2 * (i % this.size));
  }

  usedEvent(): number {
    return this.memory.readU16(this.avail + 4 + 2 * this.size);
  }

  setAvailEvent(v: number): void {
    this.memory.writeU16(this.used + 4 + 8 * this.size, v);
  }

  /** Writes a used element and advances the used idx, as a device would. */
  complete(id: number, len: number): void {
    const at = this.used + 4 + 8 * (this.usedIdx % this.size);
    this.memory.writeU32(at, id);
    this.memory.writeU32(at + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.memory.writeU16(this.used + 2, this.usedIdx);
  }

  /** Completes the chain whose head the driver put at available ring position `i`. */
  completeAvail(i: number, len: number): void {
    this.complete(this.availEntry(i), len);
  }
}

// ---------------------------------------------------------------------------
// Allocation and construction

Deno.test("allocate gives aligned, zeroed parts sized with the event fields", () => {
  const memory = new GuestMemory(RAM, { base: BASE });
  memory.fill(BASE, RAM, 0xff); // dirty RAM: zeroing must be explicit
  const allocator = new GuestAllocator(memory);
  allocator.alloc(3, 1); // knock the next free address off alignment
  for (const size of [1, 2, 64, 256]) {
    const a = SplitQueueDriver.allocate(allocator, size);
    assert.equal(a.descAddr % 16, 0);
    assert.equal(a.availAddr % 2, 0);
    assert.equal(a.usedAddr % 4, 0);
    assert.equal(allocator.sizeOf(a.descAddr), 16 * size);
    assert.equal(allocator.sizeOf(a.availAddr), availRingSize(size, true));
    assert.equal(allocator.sizeOf(a.usedAddr), usedRingSize(size, true));
    assert.ok(memory.bytes(a.descAddr, 16 * size).every((b) => b === 0));
    assert.ok(memory.bytes(a.availAddr, availRingSize(size)).every((b) => b === 0));
    assert.ok(memory.bytes(a.usedAddr, usedRingSize(size)).every((b) => b === 0));
  }
  assert.throws(() => SplitQueueDriver.allocate(allocator, 5), QueueSizeError);
});

Deno.test("allocate frees what it got when a later part does not fit", () => {
  const memory = new GuestMemory(0x1800, { base: BASE });
  const allocator = new GuestAllocator(memory);
  // 256 entries: 4096 + 518 bytes fit in 6 KiB, the 2054-byte used ring does not.
  assert.throws(() => SplitQueueDriver.allocate(allocator, 256), GuestOutOfMemoryError);
  assert.equal(allocator.count, 0);
  assert.equal(allocator.used, 0);
});

Deno.test("the driver initializes the used ring flags to 0 (2.7.10.1/1) and the ring headers", () => {
  for (const eventIdx of [false, true]) {
    const memory = new GuestMemory(0x4000, { base: BASE });
    memory.fill(BASE, 0x4000, 0xa5);
    const driver = new SplitQueueDriver({
      memory,
      index: 1,
      size: 16,
      eventIdx,
      indirect: false,
      reporter: new ConformanceLog().scoped("test queue 0"),
      descAddr: BASE,
      availAddr: BASE + 0x1000,
      usedAddr: BASE + 0x2000,
    });
    assert.equal(memory.readU16(BASE + 0x2000), 0, "used flags");
    assert.equal(memory.readU16(BASE + 0x2002), 0, "used idx");
    assert.equal(memory.readU16(BASE + 0x1000), 0, "avail flags");
    assert.equal(memory.readU16(BASE + 0x1002), 0, "avail idx");
    assert.equal(memory.readU16(BASE + 0x1000 + 4 + 32), eventIdx ? 0 : 0xa5a5, "used_event");
    assert.equal(driver.numFree, 16);
    assert.equal(driver.index, 1);
  }
});

Deno.test("the constructor refuses bad sizes, misaligned parts (2.7.1/1) and parts outside RAM", () => {
  const memory = new GuestMemory(0x4000, { base: BASE });
  const config = {
    memory,
    index: 0,
    size: 16,
    eventIdx: true,
    indirect: false,
    reporter: new ConformanceLog().scoped("test queue 0"),
    descAddr: BASE,
    availAddr: BASE + 0x1000,
    usedAddr: BASE + 0x2000,
  };
  assert.throws(() => new SplitQueueDriver({ ...config, size: 24 }), QueueSizeError);
  assert.throws(() => new SplitQueueDriver({ ...config, descAddr: BASE + 8 }), /aligned to 16/);
  assert.throws(
    () => new SplitQueueDriver({ ...config, availAddr: BASE + 0x1001 }),
    /aligned to 2/,
  );
  assert.throws(() => new SplitQueueDriver({ ...config, usedAddr: BASE + 0x2002 }), /aligned to 4/);
  assert.throws(
    () => new SplitQueueDriver({ ...config, usedAddr: BASE + 0x4000 - 0x80 }),
    /not inside guest RAM/,
  );
  const noAllocator = splitQueueDriverFactory<number>({ ...config, indirect: true });
  assert.ok(noAllocator instanceof SplitQueueDriver);
  const b = { addr: BASE + 0x3000, len: 8 };
  assert.throws(() => noAllocator.add([b], [b], 1, { indirect: "always" }), TypeError);
  noAllocator.add([b], [b], 2); // "auto" without an allocator stays direct
  assert.equal(noAllocator.numFree, 14);
  // create() gives its parts back when the queue cannot be built over them.
  const other = new GuestAllocator(new GuestMemory(0x4000, { base: 0 }));
  assert.throws(
    () => SplitQueueDriver.create({ ...config, allocator: other }),
    /not inside guest RAM/,
  );
  assert.equal(other.count, 0);
});

// ---------------------------------------------------------------------------
// Adding and publishing

Deno.test("add writes readable then writable descriptors and the ring slot, not idx", () => {
  const r = new Rig();
  const h = r.buf(16);
  const d = r.buf(512);
  const s = r.buf(1);
  r.driver.add([h], [d, s], "req");
  assert.equal(r.driver.numFree, 5);
  assert.equal(r.driver.inFlight, 1);
  assert.equal(r.availIdx(), 0, "not visible before kickPrepare");
  const head = r.availEntry(0);
  const d0 = r.readDesc(head);
  assert.deepEqual(d0, { addr: h.addr, len: 16, flags: NEXT, next: d0.next });
  const d1 = r.readDesc(d0.next);
  assert.deepEqual(d1, { addr: d.addr, len: 512, flags: WRITE | NEXT, next: d1.next });
  assert.deepEqual(r.readDesc(d1.next), { addr: s.addr, len: 1, flags: WRITE, next: 0 });
  assert.equal(new Set([head, d0.next, d1.next]).size, 3);
  assert.equal(r.driver.kickPrepare(), true);
  assert.equal(r.availIdx(), 1);
  assert.equal(r.driver.availIdx, 1);
});

Deno.test("kickPrepare without event idx follows VIRTQ_USED_F_NO_NOTIFY (2.7.10.1/2)", () => {
  const r = new Rig({ eventIdx: false });
  assert.equal(r.driver.kickPrepare(), false, "nothing added");
  r.driver.add([r.buf(8)], [], "a");
  r.driver.add([r.buf(8)], [], "b");
  assert.equal(r.driver.kickPrepare(), true);
  assert.equal(r.availIdx(), 2);
  r.memory.writeU16(r.used, VIRTQ_USED_F_NO_NOTIFY);
  r.driver.add([r.buf(8)], [], "c");
  assert.equal(r.driver.kickPrepare(), false);
  assert.equal(r.availIdx(), 3, "published even when not notifying");
  // avail_event is ignored without event idx.
  r.memory.writeU16(r.used, 0);
  r.setAvailEvent(100);
  r.driver.add([r.buf(8)], [], "d");
  assert.equal(r.driver.kickPrepare(), true);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("kickPrepare with event idx follows avail_event and ignores flags (2.7.10.1/3)", () => {
  const r = new Rig({ eventIdx: true, size: 8 });
  r.memory.writeU16(r.used, VIRTQ_USED_F_NO_NOTIFY); // must be ignored (and is a device error)
  r.setAvailEvent(0);
  r.driver.add([r.buf(8)], [], "0");
  assert.equal(r.driver.kickPrepare(), true, "entry 0 is the one asked for");
  r.setAvailEvent(3);
  r.driver.add([r.buf(8)], [], "1");
  assert.equal(r.driver.kickPrepare(), false);
  r.driver.add([r.buf(8)], [], "2");
  r.driver.add([r.buf(8)], [], "3");
  assert.equal(r.driver.kickPrepare(), true, "entries 2 and 3 published together, 3 asked for");
  r.setAvailEvent(1);
  r.driver.add([r.buf(8)], [], "4");
  assert.equal(r.driver.kickPrepare(), false, "avail_event already behind");
});

Deno.test("kickPrepare with event idx across the 16-bit wrap of the available idx", () => {
  const r = new Rig({ eventIdx: true, size: 4 });
  const b = r.buf(8);
  r.setAvailEvent(0x8000);
  for (let k = 0; k < 0xfffe; k++) {
    r.driver.add([b], [], "x");
    r.driver.kickPrepare();
    r.completeAvail(k, 0);
    assert.ok(r.driver.getBuf());
  }
  assert.equal(r.driver.availIdx, 0xfffe);
  r.setAvailEvent(0xffff);
  r.driver.add([b], [], "y");
  assert.equal(r.driver.kickPrepare(), false, "entry 0xfffe");
  r.driver.add([b], [], "z");
  r.driver.add([b], [], "w");
  assert.equal(r.driver.kickPrepare(), true, "entries 0xffff and 0: crossed 0xffff");
  assert.equal(r.availIdx(), 1);
  r.setAvailEvent(1);
  r.driver.add([b], [], "v");
  assert.equal(r.driver.kickPrepare(), true, "entry 1 after the wrap");
  assert.equal(r.log.find({ role: "device" }).length, 0);
});

// ---------------------------------------------------------------------------
// Reaping

Deno.test("getBuf returns the token and len, frees the descriptors and moves used_event", () => {
  const r = new Rig({ eventIdx: true });
  r.driver.add([r.buf(16)], [r.buf(100)], "first");
  r.driver.add([], [r.buf(50)], "second");
  r.driver.kickPrepare();
  assert.equal(r.driver.getBuf(), null);
  assert.equal(r.driver.hasUsed(), false);
  r.completeAvail(1, 50);
  r.completeAvail(0, 7);
  assert.equal(r.driver.hasUsed(), true);
  assert.deepEqual(r.driver.getBuf(), { token: "second", len: 50 });
  assert.equal(r.usedEvent(), 1);
  assert.deepEqual(r.driver.getBuf(), { token: "first", len: 7 });
  assert.equal(r.usedEvent(), 2);
  assert.equal(r.driver.getBuf(), null);
  assert.equal(r.driver.numFree, 8);
  assert.equal(r.driver.inFlight, 0);
  assert.equal(r.driver.lastUsedIdx, 2);
  assert.equal(r.log.entries.length, 0);
});

interface DeviceBug {
  name: string;
  id: string;
  options?: RigOptions;
  act: (r: Rig) => void;
}

const DEVICE_BUGS: DeviceBug[] = [
  {
    name: "used id beyond the queue size",
    id: "2.7.8/D1",
    act: (r) => r.complete(r.size, 0),
  },
  {
    name: "used id of a descriptor inside a chain, not its head",
    id: "2.7.8/D1",
    act: (r) => r.complete(r.readDesc(r.availEntry(0)).next, 0),
  },
  {
    name: "used id of a chain already returned",
    id: "2.7.8/D1",
    act: (r) => {
      r.driver.add([r.buf(8)], [], "still outstanding");
      r.driver.kickPrepare();
      r.completeAvail(0, 0);
      assert.ok(r.driver.getBuf());
      r.completeAvail(0, 0);
    },
  },
  {
    name: "used id of a chain added but not published",
    id: "2.7.8/D1",
    act: (r) => {
      r.driver.add([r.buf(8)], [], "hidden");
      r.completeAvail(1, 0);
    },
  },
  {
    name: "used idx beyond the chains outstanding",
    id: "2.7.8/D2",
    act: (r) => {
      r.completeAvail(0, 0);
      r.usedIdx = 2;
      r.memory.writeU16(r.used + 2, 2);
    },
  },
  {
    name: "used idx moved backwards",
    id: "2.7.8/D2",
    act: (r) => r.memory.writeU16(r.used + 2, 0xffff),
  },
  {
    name: "used len larger than the writable bytes",
    id: "2.7.8.2/2",
    act: (r) => r.completeAvail(0, 65),
  },
];

for (const bug of DEVICE_BUGS) {
  Deno.test(`driver reports ${bug.id} (${bug.name}) and breaks the queue`, () => {
    const r = new Rig(bug.options);
    r.driver.add([r.buf(16)], [r.buf(64)], "victim");
    r.driver.kickPrepare();
    const reaped = r.log.entries.length;
    bug.act(r);
    assert.equal(r.driver.getBuf(), null); // no throw
    assert.equal(r.log.entries.length, reaped + 1, r.log.format());
    const v = r.log.entries.at(-1)!;
    assert.equal(v.id, bug.id);
    assert.equal(v.role, "device");
    assert.equal(v.source, "test queue 0");
    assert.equal(r.driver.broken, v);
    assert.equal(r.driver.getBuf(), null);
    assert.equal(r.driver.hasUsed(), false);
    assert.equal(r.driver.kickPrepare(), false);
    assert.equal(r.driver.enableCallbacks(), true);
    assert.throws(
      () => r.driver.add([r.buf(8)], [], "after"),
      (e: unknown) => e instanceof VirtqueueBrokenError && e.violation === v,
    );
    assert.equal(r.log.entries.length, reaped + 1);
  });

  Deno.test(`driver in strict mode throws ConformanceError for ${bug.id} (${bug.name})`, () => {
    const r = new Rig({ ...bug.options, strict: true });
    r.driver.add([r.buf(16)], [r.buf(64)], "victim");
    r.driver.kickPrepare();
    bug.act(r);
    assert.throws(
      () => r.driver.getBuf(),
      (e: unknown) => e instanceof ConformanceError && e.violation.id === bug.id,
    );
    assert.equal(r.driver.broken?.id, bug.id);
    assert.equal(r.driver.getBuf(), null);
    assert.throws(() => r.driver.add([r.buf(8)], [], "after"), VirtqueueBrokenError);
  });
}

Deno.test("used ring flags other than 0/1 without event idx are logged, not fatal (2.7.10.2/1)", () => {
  const r = new Rig({ eventIdx: false });
  r.driver.add([r.buf(8)], [], "a");
  r.driver.add([r.buf(8)], [], "b");
  r.driver.kickPrepare();
  r.memory.writeU16(r.used, 0x6);
  r.completeAvail(0, 0);
  r.completeAvail(1, 0);
  assert.equal(r.driver.getBuf()?.token, "a");
  assert.equal(r.driver.getBuf()?.token, "b");
  assert.equal(r.log.find("2.7.10.2/1").length, 1, "once for the same value");
  assert.equal(r.log.entries.length, 1);
  assert.deepEqual(r.log.entries[0].values, { flags: 6 });
  assert.equal(r.driver.broken, null);
  // Bit 0 still counts: 0x7 includes NO_NOTIFY.
  r.memory.writeU16(r.used, 0x7);
  r.driver.add([r.buf(8)], [], "c");
  assert.equal(r.driver.kickPrepare(), false);
  assert.equal(r.log.find("2.7.10.2/1").length, 2, "a new bad value is reported");
});

Deno.test("used ring flags nonzero with event idx are logged, not fatal (2.7.10.2/2)", () => {
  const r = new Rig({ eventIdx: true });
  r.driver.add([r.buf(8)], [], "a");
  r.driver.kickPrepare();
  r.memory.writeU16(r.used, VIRTQ_USED_F_NO_NOTIFY);
  r.completeAvail(0, 0);
  assert.equal(r.driver.getBuf()?.token, "a");
  assert.equal(r.log.find("2.7.10.2/2").length, 1);
  assert.equal(r.driver.broken, null);
});

Deno.test("log-only used flags checks throw in strict mode without breaking the queue", () => {
  const r = new Rig({ eventIdx: true, strict: true });
  r.driver.add([r.buf(8)], [], "a");
  r.driver.kickPrepare();
  r.memory.writeU16(r.used, 0x2);
  r.completeAvail(0, 0);
  assert.throws(
    () => r.driver.getBuf(),
    (e: unknown) => e instanceof ConformanceError && e.violation.id === "2.7.10.2/2",
  );
  assert.equal(r.driver.broken, null);
  r.memory.writeU16(r.used, 0);
  assert.equal(r.driver.getBuf()?.token, "a", "the entry is still there to reap");
});

Deno.test("the driver never trusts its descriptors in guest memory when reaping", () => {
  const r = new Rig({ size: 8, indirect: true });
  r.driver.add([r.buf(16)], [r.buf(64), r.buf(1)], "direct", { indirect: "never" });
  r.driver.add([r.buf(16)], [r.buf(64)], "table", { indirect: "always" });
  r.driver.kickPrepare();
  const heads = [r.availEntry(0), r.availEntry(1)];
  const tablesBefore = r.allocator.count;
  // A hostile device scribbles over the descriptor table and the available ring.
  r.memory.fill(r.desc, 16 * r.size, 0xff);
  r.memory.fill(r.avail, 4 + 2 * r.size, 0x07);
  r.complete(heads[1], 10);
  r.complete(heads[0], 65);
  assert.deepEqual(r.driver.getBuf(), { token: "table", len: 10 });
  assert.deepEqual(r.driver.getBuf(), { token: "direct", len: 65 });
  assert.equal(r.driver.numFree, 8);
  assert.equal(r.allocator.count, tablesBefore - 1, "the indirect table was freed");
  assert.equal(r.log.entries.length, 0);
  // The free list is intact: eight one-descriptor chains fit and get distinct heads.
  for (let k = 0; k < 8; k++) r.driver.add([r.buf(4)], [], `again ${k}`);
  r.driver.kickPrepare();
  const again = new Set(Array.from({ length: 8 }, (_, k) => r.availEntry(2 + k)));
  assert.equal(again.size, 8);
  assert.throws(() => r.driver.add([r.buf(4)], [], "one too many"), VirtqueueFullError);
});

// ---------------------------------------------------------------------------
// Indirect tables

Deno.test("indirect auto: 2+ buffers go through a 16-byte aligned table, 1 buffer does not", () => {
  const r = new Rig({ indirect: true });
  const h = r.buf(16);
  const d = r.buf(4096);
  const s = r.buf(1);
  const before = r.allocator.count;
  r.driver.add([h], [d, s], "blk");
  assert.equal(r.driver.numFree, 7, "one descriptor for the whole chain");
  assert.equal(r.allocator.count, before + 1);
  const head = r.availEntry(0);
  const ptr = r.readDesc(head);
  assert.equal(ptr.flags, INDIRECT, "no NEXT, no WRITE on the pointer");
  assert.equal(ptr.len, 48);
  assert.equal(ptr.addr % 16, 0);
  assert.deepEqual(r.readDesc(0, ptr.addr), { addr: h.addr, len: 16, flags: NEXT, next: 1 });
  assert.deepEqual(r.readDesc(1, ptr.addr), {
    addr: d.addr,
    len: 4096,
    flags: WRITE | NEXT,
    next: 2,
  });
  assert.deepEqual(r.readDesc(2, ptr.addr), { addr: s.addr, len: 1, flags: WRITE, next: 0 });

  r.driver.add([r.buf(8)], [], "single");
  assert.equal(r.readDesc(r.availEntry(1)).flags, 0, "a single buffer stays direct");
  r.driver.add([r.buf(8)], [r.buf(8)], "never", { indirect: "never" });
  assert.equal(r.readDesc(r.availEntry(2)).flags, NEXT);
  r.driver.add([], [r.buf(8)], "always", { indirect: "always" });
  assert.equal(r.readDesc(r.availEntry(3)).flags, INDIRECT);
  assert.equal(r.readDesc(r.availEntry(3)).len, 16);
  assert.equal(r.driver.numFree, 3);

  // The reference device reads the same chains back.
  const device = new SplitQueueDevice({
    ...r.driver.addresses,
    memory: r.memory,
    index: 0,
    size: r.size,
    eventIdx: false,
    indirect: true,
    reporter: r.log.scoped("device"),
  });
  r.driver.kickPrepare();
  const chain = device.pop()!;
  assert.deepEqual(chain.readable, [h]);
  assert.deepEqual(chain.writable, [d, s]);
  assert.equal(chain.indirect, true);
  device.push(chain.head, 4097);
  const live = r.allocator.count;
  assert.equal(r.allocator.sizeOf(ptr.addr), 48);
  assert.deepEqual(r.driver.getBuf(), { token: "blk", len: 4097 });
  assert.equal(r.allocator.count, live - 1, "the table was freed on reap");
  assert.equal(r.allocator.sizeOf(ptr.addr), undefined);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("indirect auto falls back to direct descriptors when no table can be allocated", () => {
  const r = new Rig({ indirect: true });
  const a = r.buf(8);
  const b = r.buf(8);
  // Exhaust the allocator.
  while (true) {
    try {
      r.allocator.alloc(16, 16);
    } catch {
      break;
    }
  }
  r.driver.add([a], [b], "fallback");
  assert.equal(r.driver.numFree, 6);
  assert.equal(r.readDesc(r.availEntry(0)).flags, NEXT);
  assert.throws(() => r.driver.add([a], [b], "x", { indirect: "always" }), GuestOutOfMemoryError);
  assert.equal(r.driver.numFree, 6);
});

Deno.test("indirect tables are refused when the feature was not negotiated (2.7.5.3.1/1)", () => {
  const r = new Rig({ indirect: false });
  const err = assertChainError(
    () => r.driver.add([r.buf(8)], [r.buf(8)], "x", { indirect: "always" }),
    "2.7.5.3.1/1",
  );
  assert.equal(err.segment, -1);
  r.driver.add([r.buf(8)], [r.buf(8)], "auto stays direct");
  assert.equal(r.driver.numFree, 6);
});

// ---------------------------------------------------------------------------
// Refused chains

function assertChainError(fn: () => void, rule: string | null): VirtqueueChainError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof VirtqueueChainError, String(e));
    assert.equal(e.rule, rule);
    return e;
  }
  assert.fail("expected a VirtqueueChainError");
}

Deno.test("add refuses chains that would break a rule, and leaves the queue untouched", () => {
  const r = new Rig({ size: 4 });
  const ok = r.buf(8);
  assertChainError(() => r.driver.add([], [], "empty"), null);
  assert.equal(
    assertChainError(() => r.driver.add([ok], [{ addr: ok.addr, len: 0 }], "zero"), "2.7.5/D3")
      .segment,
    1,
  );
  assertChainError(() => r.driver.add([{ addr: ok.addr, len: 1.5 }], [], "fraction"), null);
  assertChainError(() => r.driver.add([{ addr: ok.addr, len: 2 ** 32 }], [], "too long"), null);
  assert.equal(
    assertChainError(
      () => r.driver.add([ok], [{ addr: BASE + RAM - 4, len: 8 }], "outside"),
      "2.7.5/D2",
    ).segment,
    1,
  );
  assertChainError(
    () =>
      r.driver.add(
        [{ addr: BASE, len: 0xffff_ffff }],
        [{ addr: BASE, len: 0xffff_ffff }],
        "over 2^32",
      ),
    "2.7.5.2/1",
  );
  assertChainError(() => r.driver.add([ok, ok, ok], [ok, ok], "5 > 4"), "2.7.5.3.1/3");
  assert.equal(r.driver.numFree, 4);
  assert.equal(r.driver.inFlight, 0);
  assert.equal(r.driver.kickPrepare(), false);
});

Deno.test("add throws VirtqueueFullError when descriptors run out", () => {
  const r = new Rig({ size: 4 });
  const b = r.buf(8);
  r.driver.add([b, b], [b], "three");
  try {
    r.driver.add([b], [b], "two");
    assert.fail("expected VirtqueueFullError");
  } catch (e) {
    assert.ok(e instanceof VirtqueueFullError);
    assert.equal(e.needed, 2);
    assert.equal(e.free, 1);
  }
  r.driver.add([b], [], "one");
  assert.equal(r.driver.numFree, 0);
  assert.throws(() => r.driver.add([b], [], "none"), VirtqueueFullError);
});

// ---------------------------------------------------------------------------
// Callbacks, detach, free

Deno.test("disable/enableCallbacks without event idx toggle VIRTQ_AVAIL_F_NO_INTERRUPT", () => {
  const r = new Rig({ eventIdx: false });
  r.driver.disableCallbacks();
  assert.equal(r.memory.readU16(r.avail), VIRTQ_AVAIL_F_NO_INTERRUPT);
  assert.equal(r.driver.enableCallbacks(), true);
  assert.equal(r.memory.readU16(r.avail), 0);
  r.driver.add([r.buf(8)], [], "a");
  r.driver.kickPrepare();
  r.driver.disableCallbacks();
  r.completeAvail(0, 0);
  assert.equal(r.driver.enableCallbacks(), false, "an entry arrived meanwhile");
  assert.equal(r.driver.getBuf()?.token, "a");
  assert.equal(r.driver.enableCallbacks(), true);
});

Deno.test("disable/enableCallbacks with event idx move used_event and keep flags 0 (2.7.7.1/2)", () => {
  const r = new Rig({ eventIdx: true, size: 4 });
  for (const t of ["a", "b"]) r.driver.add([r.buf(8)], [], t);
  r.driver.kickPrepare();
  r.completeAvail(0, 0);
  r.driver.getBuf();
  assert.equal(r.usedEvent(), 1);
  r.driver.disableCallbacks();
  assert.equal(r.memory.readU16(r.avail), 0, "flags stay 0 with event idx");
  assert.equal(r.usedEvent(), 0, "just behind the next entry");
  r.completeAvail(1, 0);
  r.driver.getBuf();
  assert.equal(r.usedEvent(), 0, "not moved while callbacks are off");
  assert.equal(r.driver.enableCallbacks(), true);
  assert.equal(r.usedEvent(), 2);
  assert.equal(r.memory.readU16(r.avail), 0);
});

Deno.test("detach returns the tokens of unreaped chains and frees everything; free releases the parts", () => {
  const r = new Rig({ indirect: true });
  const baseline = r.allocator.count;
  const b = r.buf(8);
  r.driver.add([b], [b], "published 1");
  r.driver.add([b], [], "published 2");
  r.driver.kickPrepare();
  r.driver.add([b], [b], "not published");
  r.completeAvail(1, 0);
  assert.equal(r.driver.getBuf()?.token, "published 2");
  const tokens = r.driver.detach();
  assert.deepEqual(tokens.sort(), ["not published", "published 1"]);
  assert.equal(r.driver.numFree, 8);
  assert.equal(r.driver.inFlight, 0);
  assert.equal(r.allocator.count, baseline + 1, "indirect tables freed; the data buffer stays");
  assert.deepEqual(r.driver.detach(), []);

  r.driver.add([b], [b], "dropped by free");
  r.driver.free();
  assert.equal(r.allocator.count, baseline + 1 - 3, "the three parts went back");
  assert.throws(() => r.driver.add([b], [], "after free"), /freed/);
  assert.equal(r.driver.getBuf(), null);
  r.driver.free(); // twice is harmless
});
