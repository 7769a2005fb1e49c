// Error classes of the device half that docs/DEVICE_ERRORS.md lists and no
// other test in tests/virtqueue/ triggers on its own.

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceLog, type Violation } from "../../conformance/log.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../virtqueue/constants.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";

const BASE = 0x4000_0000;
const RAM = 0x1_0000;
const DESC = BASE;
const AVAIL = BASE + 0x1000;
const USED = BASE + 0x2000;
const TABLE = BASE + 0x3000;
const DATA = BASE + 0x8000;

/** A size-8 device queue with VIRTIO_F_INDIRECT_DESC, over RAM this test writes as a driver would. */
function rig() {
  const memory = new GuestMemory(RAM, { base: BASE });
  const log = new ConformanceLog();
  const broken: Violation[] = [];
  const device = new SplitQueueDevice({
    memory,
    index: 0,
    size: 8,
    eventIdx: false,
    indirect: true,
    reporter: log.scoped("queue 0"),
    descAddr: DESC,
    availAddr: AVAIL,
    usedAddr: USED,
  }, (v) => broken.push(v));
  const desc = (at: number, i: number, addr: number, len: number, flags: number, next = 0) => {
    memory.writeU64(at + 16 * i, addr);
    memory.writeU32(at + 16 * i + 8, len);
    memory.writeU16(at + 16 * i + 12, flags);
    memory.writeU16(at + 16 * i + 14, next);
  };
  const publish = (head: number) => {
    memory.writeU16(AVAIL + 4, head);
    memory.writeU16(AVAIL + 2, 1);
  };
  return { memory, log, broken, device, desc, publish };
}

/**
 * Head 0 is a 16-byte readable buffer, then descriptor 1 points to a table of
 * one readable entry of `entryLen` bytes and one writable entry of 1 byte: the
 * chain holds 16 + entryLen + 1 bytes, most of them in the table.
 */
function chainAcrossTable(entryLen: number) {
  const r = rig();
  r.desc(DESC, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
  r.desc(DESC, 1, TABLE, 32, VIRTQ_DESC_F_INDIRECT);
  r.desc(TABLE, 0, DATA + 0x100, entryLen, VIRTQ_DESC_F_NEXT, 1);
  r.desc(TABLE, 1, DATA + 0x200, 1, VIRTQ_DESC_F_WRITE);
  r.publish(0);
  return r;
}

Deno.test("a chain longer than 2^32 bytes across its indirect table is 2.7.5.2/1 and breaks the queue", () => {
  // 16 + (2^32 - 16) + 1 = 2^32 + 1 bytes: only the direct part and the table together are too long.
  const r = chainAcrossTable(2 ** 32 - 16);
  assert.equal(r.device.pop(), null);
  assert.deepEqual(r.log.entries.map((v) => v.id), ["2.7.5.2/1"]);
  assert.deepEqual(r.log.entries[0].values, { head: 0, bytes: 2 ** 32 + 1 });
  assert.match(r.log.entries[0].action, /broken/);
  assert.equal(r.device.broken, r.log.entries[0]);
  assert.deepEqual(r.broken, [r.log.entries[0]]);
  r.publish(0);
  assert.equal(r.device.pop(), null, "a broken queue hands out nothing more");
  assert.equal(r.log.entries.length, 1);
});

Deno.test("a chain of exactly 2^32 bytes across its indirect table passes the length rule", () => {
  // 16 + (2^32 - 17) + 1 = 2^32 bytes is allowed (2.7.5.2/1); the big entry is
  // not inside this 64 KiB of RAM, so the rule the chain breaks is 2.7.5/D2.
  const r = chainAcrossTable(2 ** 32 - 17);
  assert.equal(r.device.pop(), null);
  assert.deepEqual(r.log.entries.map((v) => v.id), ["2.7.5/D2"]);
  assert.deepEqual(r.log.entries[0].values, { head: 0, addr: DATA + 0x100, len: 2 ** 32 - 17 });
  assert.equal(r.device.broken, r.log.entries[0]);
});
