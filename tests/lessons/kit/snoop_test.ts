// Tests for lessons/kit/snoop.ts: every accessor is observed after the
// access, with its address, width and value; bulk copies and views are
// observed as such; the grader's own accesses (quietly, inside hooks) are not.

import assert from "node:assert/strict";
import { GuestMemory, GuestMemoryError } from "../../../memory/guest_memory.ts";
import { type MemoryAccess, SnoopingMemory, touches } from "../../../lessons/kit/snoop.ts";

const BASE = 0x4000_0000;

function snooping(): { memory: SnoopingMemory; stores: MemoryAccess[]; loads: MemoryAccess[] } {
  const memory = new SnoopingMemory(0x1000, { base: BASE });
  const stores: MemoryAccess[] = [];
  const loads: MemoryAccess[] = [];
  memory.onStore((s) => void stores.push(s));
  memory.onLoad((l) => void loads.push(l));
  return { memory, stores, loads };
}

Deno.test("SnoopingMemory is a GuestMemory: the ring parts take it", () => {
  const memory = new SnoopingMemory(0x1000, { base: BASE });
  assert.ok(memory instanceof GuestMemory);
  assert.equal(memory.base, BASE);
  assert.equal(memory.end, BASE + 0x1000);
});

Deno.test("every store accessor runs the hooks after the store, with address, width and value", () => {
  const { memory, stores } = snooping();
  const seenInHook: number[] = [];
  memory.onStore((s) => {
    // After the store: the hook reads the new value (unobserved, inside a hook).
    if (s.width === 2) seenInHook.push(memory.readU16(s.address));
  });
  memory.writeU8(BASE + 1, 0x1ab);
  memory.writeU16(BASE + 2, 0x1_2345);
  memory.writeU32(BASE + 4, -1);
  memory.writeU64(BASE + 8, 0x1_0000_0002);
  memory.writeU64(BASE + 16, -1n);
  assert.deepEqual(
    stores.map((s) => [s.kind, s.method, s.address - BASE, s.width, s.value]),
    [
      ["store", "writeU8", 1, 1, 0xab],
      ["store", "writeU16", 2, 2, 0x2345],
      ["store", "writeU32", 4, 4, 0xffff_ffff],
      ["store", "writeU64", 8, 8, 0x1_0000_0002],
      ["store", "writeU64", 16, 8, (1n << 64n) - 1n],
    ],
  );
  assert.deepEqual(seenInHook, [0x2345]);
  assert.deepEqual(stores.map((s) => s.seq), [1, 2, 3, 4, 5]);
  assert.equal(memory.stores, 5);
});

Deno.test("every load accessor runs the load hooks and is counted per address", () => {
  const { memory, loads } = snooping();
  memory.quietly(() => {
    memory.writeU64(BASE + 8, 0x0000_0001_0000_0002);
    memory.writeU16(BASE + 2, 7);
  });
  assert.equal(memory.readU8(BASE + 2), 7);
  assert.equal(memory.readU16(BASE + 2), 7);
  assert.equal(memory.readU32(BASE + 8), 2);
  assert.equal(memory.readU64(BASE + 8), 0x1_0000_0002n);
  assert.equal(memory.readU64Number(BASE + 8), 0x1_0000_0002);
  assert.deepEqual(
    loads.map((l) => [l.method, l.address - BASE, l.width, l.value]),
    [
      ["readU8", 2, 1, 7],
      ["readU16", 2, 2, 7],
      ["readU32", 8, 4, 2],
      ["readU64", 8, 8, 0x1_0000_0002n],
      ["readU64Number", 8, 8, 0x1_0000_0002],
    ],
  );
  assert.equal(memory.loads, 5);
  assert.equal(memory.loadsAt(BASE + 2), 2);
  assert.equal(memory.loadsAt(BASE + 8), 3);
  assert.equal(memory.loadsIn({ start: BASE, bytes: 8 }), 2);
  assert.equal(memory.loadsIn({ start: BASE + 8, bytes: 1 }), 3);
  memory.resetCounts();
  assert.equal(memory.loads, 0);
  assert.equal(memory.loadsAt(BASE + 8), 0);
});

