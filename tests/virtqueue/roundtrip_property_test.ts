import assert from "node:assert/strict";
import fc from "fast-check";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { SplitQueueDriver, VirtqueueChainError } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import {
  type BufferSegment,
  type DescriptorChain,
  VirtqueueFullError,
} from "../../virtqueue/types.ts";

const BASE = 0x1000_0000;
const DATA_BYTES = 0x1_0000;

/** Whether one of the 16-bit ring indices from..to-1 is `event` (the rule of §2.7.7.2/2 and §2.7.10.1/3). */
function crossed(event: number, to: number, from: number): boolean {
  for (let idx = from; idx !== to; idx = (idx + 1) & 0xffff) if (idx === event) return true;
  return false;
}

interface Pair {
  memory: GuestMemory;
  allocator: GuestAllocator;
  log: ConformanceLog;
  driver: SplitQueueDriver<number>;
  device: SplitQueueDevice;
  data: number;
}

function pair(size: number, eventIdx: boolean, indirect: boolean): Pair {
  const memory = new GuestMemory(1 << 20, { base: BASE });
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size, eventIdx, indirect };
  const driver = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("test queue 0"),
  });
  const device = new SplitQueueDevice({
    ...common,
    ...driver.addresses,
    reporter: log.scoped("test queue 0"),
  }, (v) => assert.fail(`device queue broke: ${v.message}`));
  const data = allocator.alloc(DATA_BYTES, 16);
  return { memory, allocator, log, driver, device, data };
}

// ---------------------------------------------------------------------------
// Random interleavings against a model

const segArb = fc.record({ off: fc.nat(DATA_BYTES - 64), len: fc.integer({ min: 1, max: 64 }) });

const opArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("add" as const),
      readable: fc.array(segArb, { maxLength: 2 }),
      writable: fc.array(segArb, { maxLength: 3 }),
      mode: fc.constantFrom("auto" as const, "never" as const, "always" as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("kick" as const) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("pop" as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant("push" as const), pick: fc.nat(), len: fc.nat() }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("interrupt" as const) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("reap" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constantFrom(
        "devDisable" as const,
        "devEnable" as const,
        "drvDisable" as const,
        "drvEnable" as const,
      ),
    }),
  },
);

interface Posted {
  token: number;
  readable: BufferSegment[];
  writable: BufferSegment[];
  table: boolean;
}

