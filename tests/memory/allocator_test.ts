// Tests for memory/allocator.ts: alignment, disjoint allocations, coalescing,
// errors, zeroing and allocators over part of RAM.

import assert from "node:assert/strict";
import fc from "fast-check";
import { alignUp, GuestAllocator, GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { GuestMemory, hexAddress } from "../../memory/guest_memory.ts";

/** RAM at an odd base, so that alignment has to be absolute, not relative to the base. */
const ODD_BASE = 0x4000_0001;

Deno.test("every power-of-two alignment up to 4096 is honoured at an unaligned base", () => {
  const mem = new GuestMemory(1 << 20, { base: ODD_BASE });
  const heap = new GuestAllocator(mem);
  for (let align = 1; align <= 4096; align *= 2) {
    for (const size of [1, 3, 16, align, align + 1]) {
      const address = heap.alloc(size, align);
      assert.equal(address % align, 0, `alloc(${size}, ${align}) gave ${hexAddress(address)}`);
      assert.ok(address >= mem.base && address + size <= mem.end);
      assert.equal(heap.sizeOf(address), size);
    }
  }
});

Deno.test("the default alignment is 16 bytes (a descriptor table's)", () => {
  const heap = new GuestAllocator(new GuestMemory(4096, { base: ODD_BASE }));
  for (let i = 0; i < 10; i++) assert.equal(heap.alloc(7) % 16, 0);
});

Deno.test("alignment padding stays free and is reused", () => {
  const heap = new GuestAllocator(new GuestMemory(4096, { base: 0x1000 }));
  const a = heap.alloc(1, 1);
  const b = heap.alloc(16, 256);
  assert.equal(a, 0x1000);
  assert.equal(b, 0x1100);
  assert.equal(heap.used, 17, "padding is not counted as used");
  assert.equal(heap.available, 4096 - 17);
  assert.equal(heap.alloc(255, 1), 0x1001, "the gap before the aligned block is handed out");
});

interface Live {
  readonly address: number;
  readonly size: number;
  readonly align: number;
}

Deno.test("property: random alloc/free sequences keep allocations disjoint and the books balanced", () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("alloc" as const),
      size: fc.integer({ min: 1, max: 700 }),
      alignLog: fc.integer({ min: 0, max: 9 }),
    }),
    fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4096 }),
      fc.array(op, { maxLength: 120 }),
      (baseOffset, ops) => {
        const base = 0x10_0000 + baseOffset;
        const mem = new GuestMemory(8192, { base });
        const heap = new GuestAllocator(mem);
        const total = heap.end - heap.start;
        const live: Live[] = [];
        for (const o of ops) {
          if (o.kind === "alloc") {
            const align = 2 ** o.alignLog;
            try {
              const address = heap.alloc(o.size, align);
              live.push({ address, size: o.size, align });
            } catch (e) {
              assert.ok(e instanceof GuestOutOfMemoryError, String(e));
              assert.equal(e.free, heap.available);
            }
          } else if (live.length > 0) {
            const [gone] = live.splice(o.pick % live.length, 1);
            heap.free(gone.address);
          }
          const sorted = [...live].sort((a, b) => a.address - b.address);
          for (let i = 0; i < sorted.length; i++) {
            const x = sorted[i];
            assert.equal(x.address % x.align, 0);
            assert.ok(x.address >= heap.start && x.address + x.size <= heap.end);
            if (i > 0) {
              const prev = sorted[i - 1];
              assert.ok(prev.address + prev.size <= x.address, "allocations overlap");
            }
            assert.equal(heap.sizeOf(x.address), x.size);
          }
          const used = live.reduce((sum, x) => sum + x.size, 0);
          assert.equal(heap.used, used);
          assert.equal(heap.available + heap.used, total);
          assert.equal(heap.count, live.length);
        }
        // Freeing everything coalesces back to a single extent.
        for (const x of live) heap.free(x.address);
        assert.equal(heap.available, total);
        assert.equal(heap.count, 0);
        assert.equal(heap.alloc(total, 1), heap.start);
      },
    ),
  );
});

Deno.test("freeing everything in any order restores one free extent", () => {
  for (const order of [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 3, 0, 4, 2], [2, 0, 4, 1, 3]]) {
    const heap = new GuestAllocator(new GuestMemory(5 * 64, { base: 0x2000 }));
    const blocks = [0, 1, 2, 3, 4].map(() => heap.alloc(64, 64));
    assert.throws(() => heap.alloc(1, 1), GuestOutOfMemoryError);
    for (const i of order) heap.free(blocks[i]);
    assert.equal(heap.alloc(5 * 64, 1), 0x2000, `order ${order}`);
  }
});

