// Tests for lessons/kit/double_fetch.ts: the reference walker reads every
// descriptor field once, so a len that changes after its first read changes
// nothing it returns; a walker that checks len and then reads it again uses
// a length it never checked (FreeBSD-SA-24:17.bhyve).

import assert from "node:assert/strict";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS as REF,
  type SplitRingDeviceParts,
} from "../../../virtqueue/parts.ts";
import { breakDeviceRing } from "../../../virtqueue/device/ring.ts";
import {
  descriptorDoubleFetch,
  descriptorReads,
  doubleFetch,
} from "../../../lessons/kit/double_fetch.ts";
import { ringFixture } from "../../../lessons/kit/ring.ts";

/** A three-descriptor request whose data descriptor's len turns into 0xfffff000 after one read. */
function request(device: Partial<SplitRingDeviceParts> = {}, indirect = false) {
  const f = ringFixture({ device, indirect });
  const header = f.buffer(16);
  const data = f.buffer(512);
  const status = f.buffer(1);
  f.driverQueue.add([header], [data, status], "read", { indirect: indirect ? "always" : "never" });
  f.driverQueue.kickPrepare();
  const table = indirect ? f.driver.tables[0] : f.addresses.descAddr;
  const proxy = descriptorDoubleFetch(f, 1, 0xffff_f000, table);
  const reads = descriptorReads(f.memory, table, 3);
  return { f, proxy, reads, chain: f.deviceQueue.pop() };
}

for (const indirect of [false, true]) {
  Deno.test(`the reference walker reads each field once: a len changed after its first read changes nothing (indirect ${indirect})`, () => {
    const { f, proxy, reads, chain } = request({}, indirect);
    assert.equal(proxy.changed, true, "the len did change under the device");
    assert.equal(proxy.reads, 1);
    assert.deepEqual(chain?.writable.map((s) => s.len), [512, 1]);
    assert.equal(chain?.writableLength, 513);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(reads.of(i), { addr: 1, len: 1, flags: 1, next: 1 });
    }
    assert.equal(reads.most().reads, 1);
    assert.equal(f.log.entries.length, 0);
    reads.stop();
    proxy.stop();
  });
}

Deno.test("a walker that checks len, then reads it again, returns the length it never checked", () => {
  const rereading: SplitRingDeviceParts["walkChain"] = (ring, head) => {
    // Validate the chain with the reference walker, then build it from a second read.
    const checked = REF.walkChain(ring, head);
    if (checked === null) return null;
    const writable = checked.writable.map((s, k) => {
      const len = ring.memory.readU32(ring.descAddr + 16 * (1 + k) + 8);
      return { addr: s.addr, len };
    });
    if (writable.some((s) => s.len === 0)) {
      return breakDeviceRing(ring, "2.7.5/D3", "empty", { head });
    }
    const writableLength = writable.reduce((n, s) => n + s.len, 0);
    return { ...checked, writable, writableLength };
  };
  const { proxy, reads, chain } = request({ walkChain: rereading });
  assert.equal(proxy.changed, true);
  assert.equal(
    chain?.writable[0].len,
    0xffff_f000,
    "far beyond the 512-byte buffer: a host overflow",
  );
  assert.deepEqual(reads.most(), { index: 1, field: "len", reads: 2 });
});

Deno.test("doubleFetch changes after the given number of reads, at any width", () => {
  const f = ringFixture();
  const at = f.addresses.descAddr;
  f.writeDescriptor(0, { addr: 0x4000_1000, len: 16, flags: 0 });
  const addr = doubleFetch(f.memory, { address: at, width: 8, then: 1n << 60n, after: 2 });
  const flags = doubleFetch(f.memory, { address: at + 12, width: 2, then: 0x1_0004 });
  assert.equal(f.memory.readU64Number(at), 0x4000_1000);
  assert.equal(f.memory.readU64Number(at), 0x4000_1000);
  assert.equal(f.memory.readU64Number(at), Infinity, "changed after the second read");
  assert.equal(f.memory.readU16(at + 12), 0);
  assert.equal(f.memory.readU16(at + 12), 4, "the low 16 bits of the new value");
  assert.deepEqual([addr.reads, addr.changed, flags.reads], [3, true, 2]);
  addr.stop();
  flags.stop();
  const byte = doubleFetch(f.memory, { address: at + 15, width: 1, then: 0x1ff });
  f.memory.readU8(at + 15);
  assert.equal(f.memory.readU8(at + 15), 0xff);
  byte.stop();
  assert.equal(f.log.entries.length, 0);
});
