// Tests for memory/guest_memory.ts: little-endian accessors, base addresses,
// out-of-range errors, zero-copy views and wrapped buffers.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  GuestMemory,
  GuestMemoryError,
  hexAddress,
  hexDump,
  MAX_GUEST_ADDRESS,
  MAX_GUEST_MEMORY_SIZE,
} from "../../memory/guest_memory.ts";

const BASE = 0x4000_0000;
const SIZE = 4096;

/** A fresh 4 KiB of RAM at BASE and a raw byte view of its buffer. */
function ram(): { mem: GuestMemory; raw: Uint8Array } {
  const mem = new GuestMemory(SIZE, { base: BASE });
  return { mem, raw: new Uint8Array(mem.buffer) };
}

/** Asserts that `fn` throws a GuestMemoryError for `[address, address + length)`. */
function assertOutside(fn: () => unknown, mem: GuestMemory, address: number, length: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GuestMemoryError, `expected GuestMemoryError, got ${e}`);
    assert.ok(e instanceof RangeError);
    assert.equal(e.name, "GuestMemoryError");
    assert.ok(Object.is(e.address, address), `address ${e.address} vs ${address}`);
    assert.equal(e.length, length);
    assert.equal(e.base, mem.base);
    assert.equal(e.size, mem.size);
    assert.ok(
      e.message.includes(hexAddress(address)),
      `message "${e.message}" does not name ${hexAddress(address)}`,
    );
    assert.ok(e.message.includes(`${length} byte(s)`), e.message);
    assert.ok(e.message.includes(`[${hexAddress(mem.base)}, ${hexAddress(mem.end)})`), e.message);
    return true;
  });
}

Deno.test("u16, u32 and u64 writes store the least significant byte first", () => {
  const { mem, raw } = ram();
  mem.writeU8(BASE, 0xab);
  mem.writeU16(BASE + 0x10, 0x1234);
  mem.writeU32(BASE + 0x20, 0x1234_5678);
  mem.writeU64(BASE + 0x30, 0x0102_0304_0506_0708n);
  assert.deepEqual([...raw.subarray(0, 1)], [0xab]);
  assert.deepEqual([...raw.subarray(0x10, 0x12)], [0x34, 0x12]);
  assert.deepEqual([...raw.subarray(0x20, 0x24)], [0x78, 0x56, 0x34, 0x12]);
  assert.deepEqual([...raw.subarray(0x30, 0x38)], [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]);
});

Deno.test("u16, u32 and u64 reads take the least significant byte first", () => {
  const { mem, raw } = ram();
  raw.set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88], 0x100);
  assert.equal(mem.readU8(BASE + 0x100), 0x01);
  assert.equal(mem.readU16(BASE + 0x100), 0x0201);
  assert.equal(mem.readU32(BASE + 0x100), 0x0403_0201);
  assert.equal(mem.readU64(BASE + 0x100), 0x8807_0605_0403_0201n);
  // Unaligned accesses are allowed (virtio structures are packed).
  assert.equal(mem.readU16(BASE + 0x101), 0x0302);
  assert.equal(mem.readU32(BASE + 0x103), 0x0706_0504);
  // "virt" is 0x74726976 read as a little-endian u32.
  mem.write(BASE, new TextEncoder().encode("virt"));
  assert.equal(mem.readU32(BASE), 0x7472_6976);
});

Deno.test("writes keep the low bits of oversized values; reads are unsigned", () => {
  const { mem } = ram();
  mem.writeU8(BASE, 0x1ff);
  assert.equal(mem.readU8(BASE), 0xff);
  mem.writeU8(BASE, -1);
  assert.equal(mem.readU8(BASE), 0xff);
  mem.writeU16(BASE, 0x1_2345);
  assert.equal(mem.readU16(BASE), 0x2345);
  mem.writeU16(BASE, -2);
  assert.equal(mem.readU16(BASE), 0xfffe);
  mem.writeU32(BASE, 2 ** 32 + 5);
  assert.equal(mem.readU32(BASE), 5);
  mem.writeU32(BASE, -1);
  assert.equal(mem.readU32(BASE), 0xffff_ffff);
  mem.writeU64(BASE, (1n << 64n) + 7n);
  assert.equal(mem.readU64(BASE), 7n);
  mem.writeU64(BASE, -1n);
  assert.equal(mem.readU64(BASE), 0xffff_ffff_ffff_ffffn);
});