Deno.test("bulk copies are one observed access each; a view is observed when it is taken", () => {
  const { memory, stores, loads } = snooping();
  memory.write(BASE + 0x100, new Uint8Array([1, 2, 3]));
  memory.fill(BASE + 0x200, 16, 0xee);
  const out = new Uint8Array(3);
  memory.read(BASE + 0x100, out);
  assert.deepEqual([...out], [1, 2, 3]);
  const view = memory.bytes(BASE + 0x300, 4);
  view[0] = 9; // written through the view: not observable
  assert.deepEqual(
    stores.map((s) => [s.kind, s.method, s.address - BASE, s.width, s.value]),
    [
      ["store", "write", 0x100, 3, null],
      ["store", "fill", 0x200, 16, null],
      ["view", "bytes", 0x300, 4, null],
    ],
  );
  // read() is one bulk load, not also a view (the base class reads through bytes()).
  assert.deepEqual(loads.map((l) => [l.kind, l.method, l.width]), [["load", "read", 3]]);
  assert.equal(memory.views, 1);
  assert.equal(memory.quietly(() => memory.readU8(BASE + 0x300)), 9);
});

Deno.test("quietly, hooks and dumps are not observed; record keeps every access in order", () => {
  const { memory, stores, loads } = snooping();
  const log = memory.record();
  memory.quietly(() => {
    memory.writeU16(BASE, 1);
    memory.readU16(BASE);
  });
  assert.equal(memory.observing, true);
  memory.onStore(() => {
    assert.equal(memory.observing, false);
    memory.writeU32(BASE + 0x40, 5); // inside a hook: not observed, no recursion
  });
  memory.writeU16(BASE + 2, 2);
  memory.dump(BASE, 32);
  memory.readU16(BASE + 2);
  assert.deepEqual(stores.map((s) => s.address - BASE), [2]);
  assert.deepEqual(loads.map((l) => l.address - BASE), [2]);
  assert.deepEqual(log.map((a) => `${a.kind}@${a.address - BASE}`), ["store@2", "load@2"]);
  assert.equal(memory.quietly(() => memory.readU32(BASE + 0x40)), 5);
  assert.deepEqual(memory.record(false), []);
  memory.readU16(BASE);
  assert.equal(log.length, 2);
});

Deno.test("watchStores detects stores and views into a range, and only those", () => {
  const memory = new SnoopingMemory(0x1000, { base: BASE });
  const table = { start: BASE + 0x100, bytes: 0x80, name: "descriptor table" };
  const watch = memory.watchStores(table);
  memory.writeU16(BASE + 0xfe, 1); // ends just before the range
  memory.writeU32(BASE + 0xfe, 1); // straddles its start
  memory.writeU16(BASE + 0x17e, 1); // its last two bytes
  memory.writeU8(BASE + 0x180, 1); // just after
  memory.bytes(BASE + 0x140, 8);
  memory.readU16(BASE + 0x100);
  assert.deepEqual(watch.stores.map((s) => `${s.method}@${(s.address - BASE).toString(16)}`), [
    "writeU32@fe",
    "writeU16@17e",
    "bytes@140",
  ]);
  watch.stop();
  memory.writeU16(BASE + 0x100, 1);
  assert.equal(watch.stores.length, 3);
  assert.equal(touches(watch.stores[0], table), true);
});

Deno.test("a hook's error reaches the caller of the accessor; removed hooks stop running", () => {
  const memory = new SnoopingMemory(0x100);
  const stop = memory.onStore(() => {
    throw new RangeError("stop here");
  });
  assert.throws(() => memory.writeU16(0, 1), /stop here/);
  assert.equal(memory.quietly(() => memory.readU16(0)), 1, "the store happened before the hook");
  assert.equal(memory.observing, true, "the memory observes again after a hook threw");
  stop();
  memory.writeU16(0, 2);
});

Deno.test("an access outside RAM throws as GuestMemory does and runs no hook", () => {
  const { memory, stores, loads } = snooping();
  assert.throws(() => memory.writeU32(BASE + 0xffe, 1), GuestMemoryError);
  assert.throws(() => memory.readU64Number(BASE - 8), GuestMemoryError);
  assert.throws(() => memory.bytes(BASE + 0xfff, 2), GuestMemoryError);
  assert.equal(stores.length + loads.length, 0);
});
