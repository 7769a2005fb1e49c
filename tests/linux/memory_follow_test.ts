// Tests for GuestMemory.follow: RAM inside a WebAssembly memory that grows
// (and so detaches the buffer it was wrapped from) keeps working, and the
// split ring runs over it across a growth.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";

const PAGE = 65536;

Deno.test("after a growth, follow makes the same RAM readable and writable again", () => {
  const wasm = new WebAssembly.Memory({ initial: 4, maximum: 16 });
  const memory = GuestMemory.wrap(wasm.buffer, {
    base: 0x1000,
    byteOffset: PAGE,
    byteLength: 2 * PAGE,
  });
  memory.writeU64(0x1000 + 8, 0x0123_4567_89ab_cdefn);
  memory.writeU16(0x1000 + 2 * PAGE - 2, 0xabcd);
  const before = memory.buffer;
  wasm.grow(4);
  assert.equal(before.byteLength, 0, "growing detaches the old buffer");
  memory.follow(wasm.buffer, PAGE);
  assert.equal(memory.buffer, wasm.buffer);
  assert.equal(memory.readU64(0x1000 + 8), 0x0123_4567_89ab_cdefn);
  assert.equal(memory.readU16(0x1000 + 2 * PAGE - 2), 0xabcd);
  memory.writeU32(0x1000, 7);
  assert.equal(new DataView(wasm.buffer).getUint32(PAGE, true), 7, "writes land in the new buffer");
  assert.equal(memory.size, 2 * PAGE);
  assert.equal(memory.base, 0x1000);
  assert.throws(() => memory.readU8(0x1000 + 2 * PAGE), RangeError, "the size stays");
});

Deno.test("follow refuses a buffer RAM does not fit", () => {
  const memory = new GuestMemory(4096);
  assert.throws(() => memory.follow(new ArrayBuffer(4095)), RangeError);
  assert.throws(() => memory.follow(new ArrayBuffer(8192), 4097), RangeError);
  assert.throws(() => memory.follow(new ArrayBuffer(8192), -1), RangeError);
});

Deno.test("an allocator and bytes() views keep working over followed memory", () => {
  const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const memory = GuestMemory.wrap(wasm.buffer);
  const heap = new GuestAllocator(memory);
  const a = heap.alloc(64);
  memory.write(a, new Uint8Array([1, 2, 3]));
  wasm.grow(1);
  memory.follow(wasm.buffer);
  const b = heap.alloc(64);
  assert.notEqual(a, b);
  assert.deepEqual([...memory.bytes(a, 3)], [1, 2, 3]);
  memory.fill(b, 64, 0xaa);
  assert.equal(memory.readU8(b + 63), 0xaa);
});