Deno.test("writeU64 takes safe non-negative numbers and rejects others", () => {
  const { mem, raw } = ram();
  mem.writeU64(BASE, MAX_GUEST_ADDRESS);
  assert.equal(mem.readU64(BASE), 2n ** 53n - 1n);
  assert.deepEqual([...raw.subarray(0, 8)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00]);
  mem.writeU64(BASE, 0x1_0000_0002);
  assert.equal(mem.readU64(BASE), 0x1_0000_0002n);
  mem.writeU64(BASE, 0);
  assert.equal(mem.readU64(BASE), 0n);
  for (const bad of [-1, 1.5, 2 ** 53, NaN, Infinity]) {
    assert.throws(
      () => mem.writeU64(BASE + 8, bad),
      (e: unknown) => e instanceof RangeError && !(e instanceof GuestMemoryError),
      String(bad),
    );
  }
  assert.deepEqual(
    [...raw.subarray(8, 16)],
    [0, 0, 0, 0, 0, 0, 0, 0],
    "a rejected write stores nothing",
  );
});

Deno.test("readU64Number is exact up to 2^53 - 1 and Infinity above", () => {
  const { mem } = ram();
  const cases: [bigint, number][] = [
    [0n, 0],
    [0x1234n, 0x1234],
    [0xffff_ffffn, 0xffff_ffff],
    [0x1_0000_0000n, 0x1_0000_0000],
    [2n ** 53n - 1n, MAX_GUEST_ADDRESS],
    [2n ** 53n, Infinity],
    [2n ** 53n + 1n, Infinity],
    [2n ** 63n, Infinity],
    [2n ** 64n - 1n, Infinity],
  ];
  for (const [stored, expected] of cases) {
    mem.writeU64(BASE + 0x40, stored);
    assert.equal(mem.readU64Number(BASE + 0x40), expected, `0x${stored.toString(16)}`);
  }
});

Deno.test("property: every accessor round-trips and agrees with a byte-by-byte model", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          width: fc.constantFrom(1, 2, 4, 8),
          offset: fc.integer({ min: 0, max: 64 - 8 }),
          value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        }),
        { maxLength: 40 },
      ),
      (writes) => {
        const mem = new GuestMemory(64, { base: 0x1000 });
        const model = new Uint8Array(64);
        for (const { width, offset, value } of writes) {
          const v = value & ((1n << BigInt(8 * width)) - 1n);
          const address = 0x1000 + offset;
          if (width === 1) mem.writeU8(address, Number(v));
          if (width === 2) mem.writeU16(address, Number(v));
          if (width === 4) mem.writeU32(address, Number(v));
          if (width === 8) mem.writeU64(address, v);
          for (let i = 0; i < width; i++) model[offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
          const back = width === 1
            ? BigInt(mem.readU8(address))
            : width === 2
            ? BigInt(mem.readU16(address))
            : width === 4
            ? BigInt(mem.readU32(address))
            : mem.readU64(address);
          assert.equal(back, v);
        }
        assert.deepEqual(mem.bytes(0x1000, 64), model);
      },
    ),
  );
});

Deno.test("addresses are guest-physical: RAM starts at base", () => {
  const { mem, raw } = ram();
  assert.equal(mem.base, BASE);
  assert.equal(mem.size, SIZE);
  assert.equal(mem.end, BASE + SIZE);
  mem.writeU8(BASE, 1);
  mem.writeU8(BASE + SIZE - 1, 2);
  assert.equal(raw[0], 1);
  assert.equal(raw[SIZE - 1], 2);
  assert.ok(mem.contains(BASE, SIZE));
  assert.ok(mem.contains(BASE + SIZE, 0), "an empty range at the end is inside");
  assert.ok(!mem.contains(BASE - 1, 1));
  assert.ok(!mem.contains(BASE + SIZE - 1, 2));
  assert.ok(!mem.contains(0, 1));
  assert.ok(!mem.contains(BASE, -1));
  assert.ok(!mem.contains(BASE + 0.5, 1));
  assert.ok(!mem.contains(BASE, 0.5));
  mem.check(BASE + 8, 8);
  assertOutside(() => mem.check(BASE + SIZE, 1), mem, BASE + SIZE, 1);
  assertOutside(() => mem.check(BASE, -1), mem, BASE, -1);
});

Deno.test("default base is 0 and new RAM is zeroed", () => {
  const mem = new GuestMemory(256);
  assert.equal(mem.base, 0);
  assert.equal(mem.end, 256);
  assert.ok(mem.bytes(0, 256).every((b) => b === 0));
});

