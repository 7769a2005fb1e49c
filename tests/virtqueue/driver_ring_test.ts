// The driver-side parts of the split ring, called one at a time on plain ring
// records: construction at any index, placing and freeing chains through the
// shadow, publishing (slots before idx, free-running idx), the kick decision,
// reaping, and allocating the areas.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator, GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import {
  createSplitDriverRing,
  HEAD_ADDED,
  HEAD_FREE,
  HEAD_PUBLISHED,
  NO_INDIRECT_TABLE,
  type SplitDriverRing,
} from "../../virtqueue/driver/ring.ts";
import { allocateQueueAreas } from "../../virtqueue/driver/areas.ts";
import {
  addBuffers,
  type AddBufferSteps,
  addChain,
  addIndirectChain,
} from "../../virtqueue/driver/add.ts";
import { detachChain } from "../../virtqueue/driver/detach.ts";
import { needsKick, placeAvailEntry, publishAvail } from "../../virtqueue/driver/avail.ts";
import { getBuf, moreUsed, updateUsedEvent } from "../../virtqueue/driver/used.ts";
import { availableCount, availHead } from "../../virtqueue/device/avail.ts";
import { walkChain } from "../../virtqueue/device/walk.ts";
import { pushUsed } from "../../virtqueue/device/used.ts";
import { splitQueueLayout } from "../../virtqueue/layout.ts";
import { VirtqueueChainError, VirtqueueFullError } from "../../virtqueue/types.ts";
import { BASE, RAM, ringPair } from "./_rings.ts";

const noTables = (table: number) => assert.fail(`no indirect table expected, got ${table}`);

/** Adds a chain and places its head, as SplitQueueDriver.add does. */
function post(ring: SplitDriverRing<string>, writable: number, token: string): number {
  const head = addChain(ring, [], [{ addr: BASE + 0x8_0000, len: writable }], token);
  placeAvailEntry(ring, head);
  return head;
}

// ---------------------------------------------------------------------------
// Construction

Deno.test("createSplitDriverRing starts at any index: fields and guest memory agree", () => {
  for (const eventIdx of [false, true]) {
    const { driver: ring, memory } = ringPair({ size: 8, eventIdx, startIdx: 0xfffe });
    assert.equal(ring.availIdx, 0xfffe);
    assert.equal(ring.lastUsed, 0xfffe);
    assert.equal(memory.readU16(ring.availAddr + 2), 0xfffe, "available idx");
    assert.equal(memory.readU16(ring.usedAddr + 2), 0xfffe, "used idx");
    assert.equal(memory.readU16(ring.usedAddr), 0, "used flags (2.7.10.1/1)");
    if (eventIdx) {
      assert.equal(memory.readU16(ring.usedEventAddr), 0xfffe, "used_event");
      assert.equal(memory.readU16(ring.availEventAddr), 0xfffe, "avail_event");
    }
    assert.equal(ring.numFree, 8);
    assert.deepEqual([...ring.next], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(ring.side, "driver");
  }
});

Deno.test("createSplitDriverRing refuses start indices that are not 16-bit", () => {
  const memory = new GuestMemory(0x4000);
  const config = {
    memory,
    index: 0,
    size: 4,
    eventIdx: false,
    indirect: false,
    descAddr: 0,
    availAddr: 0x1000,
    usedAddr: 0x2000,
    reporter: new ConformanceLog().scoped("q"),
  };
  for (const startIdx of [-1, 0x10000, 1.5, NaN]) {
    assert.throws(() => createSplitDriverRing(config, { startIdx }), RangeError, String(startIdx));
  }
  assert.equal(memory.readU16(0x1002), 0, "nothing written by a refused ring");
});

// ---------------------------------------------------------------------------
// Publishing across the 16-bit wrap, without warm-up trips

Deno.test("publishAvail stores every slot before idx, and idx runs free across 0xffff to 0", () => {
  const p = ringPair({ size: 4, startIdx: 0xfffe, record: true });
  const ring = p.driver;
  const mem = p.recording!;
  const heads = [post(ring, 8, "a"), post(ring, 8, "b"), post(ring, 8, "c")];
  mem.log.length = 0;
  // The slots were placed by placeAvailEntry at (idx + k) % size: 2, 3, 0.
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => p.memory.readU16(ring.availAddr + 4 + 2 * s)),
    [heads[2], 0, heads[0], heads[1]],
  );
  assert.equal(p.memory.readU16(ring.availAddr + 2), 0xfffe, "placed, not published");
  assert.equal(publishAvail(ring), 3);
  // Only one store: idx, to 0xfffe + 3 = 0x10001 = 1 (mod 2^16), never taken mod 4.
  assert.deepEqual(mem.takeStores(ring.availAddr), ["+2=1"]);
  assert.equal(ring.availIdx, 1);
  assert.equal(ring.added, 0);
  assert.equal(ring.published, 3);
  for (const h of heads) assert.equal(ring.state[h], HEAD_PUBLISHED);
  assert.equal(publishAvail(ring), 0, "nothing placed: nothing published, nothing written");
  assert.deepEqual(mem.takeStores(ring.availAddr), []);
});

