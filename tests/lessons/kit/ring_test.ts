// Tests for lessons/kit/ring.ts: a fixture's memory agrees with both ring
// records at any start index, the learner's parts run where given, and the
// raw writers of a hostile side are never observed.

import assert from "node:assert/strict";
import { ConformanceError } from "../../../conformance/log.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  REFERENCE_SPLIT_RING_DRIVER_PARTS,
} from "../../../virtqueue/parts.ts";
import { allocateQueueAreas } from "../../../virtqueue/driver/areas.ts";
import { GuestAllocator } from "../../../memory/allocator.ts";
import { RING_RAM_BASE, RING_RAM_SIZE, ringFixture } from "../../../lessons/kit/ring.ts";
import { SnoopingMemory } from "../../../lessons/kit/snoop.ts";

for (const eventIdx of [false, true]) {
  Deno.test(`a fixture at 0xfffe: memory and both records agree (event idx ${eventIdx})`, () => {
    const f = ringFixture({ size: 16, startIdx: 0xfffe, eventIdx });
    const { availAddr, usedAddr } = f.addresses;
    const m = f.memory;
    const read = (a: number) => m.quietly(() => m.readU16(a));
    assert.equal(read(availAddr), 0, "available ring flags");
    assert.equal(read(availAddr + 2), 0xfffe, "available idx");
    assert.equal(read(usedAddr), 0, "used ring flags (2.7.10.1/1)");
    assert.equal(read(usedAddr + 2), 0xfffe, "used idx");
    assert.equal(f.availIdx(), 0xfffe);
    assert.equal(f.usedIdx(), 0xfffe);
    if (eventIdx) {
      assert.equal(read(availAddr + 4 + 2 * 16), 0xfffe, "used_event");
      assert.equal(read(usedAddr + 4 + 8 * 16), 0xfffe, "avail_event");
    }
    assert.equal(f.driver.availIdx, 0xfffe);
    assert.equal(f.driver.lastUsed, 0xfffe);
    assert.equal(f.device.lastAvail, 0xfffe);
    assert.equal(f.device.usedIdx, 0xfffe);
    assert.equal(f.device.signalledUsed, 0xfffe);
    assert.equal(f.driver.numFree, 16);
    assert.equal(f.startIdx, 0xfffe);
    assert.equal(m.loads + m.stores + m.views, 0, "building is not observed");
    assert.equal(m.base, RING_RAM_BASE);
    assert.equal(m.size, RING_RAM_SIZE);
  });
}

Deno.test("a fixture runs round trips across the wrap with indirect tables and event idx", () => {
  const f = ringFixture<number>({ size: 4, startIdx: 0xfffd, eventIdx: true, indirect: true });
  const header = f.buffer(16);
  const data = f.buffer(512);
  const status = f.buffer(1);
  for (let trip = 0; trip < 10; trip++) {
    f.driverQueue.add([header], [data, status], trip);
    f.driverQueue.kickPrepare();
    const chain = f.deviceQueue.pop();
    assert.ok(chain?.indirect, "a 3-buffer chain goes into an indirect table");
    f.deviceQueue.push(chain.head, 513);
    assert.deepEqual(f.driverQueue.getBuf(), { token: trip, len: 513 });
  }
  assert.equal(f.driver.availIdx, (0xfffd + 10) & 0xffff);
  assert.equal(f.log.entries.length, 0);
  assert.equal(f.driver.numFree, 4);
});

Deno.test("the learner's parts run in the fixture, the reference ones elsewhere", () => {
  const calls: string[] = [];
  const f = ringFixture({
    driver: {
      publishAvail: (ring) => {
        calls.push("publishAvail");
        return REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail(ring);
      },
    },
    device: {
      walkChain: (ring, head) => {
        calls.push("walkChain");
        return REFERENCE_SPLIT_RING_DEVICE_PARTS.walkChain(ring, head);
      },
    },
  });
  assert.notEqual(f.driverQueue.parts.publishAvail, REFERENCE_SPLIT_RING_DRIVER_PARTS.publishAvail);
  assert.equal(f.driverQueue.parts.addChain, REFERENCE_SPLIT_RING_DRIVER_PARTS.addChain);
  assert.equal(f.deviceQueue.parts.availHead, REFERENCE_SPLIT_RING_DEVICE_PARTS.availHead);
  f.driverQueue.add([f.buffer(8)], [], "x");
  f.driverQueue.kickPrepare();
  assert.ok(f.deviceQueue.pop());
  assert.deepEqual(calls, ["publishAvail", "walkChain"]);
  assert.throws(
    () => ringFixture({ driver: { publish: () => 0 } as never }),
    /No part is called publish/,
  );
});