const ACCESSORS: readonly [string, number, (m: GuestMemory, a: number) => unknown][] = [
  ["readU8", 1, (m, a) => m.readU8(a)],
  ["readU16", 2, (m, a) => m.readU16(a)],
  ["readU32", 4, (m, a) => m.readU32(a)],
  ["readU64", 8, (m, a) => m.readU64(a)],
  ["readU64Number", 8, (m, a) => m.readU64Number(a)],
  ["writeU8", 1, (m, a) => m.writeU8(a, 1)],
  ["writeU16", 2, (m, a) => m.writeU16(a, 1)],
  ["writeU32", 4, (m, a) => m.writeU32(a, 1)],
  ["writeU64 (bigint)", 8, (m, a) => m.writeU64(a, 1n)],
  ["writeU64 (number)", 8, (m, a) => m.writeU64(a, 1)],
  ["bytes", 3, (m, a) => m.bytes(a, 3)],
  ["read", 3, (m, a) => m.read(a, new Uint8Array(3))],
  ["write", 3, (m, a) => m.write(a, new Uint8Array(3))],
  ["fill", 3, (m, a) => m.fill(a, 3, 0xee)],
  ["dump", 3, (m, a) => m.dump(a, 3)],
  ["check", 3, (m, a) => m.check(a, 3)],
];

Deno.test("every accessor throws GuestMemoryError with address, length, base and size", async (t) => {
  for (const [name, length, access] of ACCESSORS) {
    await t.step(name, () => {
      const { mem, raw } = ram();
      const cases: [string, number][] = [
        ["below base", BASE - 1],
        ["far below base", 0],
        ["at the end", BASE + SIZE],
        ["straddling the end", BASE + SIZE - length + 1],
        ["above the end", BASE + SIZE + 0x1000],
        ["negative", -length],
        ["NaN", NaN],
        ["fractional", BASE + 0.5],
        ["Infinity", Infinity],
        ["beyond 2^53", 2 ** 53 + 2],
        // The accessors' fast check is `(offset >>> 0) === offset`; an offset
        // 2^32 past a valid one truncates to it and must still be refused.
        ["2^32 above a valid address", BASE + 2 ** 32],
        ["2^32 above the last valid address", BASE + SIZE - length + 2 ** 32],
      ];
      for (const [what, address] of cases) {
        assertOutside(() => access(mem, address), mem, address, length);
        assert.ok(raw.every((b) => b === 0), `${name} ${what} changed RAM`);
      }
      // The last bytes of RAM are in range.
      access(mem, BASE + SIZE - length);
    });
  }
});

Deno.test("errors name the address in hex", () => {
  const mem = new GuestMemory(16, { base: 0x1000 });
  assert.throws(
    () => mem.readU32(0x100e),
    /4 byte\(s\) at 0x0000100e is outside RAM \[0x00001000, 0x00001010\)/,
  );
  assert.throws(() => mem.readU8(-4), /at -0x00000004 /);
  assert.throws(() => mem.readU8(NaN), /at NaN /);
});

Deno.test({
  name: "a negative or fractional length is out of range for bytes, fill and dump",
  fn() {
    const { mem, raw } = ram();
    for (const length of [-1, -SIZE, 1.5, -0.5]) {
      assertOutside(() => mem.bytes(BASE, length), mem, BASE, length);
      assertOutside(() => mem.fill(BASE, length, 0xee), mem, BASE, length);
      assertOutside(() => mem.dump(BASE, length), mem, BASE, length);
    }
    assert.ok(raw.every((b) => b === 0));
  },
});

Deno.test("an offset of -0 is offset 0, and lengths of 2^32 or more are out of range", () => {
  const mem = new GuestMemory(16);
  mem.writeU32(-0, 0x1234_5678);
  assert.equal(mem.readU32(-0), 0x1234_5678);
  assert.equal(mem.readU16(0), 0x5678);
  assert.ok(mem.contains(-0, 16));
  assert.ok(!mem.contains(0, 2 ** 32));
  assert.ok(!mem.contains(0, 2 ** 32 + 1), "a length 2^32 + 1 does not wrap to 1");
  assert.ok(!mem.contains(2 ** 32, 1), "an offset 2^32 does not wrap to 0");
});

Deno.test("zero-length accesses are allowed anywhere inside or at the end of RAM", () => {
  const { mem } = ram();
  assert.equal(mem.bytes(BASE, 0).length, 0);
  assert.equal(mem.bytes(BASE + SIZE, 0).length, 0);
  mem.read(BASE + SIZE, new Uint8Array(0));
  mem.write(BASE + SIZE, new Uint8Array(0));
  assertOutside(() => mem.bytes(BASE + SIZE + 1, 0), mem, BASE + SIZE + 1, 0);
});