Deno.test("a whole add, place, publish sequence stores descriptors, then slots, then idx", () => {
  const p = ringPair({ size: 4, record: true });
  const ring = p.driver;
  const mem = p.recording!;
  const stores: { part: string; address: number }[] = [];
  const partOf = (a: number) =>
    a >= ring.descAddr && a < ring.descAddr + 64
      ? "desc"
      : a === ring.availAddr + 2
      ? "idx"
      : a >= ring.availAddr + 4 && a < ring.availAddr + 12
      ? "slot"
      : "other";
  const note = () => {
    for (const s of mem.log) {
      if (s.op === "store") stores.push({ part: partOf(s.address), address: s.address });
    }
    mem.log.length = 0;
  };
  placeAvailEntry(ring, addChain(ring, [p.buf(16)], [p.buf(64)], "x"));
  note();
  placeAvailEntry(ring, addChain(ring, [p.buf(4)], [], "y"));
  note();
  publishAvail(ring);
  note();
  assert.deepEqual(
    stores.map((s) => s.part),
    [...Array(8).fill("desc"), "slot", ...Array(4).fill("desc"), "slot", "idx"],
  );
});

Deno.test("needsKick with event idx crosses 0xffff to 0 on a ring started at 0xfffe", () => {
  const p = ringPair({ size: 4, eventIdx: true, startIdx: 0xfffe });
  const ring = p.driver;
  const availEvent = (v: number) => p.memory.writeU16(ring.availEventAddr, v);
  availEvent(0xffff);
  post(ring, 8, "0xfffe");
  let old = ring.availIdx;
  publishAvail(ring);
  assert.equal(needsKick(ring, old), false, "entry 0xfffe is not the one asked for");
  post(ring, 8, "0xffff");
  post(ring, 8, "0");
  old = ring.availIdx;
  publishAvail(ring);
  assert.equal(needsKick(ring, old), true, "entries 0xffff and 0 published together");
  assert.equal(p.memory.readU16(ring.availAddr + 2), 1);
  // The rcore-os should_notify bug (`new >= event + 1`) misses exactly this kick.
  const q = ringPair({ size: 4, eventIdx: true, startIdx: 0xfffe });
  q.memory.writeU16(q.driver.availEventAddr, 0xfffe);
  post(q.driver, 8, "a");
  post(q.driver, 8, "b");
  old = q.driver.availIdx;
  publishAvail(q.driver);
  assert.equal(q.driver.availIdx, 0);
  assert.equal(needsKick(q.driver, old), true, "old 0xfffe, new 0, avail_event 0xfffe");
});

