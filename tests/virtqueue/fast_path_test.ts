/**
 * The fused fast paths (`virtqueue/driver/fast_path.ts`,
 * `virtqueue/device/fast_path.ts`) change speed, never behaviour: random
 * operations, hostile ones from both sides included, run on a queue pair
 * that takes the fused steps and on one whose parts are forwarding copies of
 * the reference parts (so it never does), and after every step the two agree
 * on guest memory byte for byte, on every result and error, on the
 * conformance log and on the rings' state.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import {
  forwardingParts,
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../../virtqueue/parts.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";
import { usedEventOffset } from "../../virtqueue/layout.ts";

const BASE = 0x2000_0000;
const RAM = 0x2_0000;

/** A memory subclass: the same bytes, but the queues must not bypass its accessors. */
class ObservedMemory extends GuestMemory {
  stores = 0;
  override writeU16(address: number, value: number): void {
    this.stores++;
    super.writeU16(address, value);
  }
}

interface Universe {
  memory: GuestMemory;
  log: ConformanceLog;
  driver: SplitQueueDriver<number>;
  device: SplitQueueDevice;
  data: number;
  popped: DescriptorChain[];
}

interface Setup {
  size: number;
  eventIdx: boolean;
  indirect: boolean;
  startIdx: number;
}

function universe(setup: Setup, fused: boolean): Universe {
  const memory = new GuestMemory(RAM, { base: BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: setup.size, eventIdx: setup.eventIdx };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    indirect: setup.indirect,
    allocator,
    reporter: log.scoped("driver"),
    startIdx: setup.startIdx,
    parts: fused ? undefined : forwardingParts(REFERENCE_SPLIT_RING_DRIVER_PARTS),
  });
  const device = new SplitQueueDevice(
    { ...common, indirect: setup.indirect, ...driver.addresses, reporter: log.scoped("device") },
    () => {},
    {
      startIdx: setup.startIdx,
      parts: fused ? undefined : forwardingParts(REFERENCE_SPLIT_RING_DEVICE_PARTS),
    },
  );
  const data = allocator.alloc(0x4000, 16);
  return { memory, log, driver, device, data, popped: [] };
}

type Op =
  | { t: "add"; segs: { off: number; len: number; w: boolean }[]; policy: number }
  | { t: "addOutside" }
  | { t: "kick" }
  | { t: "pop" }
  | { t: "push"; pick: number; lenPick: number; bad: boolean }
  | { t: "needsInterrupt" }
  | { t: "getBuf" }
  | { t: "callbacks"; on: boolean }
  | { t: "notifications"; on: boolean }
  | { t: "driverPoke"; where: number; value: number }
  | { t: "devicePoke"; where: number; value: number };

const segArb = fc.record({
  off: fc.nat(0x4000 - 0x200),
  len: fc.oneof(
    { weight: 30, arbitrary: fc.integer({ min: 1, max: 0x200 }) },
    { weight: 1, arbitrary: fc.constant(0) },
  ),
  w: fc.boolean(),
});

/** Operations; `hostile` adds the peers' pokes at the rings. */
const opsArb = (hostile: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant("add" as const),
        segs: fc.oneof(
          { weight: 4, arbitrary: fc.array(segArb, { minLength: 1, maxLength: 1 }) },
          { weight: 1, arbitrary: fc.array(segArb, { minLength: 0, maxLength: 4 }) },
        ),
        policy: fc.nat(3),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ t: "addOutside" as const }) },
    { weight: 6, arbitrary: fc.constant({ t: "kick" as const }) },
    { weight: 6, arbitrary: fc.constant({ t: "pop" as const }) },
    {
      weight: 6,
      arbitrary: fc.record({
        t: fc.constant("push" as const),
        pick: fc.nat(7),
        lenPick: fc.nat(),
        bad: fc.nat(9).map((n) => n === 0),
      }),
    },
    { weight: 4, arbitrary: fc.constant({ t: "needsInterrupt" as const }) },
    { weight: 6, arbitrary: fc.constant({ t: "getBuf" as const }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("callbacks" as const), on: fc.boolean() }) },
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant("notifications" as const), on: fc.boolean() }),
    },
    {
      weight: hostile ? 1 : 0,
      arbitrary: fc.record({
        t: fc.constant("driverPoke" as const),
        where: fc.nat(),
        value: fc.oneof(fc.nat(0xffff), fc.constant(0), fc.constant(1), fc.constant(3)),
      }),
    },
    {
      weight: hostile ? 1 : 0,
      arbitrary: fc.record({
        t: fc.constant("devicePoke" as const),
        where: fc.nat(),
        value: fc.oneof(fc.nat(0xffff), fc.constant(0), fc.constant(1)),
      }),
    },
  );