Deno.test("bytes is a zero-copy view: writes go through both ways", () => {
  const { mem } = ram();
  const view = mem.bytes(BASE + 0x10, 4);
  assert.equal(view.length, 4);
  assert.equal(view.buffer, mem.buffer);
  view.set([0x78, 0x56, 0x34, 0x12]);
  assert.equal(mem.readU32(BASE + 0x10), 0x1234_5678);
  mem.writeU16(BASE + 0x12, 0xbeef);
  assert.deepEqual([...view], [0x78, 0x56, 0xef, 0xbe]);
  // The view is limited to its range.
  assert.equal(mem.bytes(BASE + 0x10, 4).subarray(0, 100).length, 4);
});

Deno.test("read and write copy: later changes do not leak either way", () => {
  const { mem } = ram();
  const src = Uint8Array.of(1, 2, 3);
  mem.write(BASE + 5, src);
  src[0] = 99;
  assert.equal(mem.readU8(BASE + 5), 1);
  const dest = new Uint8Array(3);
  mem.read(BASE + 5, dest);
  assert.deepEqual([...dest], [1, 2, 3]);
  dest[1] = 99;
  assert.equal(mem.readU8(BASE + 6), 2);
});

Deno.test("fill sets a range and nothing else", () => {
  const { mem, raw } = ram();
  mem.fill(BASE + 2, 3, 0xaa);
  assert.deepEqual([...raw.subarray(0, 6)], [0, 0, 0xaa, 0xaa, 0xaa, 0]);
  mem.fill(BASE + 3, 1);
  assert.deepEqual([...raw.subarray(0, 6)], [0, 0, 0xaa, 0, 0xaa, 0]);
});

Deno.test("wrap shares an existing ArrayBuffer slice both ways", () => {
  const buffer = new ArrayBuffer(64);
  const outside = new Uint8Array(buffer);
  outside.fill(0x5a);
  const mem = GuestMemory.wrap(buffer, { base: 0x8000, byteOffset: 16, byteLength: 32 });
  assert.equal(mem.buffer, buffer);
  assert.equal(mem.base, 0x8000);
  assert.equal(mem.size, 32);
  assert.equal(mem.end, 0x8020);
  assert.equal(mem.readU8(0x8000), 0x5a, "sees existing contents");
  mem.writeU32(0x8000, 0x0403_0201);
  assert.deepEqual([...outside.subarray(16, 20)], [1, 2, 3, 4], "RAM byte 0 is buffer byte 16");
  outside[16 + 31] = 0x77;
  assert.equal(mem.readU8(0x801f), 0x77, "changes from outside are visible");
  mem.fill(0x8000, 32, 0);
  assert.ok(outside.subarray(0, 16).every((b) => b === 0x5a), "bytes before the slice untouched");
  assert.ok(outside.subarray(48).every((b) => b === 0x5a), "bytes after the slice untouched");
  assertOutside(() => mem.readU8(0x8020), mem, 0x8020, 1);
  assertOutside(() => mem.readU8(0x7fff), mem, 0x7fff, 1);
});

Deno.test("wrap of a SharedArrayBuffer slice sees and makes changes", () => {
  const shared = new SharedArrayBuffer(4096);
  const other = new Uint8Array(shared);
  const mem = GuestMemory.wrap(shared, { base: 0x1_0000_0000, byteOffset: 1024 });
  assert.equal(mem.size, 3072, "the rest of the buffer by default");
  assert.equal(mem.buffer, shared);
  mem.writeU64(0x1_0000_0000, 0x1122_3344_5566_7788n);
  assert.deepEqual([...other.subarray(1024, 1032)], [
    0x88,
    0x77,
    0x66,
    0x55,
    0x44,
    0x33,
    0x22,
    0x11,
  ]);
  other[4095] = 9;
  assert.equal(mem.readU8(0x1_0000_0000 + 3071), 9);
  const view = mem.bytes(0x1_0000_0000, 2);
  assert.equal(view.buffer, shared);
});

Deno.test("the constructor wraps a buffer like wrap does", () => {
  const buffer = new ArrayBuffer(8);
  const mem = new GuestMemory(buffer, { base: 0x10 });
  assert.equal(mem.buffer, buffer);
  assert.equal(mem.size, 8);
  mem.writeU8(0x17, 3);
  assert.equal(new Uint8Array(buffer)[7], 3);
});

Deno.test("wrap rejects slices that do not fit the buffer", () => {
  const buffer = new ArrayBuffer(64);
  const bad: { byteOffset?: number; byteLength?: number }[] = [
    { byteOffset: 65 },
    { byteOffset: 60, byteLength: 8 },
    { byteOffset: -1 },
    { byteLength: -1 },
    { byteOffset: 1.5 },
    { byteLength: 2.5 },
    { byteLength: 65 },
  ];
  for (const options of bad) {
    assert.throws(() => GuestMemory.wrap(buffer, options), RangeError, JSON.stringify(options));
  }
  assert.equal(
    GuestMemory.wrap(buffer, { byteOffset: 64 }).size,
    0,
    "an empty slice at the end is fine",
  );
});