Deno.test("areas go where the grader puts them, in the memory it gives", () => {
  const memory = new SnoopingMemory(1 << 16, { base: 0x1_0000_0000 });
  const areas = memory.quietly(() => allocateQueueAreas(new GuestAllocator(memory), 8));
  const f = ringFixture({ memory, areas, size: 8 });
  assert.equal(f.memory, memory);
  assert.deepEqual(f.addresses, areas);
  assert.equal(f.driver.descAddr, areas.descAddr);
  assert.equal(f.device.usedAddr, areas.usedAddr);
  assert.deepEqual(f.ranges.descTable, {
    start: areas.descAddr,
    bytes: 128,
    name: "descriptor table",
  });
  assert.throws(
    () => ringFixture({ areas: { descAddr: 0x8, availAddr: 0x100, usedAddr: 0x200 } }),
    /not aligned|not inside guest RAM/,
  );
});

Deno.test("raw writers write what a hostile side asks, unobserved", () => {
  const f = ringFixture({ size: 4, startIdx: 0xffff });
  let observed = 0;
  f.memory.onStore(() => observed++);
  f.memory.onLoad(() => observed++);
  f.writeDescriptor(3, { addr: (1n << 64n) - 8n, len: -1, flags: 7, next: 0xffff });
  assert.deepEqual(f.readDescriptor(3), {
    addr: Infinity,
    len: 0xffff_ffff,
    flags: 7,
    next: 0xffff,
  });
  f.makeAvailable(3, 9);
  assert.equal(f.availIdx(), 1, "0xffff + 2 wraps to 1");
  const slot = (i: number) =>
    f.memory.quietly(() => f.memory.readU16(f.addresses.availAddr + 4 + 2 * i));
  assert.deepEqual([slot(3), slot(0)], [3, 9], "positions 0xffff and 0x0000 are slots 3 and 0");
  f.completeUsed({ id: 2, len: 16 }, { id: 0xffff_ffff, len: 1 });
  assert.equal(f.usedIdx(), 1);
  const elem = (i: number) =>
    f.memory.quietly(() => [
      f.memory.readU32(f.addresses.usedAddr + 4 + 8 * i),
      f.memory.readU32(f.addresses.usedAddr + 8 + 8 * i),
    ]);
  assert.deepEqual([elem(3), elem(0)], [[2, 16], [0xffff_ffff, 1]]);
  f.setAvailIdx(0x1_0005);
  f.setUsedIdx(-1);
  assert.deepEqual([f.availIdx(), f.usedIdx()], [5, 0xffff]);
  assert.equal(observed, 0);
  assert.equal(f.memory.loads + f.memory.stores, 0);
  assert.equal(f.driver.availIdx, 0xffff, "the records do not follow the raw writers");
});

Deno.test("buffer and place", () => {
  const f = ringFixture({ indirect: true });
  const b = f.buffer(100, 0xab);
  assert.equal(b.len, 100);
  assert.ok(f.memory.quietly(() => f.memory.bytes(b.addr, 100)).every((x) => x === 0xab));
  assert.equal(f.place(f.addresses.descAddr + 0x18), "descriptor 1 len");
  assert.equal(f.place(f.addresses.availAddr + 2), "available ring idx");
  assert.equal(f.place(b.addr), undefined);
  f.driverQueue.add([f.buffer(16)], [f.buffer(16)], "indirect");
  const table = f.driver.tables[0];
  assert.ok(table > 0);
  assert.equal(
    f.place(table + 16 + 12),
    `indirect table 0x${table.toString(16).padStart(8, "0")} entry 1 flags`,
  );
});

Deno.test("a strict fixture throws the first violation", () => {
  const f = ringFixture({ strict: true });
  f.makeAvailable(8);
  assert.throws(() => f.deviceQueue.pop(), ConformanceError);
  assert.equal(f.broken[0]?.id, "2.7.5/D1");
});
