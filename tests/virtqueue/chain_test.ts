import assert from "node:assert/strict";
import { GuestMemory, GuestMemoryError } from "../../memory/guest_memory.ts";
import { chainViews, readChain, segmentsLength, writeChain } from "../../virtqueue/chain.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";

const BASE = 0x4000_0000;

/** Three scattered buffers of 3, 5 and 4 bytes: one 12-byte stream. */
function setup(): { memory: GuestMemory; segments: BufferSegment[] } {
  const memory = new GuestMemory(4096, { base: BASE });
  const segments = [
    { addr: BASE + 0x100, len: 3 },
    { addr: BASE + 0x200, len: 5 },
    { addr: BASE + 0x050, len: 4 },
  ];
  return { memory, segments };
}

/** The stream 0..11 written into the segments, byte by byte. */
function fillStream(memory: GuestMemory, segments: BufferSegment[]): void {
  let v = 0;
  for (const s of segments) for (let k = 0; k < s.len; k++) memory.writeU8(s.addr + k, v++);
}

Deno.test("segmentsLength adds the lengths", () => {
  const { segments } = setup();
  assert.equal(segmentsLength(segments), 12);
  assert.equal(segmentsLength([]), 0);
});

Deno.test("readChain copies across segment boundaries from any offset", () => {
  const { memory, segments } = setup();
  fillStream(memory, segments);
  const all = new Uint8Array(12);
  assert.equal(readChain(memory, segments, all), 12);
  assert.deepEqual([...all], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

  for (let offset = 0; offset <= 13; offset++) {
    for (let len = 0; len <= 14; len++) {
      const dest = new Uint8Array(len).fill(0xee);
      const n = readChain(memory, segments, dest, offset);
      const expected = Math.max(0, Math.min(len, 12 - offset));
      assert.equal(n, expected, `offset ${offset} len ${len}`);
      for (let k = 0; k < n; k++) assert.equal(dest[k], offset + k);
      for (let k = n; k < len; k++) assert.equal(dest[k], 0xee, "bytes past the copy untouched");
    }
  }
});

Deno.test("writeChain fills across boundaries and stops at the end of the chain", () => {
  const { memory, segments } = setup();
  const src = Uint8Array.from({ length: 10 }, (_, k) => 100 + k);
  assert.equal(writeChain(memory, segments, src, 4), 8);
  const back = new Uint8Array(12);
  readChain(memory, segments, back);
  assert.deepEqual([...back], [0, 0, 0, 0, 100, 101, 102, 103, 104, 105, 106, 107]);
  // Nothing written outside the segments.
  assert.equal(memory.readU8(BASE + 0x205), 0);
  assert.equal(memory.readU8(BASE + 0x054), 0);
  assert.equal(writeChain(memory, segments, src, 12), 0);
  assert.equal(writeChain(memory, segments, new Uint8Array(0), 0), 0);
});

Deno.test("chainViews gives zero-copy views covering exactly the range", () => {
  const { memory, segments } = setup();
  fillStream(memory, segments);
  const views = chainViews(memory, segments, 2, 7);
  assert.deepEqual(views.map((v) => v.length), [1, 5, 1]);
  assert.deepEqual(views.flatMap((v) => [...v]), [2, 3, 4, 5, 6, 7, 8]);
  views[1][0] = 0xab; // writes through to guest memory
  assert.equal(memory.readU8(BASE + 0x200), 0xab);
  assert.deepEqual(chainViews(memory, segments, 12, 0), []);
  assert.deepEqual(chainViews(memory, segments, 3, 5).map((v) => v.length), [5]);
  assert.throws(() => chainViews(memory, segments, 8, 5), RangeError);
  assert.throws(() => chainViews(memory, segments, -1, 1), RangeError);
  assert.throws(() => chainViews(memory, segments, 0, 1.5), RangeError);
});

Deno.test("helpers reject bad offsets and surface segments outside RAM", () => {
  const { memory } = setup();
  assert.throws(
    () => readChain(memory, [{ addr: BASE, len: 4 }], new Uint8Array(1), -2),
    RangeError,
  );
  assert.throws(
    () => writeChain(memory, [{ addr: BASE, len: 4 }], new Uint8Array(1), 0.5),
    RangeError,
  );
  const outside = [{ addr: BASE + 4090, len: 16 }];
  assert.throws(() => readChain(memory, outside, new Uint8Array(16)), GuestMemoryError);
});
