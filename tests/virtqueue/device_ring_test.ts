// The device-side parts of the split ring, called one at a time on plain ring
// records: counting available entries over the whole 16-bit plane, taking
// heads, walking a chain in two parts (direct descriptors, then the indirect
// table), pushing used entries across the wrap, and the notification parts.

import assert from "node:assert/strict";
import { ConformanceError } from "../../conformance/log.ts";
import {
  availableCount,
  availHead,
  disableNotifications,
  enableNotifications,
  updateAvailEvent,
} from "../../virtqueue/device/avail.ts";
import { readIndirectTable, walkChain } from "../../virtqueue/device/walk.ts";
import { needsInterrupt, pushUsed } from "../../virtqueue/device/used.ts";
import { breakDeviceRing } from "../../virtqueue/device/ring.ts";
import { addChain, addIndirectChain } from "../../virtqueue/driver/add.ts";
import { placeAvailEntry, publishAvail } from "../../virtqueue/driver/avail.ts";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT } from "../../virtqueue/constants.ts";
import { BASE, type RingPair, ringPair } from "./_rings.ts";

/** Writes the available idx as a (possibly hostile) driver. */
function setAvailIdx(p: RingPair, idx: number): void {
  p.memory.writeU16(p.device.availAddr + 2, idx);
}

/** Posts and publishes a one-buffer chain through the driver parts. */
function postOne(p: RingPair, token: string, len = 16): number {
  const head = addChain(p.driver, [], [p.buf(len)], token);
  placeAvailEntry(p.driver, head);
  publishAvail(p.driver);
  return head;
}

// ---------------------------------------------------------------------------
// availableCount

Deno.test("availableCount measures over the whole 16-bit plane: 0xfffe to 0x0002 is 4", () => {
  const p = ringPair({ size: 8, startIdx: 0xfffe });
  assert.equal(p.device.lastAvail, 0xfffe);
  for (const [idx, expected] of [[0xfffe, 0], [0xffff, 1], [0, 2], [2, 4], [6, 8]] as const) {
    setAvailIdx(p, idx);
    assert.equal(availableCount(p.device), expected, `idx ${idx}`);
  }
  assert.equal(p.log.entries.length, 0);
});

Deno.test("availableCount: more than Queue Size ahead is 2.7.6/D1, backwards is 2.7.6.1/1; neither throws", () => {
  const cases: [string, number, string][] = [
    ["one past the ring", 0xfffe + 9, "2.7.6/D1"],
    ["half the plane ahead", 0xfffe + 0x8000, "2.7.6/D1"],
    ["one back", 0xfffd, "2.7.6.1/1"],
    ["just past half the plane (reads as back)", (0xfffe + 0x8001) & 0xffff, "2.7.6.1/1"],
  ];
  for (const [what, idx, id] of cases) {
    const p = ringPair({ size: 8, startIdx: 0xfffe });
    setAvailIdx(p, idx & 0xffff);
    assert.equal(availableCount(p.device), 0, what);
    assert.equal(p.log.entries.length, 1, what);
    assert.equal(p.log.entries[0].id, id, what);
    assert.equal(p.device.broken, p.log.entries[0]);
    assert.deepEqual(p.broken, [p.log.entries[0]], "onBroken called once");
    assert.equal(availableCount(p.device), 0, "broken: nothing more");
    assert.equal(p.log.entries.length, 1);
  }
  const strict = ringPair({ size: 8, strict: true });
  setAvailIdx(strict, 9);
  assert.throws(
    () => availableCount(strict.device),
    (e: unknown) => e instanceof ConformanceError && e.violation.id === "2.7.6/D1",
  );
  assert.equal(strict.device.broken?.id, "2.7.6/D1", "broken before the throw");
});

// ---------------------------------------------------------------------------
// availHead

Deno.test("availHead takes heads in ring order and wraps lastAvail from 0xffff to 0", () => {
  const p = ringPair({ size: 4, startIdx: 0xffff });
  const a = postOne(p, "a");
  const b = postOne(p, "b");
  assert.equal(availableCount(p.device), 2);
  assert.equal(availHead(p.device), a);
  assert.equal(p.device.lastAvail, 0);
  assert.equal(availHead(p.device), b);
  assert.equal(p.device.lastAvail, 1);
  assert.equal(availableCount(p.device), 0);
});