// ---------------------------------------------------------------------------
// Reaping across the wrap

Deno.test("getBuf and the device parts run round trips across 0xffff to 0 from a ring built at 0xfffd", () => {
  const p = ringPair({ size: 2, eventIdx: true, startIdx: 0xfffd });
  const { driver, device, memory } = p;
  const detach = (head: number) => detachChain(driver, head, noTables);
  for (let trip = 0; trip < 5; trip++) {
    post(driver, 32, `trip ${trip}`);
    publishAvail(driver);
    assert.equal(availableCount(device), 1);
    const chain = walkChain(device, availHead(device))!;
    device.inUse[chain.head] = 1;
    pushUsed(device, chain.head, 32);
    device.inUse[chain.head] = 0;
    assert.equal(moreUsed(driver), true);
    assert.deepEqual(getBuf(driver, detach), { token: `trip ${trip}`, len: 32 });
    updateUsedEvent(driver);
    assert.equal(memory.readU16(driver.usedEventAddr), driver.lastUsed);
    assert.equal(moreUsed(driver), false);
  }
  assert.equal(driver.availIdx, 2, "0xfffd + 5");
  assert.equal(driver.lastUsed, 2);
  assert.equal(device.lastAvail, 2);
  assert.equal(memory.readU16(driver.usedAddr + 2), 2);
  assert.equal(driver.numFree, 2);
  assert.equal(p.log.entries.length, 0, p.log.format());
});

Deno.test("updateUsedEvent moves used_event only with event idx and callbacks on", () => {
  for (const eventIdx of [false, true]) {
    const p = ringPair({ size: 4, eventIdx, startIdx: 0xffff });
    const { driver, memory } = p;
    memory.writeU16(driver.usedEventAddr, 0xabcd);
    driver.lastUsed = 0; // as after a reap across the wrap
    driver.callbacks = false;
    updateUsedEvent(driver);
    assert.equal(memory.readU16(driver.usedEventAddr), 0xabcd, "callbacks off: left alone");
    driver.callbacks = true;
    updateUsedEvent(driver);
    // Without event idx used_event is not part of the available ring at all.
    assert.equal(memory.readU16(driver.usedEventAddr), eventIdx ? 0 : 0xabcd);
  }
});

Deno.test("getBuf refuses an entry naming a chain placed but not published (2.7.8/D1), freeing nothing", () => {
  const p = ringPair({ size: 4 });
  const detach = (h: number) => detachChain(p.driver, h, noTables);
  post(p.driver, 8, "visible");
  publishAvail(p.driver);
  const hidden = post(p.driver, 8, "hidden");
  p.memory.writeU32(p.driver.usedAddr + 4, hidden);
  p.memory.writeU16(p.driver.usedAddr + 2, 1);
  assert.equal(getBuf(p.driver, detach), null);
  assert.equal(p.log.entries.length, 1);
  assert.equal(p.log.entries[0].id, "2.7.8/D1");
  assert.equal(p.driver.broken, p.log.entries[0]);
  assert.equal(p.driver.state[hidden], HEAD_ADDED, "nothing was freed");
  assert.equal(p.driver.lastUsed, 0);
  assert.equal(getBuf(p.driver, detach), null, "broken: nothing more is reaped");
  assert.equal(p.log.entries.length, 1);
});

// ---------------------------------------------------------------------------
// Placing and freeing through the shadow