Deno.test("random interleavings: every token comes back once, notifications follow the rules", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 4, 8, 16),
      fc.boolean(),
      fc.boolean(),
      fc.array(opArb, { minLength: 1, maxLength: 200, size: "max" }),
      (size, eventIdx, indirect, ops) => {
        const p = pair(size, eventIdx, indirect);
        const { memory, driver, device, log } = p;
        const { availAddr, usedAddr } = driver.addresses;
        const allocationsAtStart = p.allocator.count;

        let nextToken = 0;
        const unpublished: Posted[] = [];
        const published: Posted[] = []; // FIFO: the device pops in available ring order
        const popped: { chain: DescriptorChain; posted: Posted }[] = [];
        const used: { token: number; len: number }[] = []; // FIFO: the driver reaps in used ring order
        const returned = new Map<number, number>();
        const pushedLen = new Map<number, number>();

        // What each side should have written for the other, per the model.
        let devNotify = true;
        let drvCallbacks = true;
        let devLastAvail = 0;
        let drvLastUsed = 0;
        let usedEventFrozen = 0; // used_event while callbacks are off
        let signalled = 0;

        const readU16 = (a: number) => memory.readU16(a);
        const usedEventAddr = availAddr + 4 + 2 * size;
        const availEventAddr = usedAddr + 4 + 8 * size;

        const add = (op: Extract<typeof ops[number], { t: "add" }>) => {
          const seg = (s: { off: number; len: number }) => ({ addr: p.data + s.off, len: s.len });
          const readable = op.readable.map(seg);
          const writable = op.writable.map(seg);
          const n = readable.length + writable.length;
          const token = nextToken++;
          const table = op.mode === "always" ||
            (op.mode === "auto" && indirect && n >= 2);
          const attempt = () => driver.add(readable, writable, token, { indirect: op.mode });
          if (n === 0 || n > size || (op.mode === "always" && !indirect)) {
            assert.throws(attempt, VirtqueueChainError);
            return;
          }
          const needed = table ? 1 : n;
          if (needed > driver.numFree) {
            assert.throws(attempt, VirtqueueFullError);
            return;
          }
          const free = driver.numFree;
          attempt();
          assert.equal(driver.numFree, free - needed);
          unpublished.push({ token, readable, writable, table });
        };

        const kick = () => {
          const old = driver.availIdx;
          const added = unpublished.length;
          const newIdx = (old + added) & 0xffff;
          // The device's side of the rule, as the device should have written it.
          if (eventIdx) {
            assert.equal(readU16(usedAddr), 0, "used flags stay 0 with event idx");
            const availEvent = devNotify ? devLastAvail : (devLastAvail - 1) & 0xffff;
            assert.equal(readU16(availEventAddr), availEvent, "avail_event");
          } else {
            assert.equal(readU16(usedAddr), devNotify ? 0 : 1, "VIRTQ_USED_F_NO_NOTIFY");
          }
          // §2.7.10.1/2 and /3, evaluated on what is in memory.
          const byRule = added > 0 &&
            (eventIdx
              ? crossed(readU16(availEventAddr), newIdx, old)
              : (readU16(usedAddr) & 1) === 0);
          // The model's expectation: notified iff the device wants it and
          // (with event idx) has consumed everything published before.
          const byModel = added > 0 && devNotify && (!eventIdx || devLastAvail === old);
          const kicked = driver.kickPrepare();
          assert.equal(kicked, byRule, "kickPrepare against the spec rule");
          assert.equal(kicked, byModel, "kickPrepare against the model");
          assert.equal(readU16(availAddr + 2), newIdx);
          published.push(...unpublished.splice(0));
        };

        const pop = () => {
          const chain = device.pop();
          const posted = published.shift();
          if (!posted) {
            assert.equal(chain, null);
            return;
          }
          assert.ok(chain, log.format());
          assert.deepEqual(chain.readable, posted.readable);
          assert.deepEqual(chain.writable, posted.writable);
          assert.equal(chain.indirect, posted.table);
          devLastAvail = (devLastAvail + 1) & 0xffff;
          popped.push({ chain, posted });
        };

        const push = (op: { pick: number; len: number }) => {
          if (popped.length === 0) return;
          const [{ chain, posted }] = popped.splice(op.pick % popped.length, 1);
          const len = op.len % (chain.writableLength + 1);
          device.push(chain.head, len);
          pushedLen.set(posted.token, len);
          used.push({ token: posted.token, len });
        };

        const interrupt = () => {
          const now = device.usedIdx;
          const usedEvent = drvCallbacks ? drvLastUsed : usedEventFrozen;
          if (eventIdx) {
            assert.equal(readU16(availAddr), 0, "avail flags stay 0 with event idx");
            assert.equal(readU16(usedEventAddr), usedEvent, "used_event");
          } else {
            assert.equal(readU16(availAddr), drvCallbacks ? 0 : 1, "VIRTQ_AVAIL_F_NO_INTERRUPT");
          }
          const byRule = now !== signalled &&
            (eventIdx
              ? crossed(readU16(usedEventAddr), now, signalled)
              : (readU16(availAddr) & 1) === 0);
          const byModel = now !== signalled &&
            (eventIdx ? crossed(usedEvent, now, signalled) : drvCallbacks);
          const wanted = device.needsInterrupt();
          assert.equal(wanted, byRule, "needsInterrupt against the spec rule");
          assert.equal(wanted, byModel, "needsInterrupt against the model");
          signalled = now;
        };

        const reap = () => {
          const got = driver.getBuf();
          const expected = used.shift();
          if (!expected) {
            assert.equal(got, null);
            return;
          }
          assert.deepEqual(got, expected);
          assert.equal(returned.has(expected.token), false, "returned twice");
          returned.set(expected.token, expected.len);
          drvLastUsed = (drvLastUsed + 1) & 0xffff;
        };

        for (const op of ops) {
          switch (op.t) {
            case "add":
              add(op);
              break;
            case "kick":
              kick();
              break;
            case "pop":
              pop();
              break;
            case "push":
              push(op);
              break;
            case "interrupt":
              interrupt();
              break;
            case "reap":
              reap();
              break;
            case "devDisable":
              device.disableNotifications();
              devNotify = false;
              break;
            case "devEnable":
              assert.equal(device.enableNotifications(), published.length > 0);
              devNotify = true;
              break;
            case "drvDisable":
              driver.disableCallbacks();
              usedEventFrozen = (drvLastUsed - 1) & 0xffff;
              drvCallbacks = false;
              break;
            case "drvEnable":
              assert.equal(driver.enableCallbacks(), used.length === 0);
              drvCallbacks = true;
              break;
          }
          assert.equal(
            driver.inFlight,
            unpublished.length + published.length + popped.length + used.length,
          );
        }

        // Drain: publish, pop, push and reap everything left.
        kick();
        while (published.length > 0) pop();
        while (popped.length > 0) push({ pick: 0, len: 0x7fff_ffff });
        interrupt();
        while (used.length > 0) reap();
        assert.equal(driver.getBuf(), null);

        assert.equal(returned.size, pushedLen.size);
        for (const [token, len] of pushedLen) assert.equal(returned.get(token), len);
        assert.equal(driver.numFree, size);
        assert.equal(driver.inFlight, 0);
        assert.equal(device.inFlight, 0);
        assert.equal(p.allocator.count, allocationsAtStart, "every indirect table was freed");
        assert.equal(log.entries.length, 0, log.format());
        assert.equal(driver.broken, null);
        assert.equal(device.broken, null);
      },
    ),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------------------