Deno.test("availHead: a head beyond the table is 2.7.5/D1, a head the device still holds is 2.7.6/D2", () => {
  const p = ringPair({ size: 4 });
  p.memory.writeU16(p.device.availAddr + 4, 4);
  setAvailIdx(p, 1);
  assert.equal(availHead(p.device), -1);
  assert.equal(p.log.entries[0].id, "2.7.5/D1");
  assert.equal(p.device.lastAvail, 0, "not advanced past a bad entry");

  const q = ringPair({ size: 4 });
  const head = postOne(q, "x");
  assert.equal(availHead(q.device), head);
  q.device.inUse[head] = 1; // the device model holds the chain, as SplitQueueDevice.pop records
  q.device.inFlight = 1;
  // The driver makes the same head available again (QEMU: "Virtqueue size exceeded").
  q.memory.writeU16(q.device.availAddr + 4 + 2, head);
  setAvailIdx(q, 2);
  assert.equal(availableCount(q.device), 1);
  assert.equal(availHead(q.device), -1);
  assert.equal(q.log.entries[0].id, "2.7.6/D2");
  assert.deepEqual(q.log.entries[0].values, { slot: 1, head, inFlight: 1 });
});

Deno.test("updateAvailEvent follows lastAvail, one behind while notifications are off", () => {
  const p = ringPair({ size: 4, eventIdx: true, startIdx: 0xfffe });
  const availEvent = () => p.memory.readU16(p.device.availEventAddr);
  postOne(p, "a");
  postOne(p, "b");
  availHead(p.device);
  updateAvailEvent(p.device);
  assert.equal(availEvent(), 0xffff);
  disableNotifications(p.device);
  assert.equal(availEvent(), 0xfffe, "disabled: just behind the next entry");
  availHead(p.device);
  updateAvailEvent(p.device);
  assert.equal(availEvent(), 0xffff, "still one behind after a take while disabled");
  assert.equal(
    p.memory.readU16(p.device.usedAddr),
    0,
    "used flags stay 0 with event idx (2.7.10.2/2)",
  );
});

Deno.test("updateAvailEvent stores nothing without event idx, nor on a broken ring", () => {
  // Without VIRTIO_F_EVENT_IDX the used ring ends before avail_event: the bytes
  // there are the driver's (rust-hypervisor-firmware PR #34 kept a field there).
  const p = ringPair({ size: 4, eventIdx: false });
  const after = p.device.availEventAddr;
  p.memory.writeU16(after, 0xabcd);
  postOne(p, "a");
  availHead(p.device);
  updateAvailEvent(p.device);
  assert.equal(p.memory.readU16(after), 0xabcd);
  const q = ringPair({ size: 4, eventIdx: true });
  postOne(q, "a");
  availHead(q.device);
  breakDeviceRing(q.device, "2.7.6/D1", "Broken by the test", {});
  updateAvailEvent(q.device);
  assert.equal(q.memory.readU16(q.device.availEventAddr), 0, "untouched since construction");
});

Deno.test("enableNotifications re-checks idx: a chain published while they were off is reported", () => {
  for (const eventIdx of [false, true]) {
    const p = ringPair({ size: 4, eventIdx });
    disableNotifications(p.device);
    assert.equal(p.memory.readU16(p.device.usedAddr), eventIdx ? 0 : 1);
    postOne(p, "published meanwhile"); // the driver sees notifications off and does not kick
    assert.equal(enableNotifications(p.device), true, `event idx ${eventIdx}`);
    assert.equal(p.memory.readU16(p.device.usedAddr), 0);
    if (eventIdx) assert.equal(p.memory.readU16(p.device.availEventAddr), 0);
    availHead(p.device);
    assert.equal(enableNotifications(p.device), false);
  }
});

// ---------------------------------------------------------------------------
// walkChain and readIndirectTable

Deno.test("walkChain reads each descriptor field exactly once (no double fetch)", () => {
  const p = ringPair({ size: 8, record: true });
  const head = addChain(p.driver, [p.buf(16), p.buf(8)], [p.buf(64)], "req");
  p.recording!.log.length = 0;
  const chain = walkChain(p.device, head)!;
  assert.equal(chain.descriptorCount, 3);
  const loads = p.recording!.log.filter((a) => a.op === "load").map((a) => a.address);
  assert.equal(loads.length, 12, "4 fields x 3 descriptors");
  assert.equal(new Set(loads).size, 12, "no field read twice");
  assert.ok(loads.every((a) => a >= p.device.descAddr && a < p.device.descAddr + 16 * 8));
  assert.deepEqual(
    p.recording!.takeStores(BASE),
    [],
    "the device never writes the table (2.7.5.1/2)",
  );
});