Deno.test("addChain refuses a bad chain before any store", () => {
  const p = ringPair({ size: 4, record: true });
  const ring = p.driver;
  const ok = p.buf(8);
  const bad: [string, () => unknown, string | null][] = [
    ["empty", () => addChain(ring, [], [], "x"), null],
    ["zero length", () => addChain(ring, [ok], [{ addr: ok.addr, len: 0 }], "x"), "2.7.5/D3"],
    [
      "outside RAM",
      () => addChain(ring, [ok], [{ addr: BASE + RAM - 4, len: 8 }], "x"),
      "2.7.5/D2",
    ],
    ["too many", () => addChain(ring, [ok, ok, ok], [ok, ok], "x"), "2.7.5.3.1/3"],
    [
      "over 2^32 bytes",
      () => addChain(ring, [{ addr: BASE, len: 0xffff_ffff }], [{ addr: BASE, len: 2 }], "x"),
      "2.7.5.2/1",
    ],
  ];
  for (const [what, attempt, rule] of bad) {
    assert.throws(
      attempt,
      (e: unknown) => e instanceof VirtqueueChainError && e.rule === rule,
      what,
    );
    assert.deepEqual(p.recording!.takeStores(BASE), [], `${what}: nothing stored`);
  }
  addChain(ring, [ok, ok], [ok], "three");
  p.recording!.log.length = 0;
  assert.throws(() => addChain(ring, [ok], [ok], "two"), VirtqueueFullError);
  assert.deepEqual(p.recording!.takeStores(BASE), [], "full: nothing stored");
  assert.equal(ring.numFree, 1);
});

Deno.test("detachChain frees exactly the chain's descriptors after the device scribbled the table", () => {
  const p = ringPair({ size: 8 });
  const ring = p.driver;
  const a = addChain(ring, [p.buf(16)], [p.buf(64), p.buf(1)], "a");
  const b = addChain(ring, [p.buf(16)], [p.buf(8)], "b");
  const chainA = [a, ring.next[a], ring.next[ring.next[a]]];
  // A hostile device rewrites every flags and next field.
  for (let i = 0; i < 8; i++) {
    p.memory.writeU16(ring.descAddr + 16 * i + 12, 0xffff);
    p.memory.writeU16(ring.descAddr + 16 * i + 14, i);
  }
  assert.equal(detachChain(ring, a, noTables), "a");
  assert.equal(ring.numFree, 6);
  // The free list now starts with chain a's descriptors, in chain order.
  assert.deepEqual(
    [ring.freeHead, ring.next[ring.freeHead], ring.next[ring.next[ring.freeHead]]],
    chainA,
  );
  assert.equal(ring.state[b], HEAD_ADDED, "chain b untouched");
  assert.equal(ring.tokens[b], "b");
  assert.equal(detachChain(ring, b, noTables), "b");
  assert.equal(ring.numFree, 8);
  // Every descriptor is on the free list exactly once.
  const seen = new Set<number>();
  for (let i = ring.freeHead, k = 0; k < ring.numFree; k++, i = ring.next[i]) seen.add(i);
  assert.equal(seen.size, 8);
});

/**
 * The NetBSD vring_desc_extra race (netbsd-10 ticket #186), made visible in
 * one thread: `freeTable` runs inside `detachChain` and adds a chain, which
 * takes the head just freed. A detach that frees the slot before clearing
 * the metadata then wipes the new chain's.
 */
function reentrantDetach(
  detach: typeof detachChain,
): { ring: SplitDriverRing<string>; again: number } {
  const p = ringPair({ size: 4, indirect: true });
  const ring = p.driver;
  const allocTable = (bytes: number) => p.allocator.alloc(bytes, 16);
  const head = addIndirectChain(ring, [p.buf(16)], [p.buf(8)], "first", allocTable);
  let again = -1;
  const freeTable = (table: number) => {
    p.allocator.free(table);
    again = addChain(ring, [p.buf(4)], [], "second"); // re-enters while the detach runs
  };
  assert.equal(detach(ring, head, freeTable), "first");
  return { ring, again };
}

Deno.test("detachChain clears a chain's metadata before its descriptors can be taken again", () => {
  const { ring, again } = reentrantDetach(detachChain);
  assert.equal(ring.tables[again], NO_INDIRECT_TABLE, "the re-entrant chain is direct");
  assert.equal(ring.state[again], HEAD_ADDED, "the re-entrant chain is still posted");
  assert.equal(ring.tokens[again], "second");
  assert.equal(ring.count[again], 1);
  assert.equal(ring.numFree, 3);
  assert.equal(ring.inFlight, 1);
});