Deno.test("sizes and bases must be non-negative integers ending at or below 2^53", () => {
  for (const size of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => new GuestMemory(size), RangeError, String(size));
  }
  for (const base of [-1, 0.5, NaN, MAX_GUEST_ADDRESS]) {
    assert.throws(() => new GuestMemory(16, { base }), RangeError, String(base));
  }
  assert.throws(() => GuestMemory.wrap(new ArrayBuffer(16), { base: -16 }), RangeError);
  const high = new GuestMemory(16, { base: MAX_GUEST_ADDRESS - 16 });
  assert.equal(high.end, MAX_GUEST_ADDRESS);
  high.writeU8(MAX_GUEST_ADDRESS - 1, 1);
  assert.equal(high.readU8(MAX_GUEST_ADDRESS - 1), 1);
  assert.equal(new GuestMemory(0).size, 0);
});

Deno.test("one region holds at most 4 GiB, so every offset is below 2^32", () => {
  assert.equal(MAX_GUEST_MEMORY_SIZE, 2 ** 32);
  assert.throws(() => new GuestMemory(2 ** 32 + 1), /over 4 GiB .* several regions/);
  assert.throws(() => new GuestMemory(2 ** 40, { base: 0x1_0000_0000 }), RangeError);
});

Deno.test("an access to a buffer detached (transferred) elsewhere is a TypeError, not outside RAM", () => {
  const buffer = new ArrayBuffer(64);
  const mem = GuestMemory.wrap(buffer, { base: BASE });
  mem.writeU32(BASE, 7);
  const moved = buffer.transfer();
  assert.equal(new DataView(moved).getUint32(0, true), 7);
  for (
    const access of [
      () => mem.readU16(BASE),
      () => mem.writeU32(BASE, 1),
      () => mem.readU64Number(BASE),
    ]
  ) {
    assert.throws(access, (e: unknown) => e instanceof TypeError && /detached/.test(String(e)));
  }
});

Deno.test("hexAddress pads to 8 digits and keeps the sign", () => {
  assert.equal(hexAddress(0), "0x00000000");
  assert.equal(hexAddress(0x1e000), "0x0001e000");
  assert.equal(hexAddress(0x1_0000_0000), "0x100000000");
  assert.equal(hexAddress(-16), "-0x00000010");
  assert.equal(hexAddress(NaN), "NaN");
  assert.equal(hexAddress(Infinity), "Infinity");
});

Deno.test("dump and hexDump show address, hex bytes and ASCII, 16 bytes a line", () => {
  const { mem } = ram();
  mem.write(BASE + 0x20, new TextEncoder().encode("virtio-lab\0\x7f ok!!!!!!"));
  const lines = mem.dump(BASE + 0x20, 20).split("\n");
  assert.equal(lines.length, 3);
  assert.equal(lines[2], "40000034", "the last line is the offset past the end, as in hexdump -C");
  assert.equal(
    lines[0],
    "40000020  76 69 72 74 69 6f 2d 6c  61 62 00 7f 20 6f 6b 21  |virtio-lab.. ok!|",
  );
  assert.ok(lines[1].startsWith("40000030  21 21 21 21 "), lines[1]);
  assert.ok(lines[1].endsWith(" |!!!!|"), lines[1]);
  assert.equal(lines[1].indexOf("|"), lines[0].indexOf("|"), "the ASCII column lines up");
  assert.equal(hexDump(new Uint8Array(0)), "");
  const [one] = hexDump(Uint8Array.of(0x41), 0x10).split("\n");
  assert.ok(one.startsWith("00000010  41 "), one);
  assert.ok(one.endsWith(" |A|"), one);
  assert.equal(one.indexOf("|"), lines[0].indexOf("|"));
});

Deno.test("hexDump collapses repeated lines into one '*' like hexdump -C", () => {
  const bytes = new Uint8Array(512);
  bytes[0] = 0x41;
  assert.deepEqual(hexDump(bytes, 0x400).split("\n"), [
    "00000400  41 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |A...............|",
    "00000410  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|",
    "*",
    "00000600",
  ]);
});

Deno.test("Deno.inspect shows size and range", () => {
  const mem = new GuestMemory(64, { base: 0x1000 });
  assert.equal(Deno.inspect(mem), "GuestMemory { 64 bytes at [0x00001000, 0x00001040) }");
});
