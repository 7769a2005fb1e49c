// Tests for the ring formatters of lessons/kit/format.ts: descriptor flags,
// descriptors, chains, used elements, indices around the wrap, ring fields by
// address, memory accesses.

import assert from "node:assert/strict";
import * as show from "../../../lessons/kit/format.ts";
import type { MemoryAccess } from "../../../lessons/kit/snoop.ts";

Deno.test("descFlags names the bits and keeps unknown ones in hex", () => {
  assert.equal(show.descFlags(0), "0x0000 (-)");
  assert.equal(show.descFlags(3), "0x0003 (NEXT|WRITE)");
  assert.equal(show.descFlags(4), "0x0004 (INDIRECT)");
  assert.equal(show.descFlags(0x8001), "0x8001 (NEXT|0x8000)");
});

Deno.test("descriptor shows next only when NEXT is set, and addresses beyond 2^53", () => {
  assert.equal(
    show.descriptor({ index: 2, addr: 0x4000_1000, len: 512, flags: 3, next: 3 }),
    "desc 2 { addr 0x40001000, len 512, NEXT|WRITE, next 3 }",
  );
  assert.equal(
    show.descriptor({ addr: 0x4000_1000, len: 16, flags: 0, next: 7 }),
    "desc { addr 0x40001000, len 16, - }",
  );
  assert.equal(
    show.descriptor({ index: 0, addr: (1n << 64n) - 8n, len: 16, flags: 0, next: 0 }),
    "desc 0 { addr 0xfffffffffffffff8, len 16, - }",
  );
  assert.equal(
    show.descriptor({ index: 0, addr: Infinity, len: 16, flags: 0, next: 0 }),
    "desc 0 { addr beyond 2^53, len 16, - }",
  );
});

Deno.test("chain and segments show a chain as the device took it", () => {
  const chain = {
    head: 0,
    readable: [{ addr: 0x4000_1000, len: 16 }],
    writable: [{ addr: 0x4000_2000, len: 512 }, { addr: 0x4000_3000, len: 1 }],
    readableLength: 16,
    writableLength: 513,
    descriptorCount: 3,
    indirect: false,
  };
  assert.equal(
    show.chain(chain),
    "head 0: readable [0x40001000+16], writable [0x40002000+512, 0x40003000+1] (3 descriptors)",
  );
  assert.equal(
    show.chain({ ...chain, readable: [], writable: [], descriptorCount: 1, indirect: true }),
    "head 0: no buffers (1 descriptor, indirect)",
  );
  assert.equal(show.chain(null), "no chain");
  const many = Array.from({ length: 8 }, (_, i) => ({ addr: 0x1000 * i, len: 1 }));
  assert.match(show.segments(many, 2), /^\[0x00000000\+1, 0x00001000\+1, \.\.\. 6 more\]$/);
});

Deno.test("usedElem and ringIdx", () => {
  assert.equal(show.usedElem({ id: 3, len: 512 }), "{ id 3, len 512 }");
  assert.equal(show.ringIdx(0xfffe, 8), "0xfffe (slot 6 of 8, 2 before the wrap)");
  assert.equal(show.ringIdx(1, 8), "0x0001 (slot 1 of 8)");
  assert.equal(show.ringIdx(0x1234), "0x1234");
  assert.equal(show.ringIdx(0x10000), "65536 (0x10000) (not a 16-bit ring index)");
  assert.equal(show.ringIdx(-1, 8), "-1 (not a 16-bit ring index)");
});

Deno.test("ringPlace names every field of the three parts and of indirect tables", () => {
  const ring = {
    descAddr: 0x1000,
    availAddr: 0x2000,
    usedAddr: 0x3000,
    size: 4,
    tables: [{ addr: 0x5000, entries: 2 }],
  };
  const places = [
    0x1000,
    0x1007,
    0x1008,
    0x101c,
    0x103e,
    0x2000,
    0x2002,
    0x2004,
    0x200b,
    0x200c,
    0x3000,
    0x3002,
    0x3004,
    0x3008,
    0x301c,
    0x3024,
    0x5010,
    0x501e,
  ].map((a) => show.ringPlace(ring, a));
  assert.deepEqual(places, [
    "descriptor 0 addr",
    "descriptor 0 addr",
    "descriptor 0 len",
    "descriptor 1 flags",
    "descriptor 3 next",
    "available ring flags",
    "available ring idx",
    "available ring slot 0",
    "available ring slot 3",
    "used_event",
    "used ring flags",
    "used ring idx",
    "used element 0 id",
    "used element 0 len",
    "used element 3 id",
    "avail_event",
    "indirect table 0x00005000 entry 1 addr",
    "indirect table 0x00005000 entry 1 next",
  ]);
  assert.equal(show.ringPlace(ring, 0x1040), undefined);
  assert.equal(show.ringPlace(ring, 0x200e), undefined);
  assert.equal(show.ringPlace(ring, 0x3026), undefined);
});

Deno.test("memoryAccess shows loads, stores, bulk copies and views with the field's name", () => {
  const a = (over: Partial<MemoryAccess>): MemoryAccess => ({
    seq: 1,
    kind: "store",
    address: 0x2002,
    width: 2,
    value: 5,
    method: "writeU16",
    ...over,
  });
  const place = (x: number) => (x === 0x2002 ? "available ring idx" : undefined);
  assert.equal(show.memoryAccess(a({}), place), "16-bit store of 0x0005 to available ring idx");
  assert.equal(
    show.memoryAccess(a({ kind: "load", width: 4, value: 0x200, address: 0x10 })),
    "32-bit load of 0x00000200 from 0x00000010",
  );
  assert.equal(
    show.memoryAccess(a({ kind: "load", width: 8, value: Infinity, address: 0x10 })),
    "64-bit load of a value beyond 2^53 from 0x00000010",
  );
  assert.equal(
    show.memoryAccess(a({ kind: "store", width: 8, value: 1n << 63n, address: 0x10 })),
    "64-bit store of 0x8000000000000000 to 0x00000010",
  );
  assert.equal(
    show.memoryAccess(a({ kind: "view", width: 512, value: null, address: 0x4000 })),
    "view of 512 bytes at 0x00004000",
  );
  assert.equal(
    show.memoryAccess(a({ kind: "load", width: 3, value: null, address: 0x4000 })),
    "bulk load of 3 bytes from 0x00004000",
  );
});