/** Runs `f`, turning a throw into a comparable value. */
function outcome(f: () => unknown): unknown {
  try {
    const value = f();
    return { value: snapshotValue(value) };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

function snapshotValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  const c = value as DescriptorChain;
  if ("head" in c && "readable" in c) {
    return {
      head: c.head,
      readable: c.readable.map((s) => [s.addr, s.len]),
      writable: c.writable.map((s) => [s.addr, s.len]),
      readableLength: c.readableLength,
      writableLength: c.writableLength,
      descriptorCount: c.descriptorCount,
      indirect: c.indirect,
    };
  }
  return JSON.parse(JSON.stringify(value));
}

/** Applies one operation; returns what it produced, for comparison. */
function apply(u: Universe, op: Op, setup: Setup): unknown {
  const { driver, device, memory } = u;
  switch (op.t) {
    case "add": {
      const readable: BufferSegment[] = [];
      const writable: BufferSegment[] = [];
      for (const s of op.segs) {
        (s.w ? writable : readable).push({ addr: u.data + s.off, len: s.len });
      }
      const policy = [undefined, { indirect: "auto" as const }, { indirect: "never" as const }, {
        indirect: "always" as const,
      }][op.policy];
      return outcome(() => driver.add(readable, writable, 7, policy));
    }
    case "addOutside":
      return outcome(() => driver.add([], [{ addr: BASE + RAM - 8, len: 16 }], 8));
    case "kick":
      return outcome(() => driver.kickPrepare());
    case "pop":
      return outcome(() => {
        const chain = device.pop();
        if (chain !== null) u.popped.push(chain);
        return chain;
      });
    case "push": {
      if (u.popped.length === 0) return "nothing popped";
      const k = op.pick % u.popped.length;
      const chain = u.popped[k];
      const len = op.bad ? chain.writableLength + 1 : op.lenPick % (chain.writableLength + 1);
      const head = chain.head;
      const result = outcome(() => device.push(head, len));
      u.popped.splice(k, 1);
      return result;
    }
    case "needsInterrupt":
      return outcome(() => device.needsInterrupt());
    case "getBuf":
      return outcome(() => driver.getBuf());
    case "callbacks":
      return outcome(() => op.on ? driver.enableCallbacks() : driver.disableCallbacks());
    case "notifications":
      return outcome(() => op.on ? device.enableNotifications() : device.disableNotifications());
    case "driverPoke": {
      // A hostile driver: the available ring's flags, idx, a slot, used_event,
      // or a field of a descriptor.
      const { descAddr, availAddr } = driver.addresses;
      const n = setup.size;
      const targets = [
        availAddr,
        availAddr + 2,
        availAddr + 4 + 2 * (op.where % n),
        availAddr + usedEventOffset(n),
        descAddr + 16 * (op.where % n) + 12,
        descAddr + 16 * (op.where % n) + 14,
        descAddr + 16 * (op.where % n) + 8,
        descAddr + 16 * (op.where % n) + 4,
      ];
      const at = targets[op.where % targets.length];
      if (at === availAddr + usedEventOffset(n) && !setup.eventIdx) return "no used_event";
      memory.writeU16(at, op.value);
      return "poked";
    }
    case "devicePoke": {
      // A hostile device: the used ring's flags, idx, or an element's id or len.
      const { usedAddr } = driver.addresses;
      const n = setup.size;
      const targets = [
        usedAddr,
        usedAddr + 2,
        usedAddr + 4 + 8 * (op.where % n),
        usedAddr + 4 + 8 * (op.where % n) + 4,
      ];
      memory.writeU16(targets[op.where % targets.length], op.value);
      return "poked";
    }
  }
}

function state(u: Universe): unknown {
  const d = u.driver.ring;
  const v = u.device.ring;
  return {
    driver: {
      freeHead: d.freeHead,
      numFree: d.numFree,
      added: d.added,
      availIdx: d.availIdx,
      lastUsed: d.lastUsed,
      published: d.published,
      inFlight: d.inFlight,
      callbacks: d.callbacks,
      broken: d.broken?.id ?? null,
      lastBadUsedFlags: d.lastBadUsedFlags,
      next: [...d.next],
      st: [...d.state],
      count: [...d.count],
      writable: [...d.writable],
      tokens: d.tokens.map((t) => t ?? null),
    },
    device: {
      lastAvail: v.lastAvail,
      usedIdx: v.usedIdx,
      signalledUsed: v.signalledUsed,
      notifications: v.notifications,
      inUse: [...v.inUse],
      writable: [...v.writable],
      inFlight: v.inFlight,
      broken: v.broken?.id ?? null,
      lastBadAvailFlags: v.lastBadAvailFlags,
      stats: u.device.stats,
    },
    log: u.log.entries.map((e) => `${e.id} ${e.message}`),
  };
}

/** The first offset where two byte arrays of one length differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A third of the runs without hostile pokes, so that long healthy runs are common too. */
const opSequenceArb = fc.oneof(
  fc.array(opsArb(false), { minLength: 40, maxLength: 160 }),
  fc.array(opsArb(true), { minLength: 40, maxLength: 160 }),
  fc.array(opsArb(true), { minLength: 40, maxLength: 160 }),
);

const setupArb: fc.Arbitrary<Setup> = fc.record({
  size: fc.constantFrom(1, 2, 4, 8, 16),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
  startIdx: fc.oneof(fc.constant(0), fc.constant(0xfffe), fc.constant(0xfff0), fc.nat(0xffff)),
});

Deno.test("the fused fast paths behave exactly as the reference parts, hostile peers included", () => {
  fc.assert(
    fc.property(setupArb, opSequenceArb, (setup, ops) => {
      const fast = universe(setup, true);
      const slow = universe(setup, false);
      assert.ok(
        fast.driver.fastPath && fast.device.fastPath,
        "the fused queue takes the fast path",
      );
      assert.ok(!slow.driver.fastPath && !slow.device.fastPath, "the forwarding queue does not");
      for (const [step, op] of ops.entries()) {
        const a = apply(fast, op, setup);
        const b = apply(slow, op, setup);
        assert.deepEqual(a, b, `step ${step} (${JSON.stringify(op)}): results differ`);
        assert.deepEqual(state(fast), state(slow), `step ${step} (${op.t}): state differs`);
        const at = firstDifference(fast.memory.bytes(BASE, RAM), slow.memory.bytes(BASE, RAM));
        assert.equal(at, -1, `step ${step} (${op.t}): guest memory differs at offset ${at}`);
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("the common round trip takes the fast path on both halves and still reports nothing", () => {
  const setup = { size: 8, eventIdx: false, indirect: false, startIdx: 0xfffe };
  const u = universe(setup, true);
  for (let k = 0; k < 20; k++) {
    u.driver.add([], [{ addr: u.data, len: 512 }], k);
    assert.equal(u.driver.kickPrepare(), true);
    const chain = u.device.pop();
    assert.ok(chain !== null);
    assert.deepEqual(chain.writable.map((s) => s.len), [512]);
    u.device.push(chain.head, 100);
    assert.equal(u.device.needsInterrupt(), true);
    assert.deepEqual(u.driver.getBuf(), { token: k, len: 100 });
  }
  assert.equal(u.log.entries.length, 0);
  assert.equal(u.driver.ring.availIdx, (0xfffe + 20) & 0xffff);
});

Deno.test("a queue on a GuestMemory subclass, or with any part replaced, never bypasses them", () => {
  const memory = new ObservedMemory(RAM, { base: BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size: 4, eventIdx: false, indirect: false };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("d"),
  });
  const device = new SplitQueueDevice({
    ...common,
    ...driver.addresses,
    reporter: log.scoped("v"),
  });
  assert.equal(driver.fastPath, false);
  assert.equal(device.fastPath, false);
  const before = memory.stores;
  driver.add([], [{ addr: allocator.alloc(64), len: 64 }], 1);
  driver.kickPrepare();
  // The descriptor's flags and next, the ring slot and idx: all through writeU16.
  assert.ok(memory.stores - before >= 4, `only ${memory.stores - before} observed stores`);

  const plain = new GuestMemory(RAM);
  const alloc2 = new GuestAllocator(plain);
  const mine = SplitQueueDriver.create<number>({
    memory: plain,
    index: 0,
    size: 4,
    eventIdx: false,
    indirect: false,
    allocator: alloc2,
    reporter: log.scoped("d2"),
    parts: { publishAvail: REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail },
  });
  assert.equal(mine.fastPath, true, "a reference function passed as a part is still the reference");
  const replaced = SplitQueueDriver.create<number>({
    memory: plain,
    index: 1,
    size: 4,
    eventIdx: false,
    indirect: false,
    allocator: alloc2,
    reporter: log.scoped("d3"),
    parts: { publishAvail: (ring) => REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail(ring) },
  });
  assert.equal(replaced.fastPath, false);
});

Deno.test("a device queue whose areas are not all inside RAM takes the parts' path", () => {
  const memory = new GuestMemory(0x1000);
  const log = new ConformanceLog();
  const device = new SplitQueueDevice({
    memory,
    index: 0,
    size: 8,
    eventIdx: false,
    indirect: false,
    descAddr: 0,
    availAddr: 0x200,
    usedAddr: 0x1000 - 8, // the used ring runs past the end of RAM
    reporter: log.scoped("v"),
  });
  assert.equal(device.fastPath, false);
  memory.writeU16(0x200 + 2, 1); // one chain available at head 0
  memory.writeU32(8, 16); // len 16 at address 0
  assert.notEqual(device.pop(), null);
  device.push(0, 0);
  assert.ok(device.broken !== null, "the used ring outside RAM breaks the queue");
  assert.ok(log.has("2.7.5/D2"));
});