Deno.test("freeing a middle block merges with both free neighbours", () => {
  const heap = new GuestAllocator(new GuestMemory(300, { base: 0 }));
  const a = heap.alloc(100, 1);
  const b = heap.alloc(100, 1);
  const c = heap.alloc(100, 1);
  heap.free(a);
  heap.free(c);
  assert.throws(() => heap.alloc(101, 1), GuestOutOfMemoryError, "200 free bytes, but split");
  heap.free(b);
  assert.equal(heap.alloc(300, 1), 0);
});

Deno.test("double free, unknown and interior addresses throw RangeError naming the address", () => {
  const heap = new GuestAllocator(new GuestMemory(4096, { base: 0x1000 }));
  const a = heap.alloc(64);
  heap.free(a);
  for (const address of [a, 0x1010, 0x1_0000, -1]) {
    assert.throws(
      () => heap.free(address),
      (e: unknown) => e instanceof RangeError && e.message.includes(hexAddress(address)),
      hexAddress(address),
    );
  }
  const b = heap.alloc(64);
  assert.throws(() => heap.free(b + 1), RangeError, "inside an allocation");
  heap.free(b);
  assert.equal(heap.count, 0);
  assert.equal(heap.available, 4096);
});

Deno.test("GuestOutOfMemoryError carries size, alignment and free bytes", () => {
  const heap = new GuestAllocator(new GuestMemory(1024, { base: 0x1000 }));
  heap.alloc(100, 1);
  let thrown: unknown;
  try {
    heap.alloc(1000, 8);
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof GuestOutOfMemoryError);
  assert.ok(thrown instanceof RangeError);
  assert.equal(thrown.name, "GuestOutOfMemoryError");
  assert.equal(thrown.size, 1000);
  assert.equal(thrown.align, 8);
  assert.equal(thrown.free, 924);
  assert.match(thrown.message, /1000 byte\(s\) aligned to 8: 924 byte\(s\) free/);
});

Deno.test("a fragmented heap throws GuestOutOfMemoryError although enough bytes are free", () => {
  const heap = new GuestAllocator(new GuestMemory(256, { base: 0 }));
  const blocks = Array.from({ length: 8 }, () => heap.alloc(32, 1));
  for (let i = 1; i < 8; i += 2) heap.free(blocks[i]); // free 32..64, 96..128, ...
  assert.equal(heap.available, 128);
  assert.throws(
    () => heap.alloc(64, 1),
    (e: unknown) => e instanceof GuestOutOfMemoryError && e.free === 128 && e.size === 64,
  );
  assert.throws(() => heap.alloc(32, 64), GuestOutOfMemoryError, "alignment cannot be met");
  assert.equal(heap.alloc(32, 32), 32);
});

Deno.test("invalid sizes and alignments throw RangeError, not out-of-memory", () => {
  const heap = new GuestAllocator(new GuestMemory(4096));
  for (const size of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(
      () => heap.alloc(size),
      (e: unknown) => e instanceof RangeError && !(e instanceof GuestOutOfMemoryError),
      String(size),
    );
  }
  for (const align of [0, -2, 3, 6, 1.5, 24, NaN]) {
    assert.throws(
      () => heap.alloc(16, align),
      (e: unknown) => e instanceof RangeError && !(e instanceof GuestOutOfMemoryError),
      String(align),
    );
  }
  assert.equal(heap.count, 0);
});

Deno.test({
  name: "alignments above 2^31 that are not powers of two are rejected",
  fn() {
    const heap = new GuestAllocator(new GuestMemory(4096));
    for (const align of [3 * 2 ** 31, 3 * 2 ** 32, 2 ** 33 + 2 ** 32]) {
      assert.throws(
        () => heap.alloc(16, align),
        (e: unknown) => e instanceof RangeError && !(e instanceof GuestOutOfMemoryError),
        String(align),
      );
    }
  },
});

Deno.test("zero: true clears the region; the default leaves bytes alone", () => {
  const mem = new GuestMemory(256, { base: 0x1000 });
  mem.fill(0x1000, 256, 0xee);
  const heap = new GuestAllocator(mem);
  const dirty = heap.alloc(32, 16);
  assert.ok(mem.bytes(dirty, 32).every((b) => b === 0xee), "allocation alone must not write");
  const clean = heap.alloc(32, 16, { zero: true });
  assert.ok(mem.bytes(clean, 32).every((b) => b === 0));
  assert.ok(mem.bytes(clean + 32, 16).every((b) => b === 0xee), "only the region is cleared");
});

