// Tests for linux/access_width.ts: 16-bit loads split by the emulator into
// two 8-bit loads reach the register file as one 16-bit load where a 16-bit
// field begins, and nowhere else.

import assert from "node:assert/strict";
import { WidthReassembler } from "../../linux/access_width.ts";

function recorder(value = 0x1234_5678) {
  const seen: string[] = [];
  return {
    seen,
    target: {
      read: (address: number, width: 1 | 2 | 4) => {
        seen.push(`r${width * 8}@${address.toString(16)}`);
        return width === 4 ? value : width === 2 ? value & 0xffff : value & 0xff;
      },
      write: (address: number, width: 1 | 2 | 4, v: number) => {
        seen.push(`w${width * 8}@${address.toString(16)}=${v.toString(16)}`);
      },
    },
  };
}

/** A 16-bit field at 0x108 and 0x10a (virtio-console's cols and rows), a u8 at 0x114. */
const widthAt = (address: number) => (address === 0x108 || address === 0x10a ? 2 : 1) as 1 | 2;

Deno.test("two 8-bit loads of a 16-bit field are one 16-bit load", () => {
  const { seen, target } = recorder(0xbeef);
  const bus = new WidthReassembler(target, widthAt);
  const lo = bus.read8(0x108);
  const hi = bus.read8(0x109);
  assert.equal(lo | (hi << 8), 0xbeef);
  assert.deepEqual(seen, ["r16@108"]);
  assert.equal(bus.paired, 1);
});

Deno.test("8-bit loads of 8-bit fields stay 8-bit, and 32-bit loads stay 32-bit", () => {
  const { seen, target } = recorder();
  const bus = new WidthReassembler(target, widthAt);
  assert.equal(bus.read8(0x114), 0x78);
  assert.equal(bus.read32(0x100), 0x1234_5678);
  assert.deepEqual(seen, ["r8@114", "r32@100"]);
  assert.equal(bus.paired, 0);
});

Deno.test("a kept high byte is given only to the very next load, of the next address", () => {
  const { seen, target } = recorder(0xbeef);
  const bus = new WidthReassembler(target, widthAt);
  bus.read8(0x108);
  bus.read32(0x70); // something else came in between: the pair is broken
  bus.read8(0x109); // now a real 8-bit load (of the field's high byte)
  assert.deepEqual(seen, ["r16@108", "r32@70", "r8@109"]);
  bus.read8(0x10a);
  bus.write8(0x10b, 1);
  bus.read8(0x10b);
  assert.deepEqual(seen.slice(3), ["r16@10a", "w8@10b=1", "r8@10b"]);
});

Deno.test("an odd address is never the start of a pair", () => {
  const { seen, target } = recorder();
  const bus = new WidthReassembler(target, () => 2);
  bus.read8(0x109);
  assert.deepEqual(seen, ["r8@109"]);
});

Deno.test("stores keep their width and are truncated to it", () => {
  const { seen, target } = recorder();
  const bus = new WidthReassembler(target, widthAt);
  bus.write8(0x114, 0x1ff);
  bus.write16(0x108, 0x12345);
  bus.write32(0x70, -1);
  assert.deepEqual(seen, ["w8@114=ff", "w16@108=2345", "w32@70=ffffffff"]);
});