Deno.test("the re-entrancy check catches a detach that frees the slot first (NetBSD race)", () => {
  // The wrong order, as in NetBSD before the fix: free list first, metadata after.
  const wrongDetach: typeof detachChain = (ring, head, freeTable) => {
    const token = ring.tokens[head]!;
    const table = ring.tables[head];
    ring.next[head] = ring.freeHead;
    ring.freeHead = head;
    ring.numFree += ring.count[head];
    ring.inFlight--;
    if (table !== NO_INDIRECT_TABLE) freeTable(table);
    ring.state[head] = HEAD_FREE;
    ring.tokens[head] = undefined;
    ring.tables[head] = NO_INDIRECT_TABLE;
    return token;
  };
  const { ring, again } = reentrantDetach(wrongDetach);
  assert.equal(again, 0, "the new chain took the head just freed");
  assert.equal(ring.state[again], HEAD_FREE, "its metadata was wiped: the bug the test exists for");
  assert.equal(ring.tokens[again], undefined);
});

Deno.test("addIndirectChain checks everything before it allocates, and leaves the ring as it was on failure", () => {
  const p = ringPair({ size: 4, indirect: false });
  let calls = 0;
  const allocTable = (bytes: number) => {
    calls++;
    return p.allocator.alloc(bytes, 16);
  };
  assert.throws(
    () => addIndirectChain(p.driver, [p.buf(8)], [p.buf(8)], "x", allocTable),
    (e: unknown) => e instanceof VirtqueueChainError && e.rule === "2.7.5.3.1/1",
  );
  assert.equal(calls, 0);
  const q = ringPair({ size: 4, indirect: true });
  const oom = () => {
    throw new GuestOutOfMemoryError(32, 16, 0);
  };
  assert.throws(
    () => addIndirectChain(q.driver, [q.buf(8)], [q.buf(8)], "x", oom),
    GuestOutOfMemoryError,
  );
  assert.equal(q.driver.numFree, 4);
  assert.equal(q.driver.inFlight, 0);
  assert.equal(q.driver.freeHead, 0);
  const head = addIndirectChain(
    q.driver,
    [q.buf(8)],
    [q.buf(8), q.buf(2)],
    "t",
    (b) => q.allocator.alloc(b, 16),
  );
  assert.equal(q.driver.count[head], 1);
  assert.equal(q.driver.writable[head], 10);
  assert.equal(q.allocator.sizeOf(q.driver.tables[head]), 48);
  assert.equal(q.driver.tables[head] % 16, 0);
});