Deno.test("walkChain stops at an indirect descriptor and records it; readIndirectTable finishes the chain", () => {
  const p = ringPair({ size: 8, indirect: true });
  const header = p.buf(16);
  const data = p.buf(512);
  const status = p.buf(1);
  const head = addIndirectChain(
    p.driver,
    [header],
    [data, status],
    "blk",
    (bytes) => p.allocator.alloc(bytes, 16),
  );
  const table = p.driver.tables[head];
  const direct = walkChain(p.device, head)!;
  assert.equal(direct.indirect, true);
  assert.deepEqual(direct.readable, []);
  assert.deepEqual(direct.writable, []);
  assert.equal(direct.descriptorCount, 1);
  assert.deepEqual({ ...p.device.indirectDesc }, {
    index: head,
    addr: table,
    len: 48,
    flags: VIRTQ_DESC_F_INDIRECT,
  });
  const chain = readIndirectTable(p.device, direct)!;
  assert.deepEqual(chain, {
    head,
    readable: [header],
    writable: [data, status],
    readableLength: 16,
    writableLength: 513,
    descriptorCount: 4,
    indirect: true,
  });
  assert.equal(p.log.entries.length, 0);
});

Deno.test("readIndirectTable appends to the direct part and keeps readable before writable across it", () => {
  const p = ringPair({ size: 8, indirect: true });
  const d = p.device;
  const t = p.allocator.alloc(32, 16);
  const seg = [p.buf(4), p.buf(8), p.buf(16)];
  // Descriptor 0 (readable) -> descriptor 1 (indirect: one readable, one writable).
  const desc = (
    i: number,
    addr: number,
    len: number,
    flags: number,
    next: number,
    at = d.descAddr,
  ) => {
    p.memory.writeU64(at + 16 * i, addr);
    p.memory.writeU32(at + 16 * i + 8, len);
    p.memory.writeU16(at + 16 * i + 12, flags);
    p.memory.writeU16(at + 16 * i + 14, next);
  };
  desc(0, seg[0].addr, 4, VIRTQ_DESC_F_NEXT, 1);
  desc(1, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
  desc(0, seg[1].addr, 8, VIRTQ_DESC_F_NEXT, 1, t);
  desc(1, seg[2].addr, 16, 2, 0, t);
  const direct = walkChain(d, 0)!;
  assert.deepEqual(direct.readable, [seg[0]]);
  assert.equal(d.indirectDesc.index, 1);
  const chain = readIndirectTable(d, direct)!;
  assert.deepEqual(chain.readable, [seg[0], seg[1]]);
  assert.deepEqual(chain.writable, [seg[2]]);
  assert.equal(chain.descriptorCount, 4);
  // Now a direct writable followed by a table whose first entry is readable: 2.7.4.2/1.
  desc(0, seg[0].addr, 4, VIRTQ_DESC_F_NEXT | 2, 1);
  const again = walkChain(d, 0)!;
  assert.equal(readIndirectTable(d, again), null);
  assert.equal(p.log.entries[0].id, "2.7.4.2/1");
});

// ---------------------------------------------------------------------------
// pushUsed and needsInterrupt

Deno.test("pushUsed writes the element, then idx, across the wrap from 0xffff to 0", () => {
  const p = ringPair({ size: 4, startIdx: 0xffff, record: true });
  p.recording!.log.length = 0;
  pushUsed(p.device, 3, 40);
  pushUsed(p.device, 1, 0);
  const used = p.device.usedAddr;
  assert.deepEqual(p.recording!.takeStores(used), [
    "+1c=3", // ring[0xffff % 4 = 3].id
    "+20=40", // ring[3].len
    "+2=0", // idx 0xffff + 1 = 0
    "+4=1", // ring[0].id
    "+8=0", // ring[0].len
    "+2=1", // idx
  ]);
  assert.equal(p.device.usedIdx, 1);
});

Deno.test("needsInterrupt with event idx crosses the wrap on a ring started at 0xfffe", () => {
  const p = ringPair({ size: 4, eventIdx: true, startIdx: 0xfffe });
  const usedEvent = (v: number) => p.memory.writeU16(p.device.usedEventAddr, v);
  usedEvent(0xffff);
  pushUsed(p.device, 0, 0); // entry 0xfffe
  assert.equal(needsInterrupt(p.device), false);
  pushUsed(p.device, 1, 0); // entry 0xffff: the one asked for
  pushUsed(p.device, 2, 0); // entry 0
  assert.equal(needsInterrupt(p.device), true);
  assert.equal(p.device.signalledUsed, 1);
  assert.equal(needsInterrupt(p.device), false, "consumed");
  assert.equal(p.log.entries.length, 0);
});