Deno.test("an allocator over a sub-range hands out only that range", () => {
  const mem = new GuestMemory(0x4000, { base: 0x8000 });
  mem.fill(0x8000, 0x4000, 0xee);
  const heap = new GuestAllocator(mem, { start: 0x9000, end: 0xa000 });
  assert.equal(heap.start, 0x9000);
  assert.equal(heap.end, 0xa000);
  assert.equal(heap.available, 0x1000);
  const seen: number[] = [];
  for (;;) {
    try {
      seen.push(heap.alloc(0x100, 0x100, { zero: true }));
    } catch (e) {
      assert.ok(e instanceof GuestOutOfMemoryError);
      break;
    }
  }
  assert.equal(seen.length, 16);
  assert.ok(seen.every((a) => a >= 0x9000 && a + 0x100 <= 0xa000));
  assert.equal(heap.used, 0x1000);
  assert.ok(mem.bytes(0x9000, 0x1000).every((b) => b === 0), "the range was zeroed");
  assert.ok(mem.bytes(0x8000, 0x1000).every((b) => b === 0xee), "below the range untouched");
  assert.ok(mem.bytes(0xa000, 0x2000).every((b) => b === 0xee), "above the range untouched");
});

Deno.test("an allocator manages memory wrapped from someone else's buffer", () => {
  const buffer = new ArrayBuffer(0x3000);
  const outside = new Uint8Array(buffer);
  outside.fill(0x11);
  const mem = GuestMemory.wrap(buffer, {
    base: 0x4000_0000,
    byteOffset: 0x1000,
    byteLength: 0x1000,
  });
  const heap = new GuestAllocator(mem, { start: 0x4000_0800 });
  const a = heap.alloc(0x10, 16, { zero: true });
  assert.equal(a, 0x4000_0800);
  assert.ok(outside.subarray(0x1800, 0x1810).every((b) => b === 0), "zeroing reaches the buffer");
  assert.ok(outside.subarray(0x1810).every((b) => b === 0x11));
  assert.ok(outside.subarray(0, 0x1800).every((b) => b === 0x11));
});

Deno.test("a range outside RAM, or ending before it starts, is rejected", () => {
  const mem = new GuestMemory(0x1000, { base: 0x1000 });
  const bad = [
    { start: 0x0fff },
    { end: 0x2001 },
    { start: 0x1800, end: 0x17ff },
    { start: 0x3000, end: 0x3000 },
    { start: 0x1000 + 0.5 },
    { end: NaN },
  ];
  for (const options of bad) {
    assert.throws(() => new GuestAllocator(mem, options), RangeError, JSON.stringify(options));
  }
  const empty = new GuestAllocator(mem, { start: 0x1800, end: 0x1800 });
  assert.equal(empty.available, 0);
  assert.throws(() => empty.alloc(1, 1), GuestOutOfMemoryError);
});

Deno.test("sizeOf reports live allocations only", () => {
  const heap = new GuestAllocator(new GuestMemory(1024));
  const a = heap.alloc(40, 8);
  assert.equal(heap.sizeOf(a), 40);
  assert.equal(heap.sizeOf(a + 8), undefined);
  heap.free(a);
  assert.equal(heap.sizeOf(a), undefined);
});

Deno.test("alignUp rounds up to a multiple of a power of two", () => {
  assert.equal(alignUp(0, 16), 0);
  assert.equal(alignUp(1, 16), 16);
  assert.equal(alignUp(16, 16), 16);
  assert.equal(alignUp(17, 4096), 4096);
  assert.equal(alignUp(0x4000_0001, 1), 0x4000_0001);
  assert.equal(alignUp(2 ** 40 + 1, 2 ** 32), 2 ** 40 + 2 ** 32);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 48 }), fc.integer({ min: 0, max: 20 }), (v, log) => {
      const a = 2 ** log;
      const r = alignUp(v, a);
      assert.ok(r >= v && r - v < a && r % a === 0);
    }),
  );
});

Deno.test("Deno.inspect shows range, use and count", () => {
  const heap = new GuestAllocator(new GuestMemory(256, { base: 0x1000 }));
  heap.alloc(16);
  assert.equal(
    Deno.inspect(heap),
    "GuestAllocator { [0x00001000, 0x00001100), 16 used, 240 free, 1 allocation(s) }",
  );
});