Deno.test("addBuffers: the policy's step, and direct descriptors when a table cannot be had", () => {
  /** Steps that record which one ran, over the reference parts. */
  const recording = (p: ReturnType<typeof ringPair>, tables: "ok" | "oom" | "none") => {
    const calls: string[] = [];
    const steps: AddBufferSteps = {
      addChain: (ring, r, w, token) => (calls.push("addChain"), addChain(ring, r, w, token)),
      addIndirectChain: (ring, r, w, token, alloc) => {
        calls.push("addIndirectChain");
        return addIndirectChain(ring, r, w, token, alloc);
      },
      allocTable: tables === "none" ? undefined : (bytes) => {
        calls.push(`allocTable(${bytes})`);
        if (tables === "oom") throw new GuestOutOfMemoryError(bytes, 16, 0);
        return p.allocator.alloc(bytes, 16);
      },
    };
    return { calls, steps };
  };
  const run = (
    indirect: boolean,
    tables: "ok" | "oom" | "none",
    policy: "auto" | "always" | "never",
    buffers = 2,
  ) => {
    const p = ringPair({ size: 4, indirect });
    const { calls, steps } = recording(p, tables);
    const bufs = Array.from({ length: buffers }, () => p.buf(8));
    try {
      const head = addBuffers(p.driver, bufs.slice(0, 1), bufs.slice(1), "t", policy, steps);
      return { calls, head, count: p.driver.count[head], numFree: p.driver.numFree };
    } catch (e) {
      return { calls, threw: (e as Error).name, numFree: p.driver.numFree };
    }
  };
  assert.deepEqual(run(true, "ok", "auto"), {
    calls: ["addIndirectChain", "allocTable(32)"],
    head: 0,
    count: 1,
    numFree: 3,
  });
  assert.deepEqual(run(true, "oom", "auto"), {
    calls: ["addIndirectChain", "allocTable(32)", "addChain"],
    head: 0,
    count: 2,
    numFree: 2,
  });
  assert.deepEqual(run(true, "ok", "auto", 1).calls, ["addChain"], "one buffer stays direct");
  assert.deepEqual(run(false, "ok", "auto").calls, ["addChain"], "not negotiated");
  assert.deepEqual(run(true, "none", "auto").calls, ["addChain"], "no allocator");
  assert.deepEqual(run(true, "ok", "never").calls, ["addChain"]);
  assert.deepEqual(run(true, "oom", "always"), {
    calls: ["addIndirectChain", "allocTable(32)"],
    threw: "GuestOutOfMemoryError",
    numFree: 4,
  });
  assert.deepEqual(run(true, "none", "always"), { calls: [], threw: "TypeError", numFree: 4 });
  assert.deepEqual(run(false, "ok", "always"), {
    calls: ["addIndirectChain"],
    threw: "VirtqueueChainError",
    numFree: 4,
  });
  // A refusal by the indirect step is passed on, not retried with direct descriptors.
  assert.deepEqual(run(true, "ok", "auto", 5), {
    calls: ["addIndirectChain"],
    threw: "VirtqueueChainError",
    numFree: 4,
  });
});

// ---------------------------------------------------------------------------
// Areas

Deno.test("allocateQueueAreas: aligned, separate, zeroed, sized by the layout it is given", () => {
  const memory = new GuestMemory(1 << 16);
  memory.fill(0, 1 << 16, 0xa5);
  const allocator = new GuestAllocator(memory);
  allocator.alloc(3, 1);
  const calls: [number, boolean | undefined][] = [];
  const layout: typeof splitQueueLayout = (size, eventIdx) => {
    calls.push([size, eventIdx]);
    return splitQueueLayout(size, eventIdx);
  };
  const a = allocateQueueAreas(allocator, 64, layout);
  assert.deepEqual(calls, [[64, true]]);
  assert.equal(a.descAddr % 16, 0);
  assert.equal(a.availAddr % 2, 0);
  assert.equal(a.usedAddr % 4, 0);
  const parts: [number, number][] = [
    [a.descAddr, 16 * 64],
    [a.availAddr, 4 + 2 * 64 + 2],
    [a.usedAddr, 4 + 8 * 64 + 2],
  ];
  for (const [addr, len] of parts) {
    assert.equal(allocator.sizeOf(addr), len);
    assert.ok(memory.bytes(addr, len).every((b) => b === 0), "zeroed");
  }
  const sorted = [...parts].sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < 3; i++) {
    assert.ok(sorted[i - 1][0] + sorted[i - 1][1] <= sorted[i][0], "no overlap");
  }
});

Deno.test("allocateQueueAreas gives back what it took when the second or third part does not fit", () => {
  for (const room of [4096 + 100, 4096 + 518 + 100]) {
    const memory = new GuestMemory(room);
    const allocator = new GuestAllocator(memory);
    assert.throws(() => allocateQueueAreas(allocator, 256), GuestOutOfMemoryError);
    assert.equal(allocator.count, 0, `${room} bytes: nothing stays allocated`);
    assert.equal(allocator.available, room);
  }
});