// 16-bit wraparound

for (const eventIdx of [false, true]) {
  Deno.test(`more than 65536 round trips on a 4-entry queue (event idx ${eventIdx})`, () => {
    const p = pair(4, eventIdx, true);
    const { driver, device, memory, log } = p;
    const seg = (off: number, len: number) => ({ addr: p.data + off, len });
    const ROUNDS = 70_000;
    let token = 0;
    let reaped = 0;
    let batches = 0;
    let kicks = 0;
    let interrupts = 0;
    while (reaped < ROUNDS) {
      // Batches of 1 to 4 chains, 1 or 3 buffers each (3 go through a table).
      const batch = 1 + (reaped % 4);
      for (let k = 0; k < batch; k++) {
        const t = token++;
        if (t % 2 === 0) driver.add([seg(0, 16)], [], t);
        else driver.add([seg(16, 16)], [seg(32, 100), seg(200, 1)], t);
      }
      if (driver.kickPrepare()) kicks++;
      const chains: DescriptorChain[] = [];
      for (let c = device.pop(); c !== null; c = device.pop()) chains.push(c);
      assert.equal(chains.length, batch);
      for (const c of chains.reverse()) device.push(c.head, c.writableLength);
      if (device.needsInterrupt()) interrupts++;
      const seen: number[] = [];
      for (let u = driver.getBuf(); u !== null; u = driver.getBuf()) {
        assert.equal(u.len, u.token % 2 === 0 ? 0 : 101);
        seen.push(u.token);
      }
      assert.deepEqual(seen, Array.from({ length: batch }, (_, k) => token - 1 - k));
      reaped += batch;
      batches++;
    }
    assert.ok(reaped > 65536);
    const { availAddr, usedAddr } = driver.addresses;
    assert.equal(memory.readU16(availAddr + 2), reaped & 0xffff, "available idx wrapped");
    assert.equal(memory.readU16(usedAddr + 2), reaped & 0xffff, "used idx wrapped");
    assert.equal(driver.availIdx, reaped & 0xffff);
    assert.equal(device.lastAvailIdx, reaped & 0xffff);
    assert.equal(driver.numFree, 4);
    // The device drains every batch before the next kick and the driver reaps
    // every batch before the next interrupt: each batch wants one of each.
    assert.equal(kicks, batches);
    assert.equal(interrupts, batches);
    assert.deepEqual(device.stats.used, reaped);
    assert.equal(log.entries.length, 0, log.format());
  });
}
