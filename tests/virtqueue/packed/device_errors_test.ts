// Tests for virtqueue/packed/device_ring.ts and device_queue.ts: a hostile
// driver writes descriptors by hand, breaking one rule of §2.8 each time,
// and the device reports that rule's id, breaks the queue once, and never
// throws.

import assert from "node:assert/strict";
import { GuestMemory } from "../../../memory/guest_memory.ts";
import { ConformanceLog } from "../../../conformance/log.ts";
import {
  PackedQueueDevice,
  RING_EVENT_FLAGS_DESC,
  VIRTQ_DESC_F_AVAIL,
  VIRTQ_DESC_F_USED,
} from "../../../virtqueue/packed/mod.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../../virtqueue/constants.ts";

const DESC = 0x1000;
const DRIVER_EVENT = 0x2000;
const DEVICE_EVENT = 0x2004;
const BUF = 0x3000;
const TABLE = 0x4000;
const A = VIRTQ_DESC_F_AVAIL;
const N = VIRTQ_DESC_F_NEXT;
const W = VIRTQ_DESC_F_WRITE;

interface Desc {
  addr?: number;
  len?: number;
  id?: number;
  flags: number;
}

function device(size: number, options: { indirect?: boolean; eventIdx?: boolean } = {}) {
  const memory = new GuestMemory(0x10000);
  const log = new ConformanceLog();
  const broken: string[] = [];
  const dev = new PackedQueueDevice(
    {
      memory,
      index: 0,
      size,
      descAddr: DESC,
      availAddr: DRIVER_EVENT,
      usedAddr: DEVICE_EVENT,
      eventIdx: options.eventIdx ?? false,
      indirect: options.indirect ?? false,
      reporter: log.scoped("device"),
    },
    (v) => broken.push(v.id),
  );
  const write = (pos: number, d: Desc, base = DESC) => {
    const at = base + pos * 16;
    memory.writeU64(at, d.addr ?? BUF);
    memory.writeU32(at + 8, d.len ?? 16);
    memory.writeU16(at + 12, d.id ?? 0);
    memory.writeU16(at + 14, d.flags);
  };
  return { memory, log, broken, dev, write };
}

function expectBroken(t: ReturnType<typeof device>, id: string) {
  assert.equal(t.dev.pop(), null);
  assert.deepEqual(t.log.entries.map((e) => e.id), [id]);
  assert.deepEqual(t.broken, [id]);
  assert.equal(t.dev.pop(), null, "a broken queue stays silent");
  assert.equal(t.log.entries.length, 1);
}

Deno.test("a descriptor with AVAIL and USED both set to the wrap counter (2.8.1/D1)", () => {
  const t = device(4);
  t.write(0, { flags: A | VIRTQ_DESC_F_USED });
  expectBroken(t, "2.8.1/D1");
});

Deno.test("zeroed and stale descriptors are simply not available", () => {
  const t = device(4);
  assert.equal(t.dev.hasAvailable(), false);
  t.write(0, { flags: VIRTQ_DESC_F_USED }); // wrap-0 available: not yet for wrap 1
  assert.equal(t.dev.pop(), null);
  assert.equal(t.log.entries.length, 0);
});

Deno.test("a list whose later descriptor is not available yet (2.8.17/6)", () => {
  const t = device(4);
  t.write(0, { flags: A | N });
  t.write(1, { flags: 0 });
  expectBroken(t, "2.8.17/6");
});

Deno.test("a list that wraps checks its later descriptors against the toggled wrap counter", () => {
  const t = device(2);
  t.write(0, { flags: A, id: 5 });
  const first = t.dev.pop()!;
  t.dev.push(first.head, 0);
  // Position 1 on wrap 1, then position 0 on wrap 0 (AVAIL clear, USED set).
  t.write(1, { flags: A | N, id: 0 });
  t.write(0, { flags: VIRTQ_DESC_F_USED | W, id: 7 });
  const chain = t.dev.pop()!;
  assert.equal(chain.head, 7);
  assert.equal(chain.descriptorCount, 2);
  assert.equal(t.log.entries.length, 0);
});

Deno.test("a list longer than Queue Size: NEXT all the way round (2.8.17/2)", () => {
  const t = device(3);
  for (let pos = 0; pos < 3; pos++) t.write(pos, { flags: A | N });
  expectBroken(t, "2.8.17/2");
});

Deno.test("a device-readable element after a device-writable one (2.8.17/3)", () => {
  const t = device(4);
  t.write(0, { flags: A | N | W });
  t.write(1, { flags: A });
  expectBroken(t, "2.8.17/3");
});

Deno.test("an element outside guest RAM (2.8.4/D1)", () => {
  const t = device(4);
  t.write(0, { flags: A, addr: 0xfff8, len: 16 });
  expectBroken(t, "2.8.4/D1");
});

Deno.test("a Buffer ID made available again while in flight (2.8.6/D1)", () => {
  const t = device(4);
  t.write(0, { flags: A, id: 9 });
  t.write(1, { flags: A, id: 9 });
  assert.equal(t.dev.pop()?.head, 9);
  expectBroken(t, "2.8.6/D1");
});

Deno.test("the Buffer ID is read from the list's last descriptor (§2.8.6)", () => {
  const t = device(4);
  t.write(0, { flags: A | N, id: 111 });
  t.write(1, { flags: A | N, id: 222 });
  t.write(2, { flags: A | W, id: 3 });
  assert.equal(t.dev.pop()?.head, 3);
});

Deno.test("VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC (2.8.19/1)", () => {
  const t = device(4);
  t.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 32 });
  expectBroken(t, "2.8.19/1");
});

Deno.test("an indirect descriptor inside a NEXT list (2.8.19/4)", () => {
  const t = device(4, { indirect: true });
  t.write(0, { flags: A | N });
  t.write(1, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 32 });
  expectBroken(t, "2.8.19/4");
  const u = device(4, { indirect: true });
  u.write(0, { flags: A | N | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 32 });
  u.write(1, { flags: A });
  expectBroken(u, "2.8.19/4");
});

Deno.test("an indirect table whose len is not a nonzero multiple of 16 (2.8.7/D1)", () => {
  for (const len of [0, 24]) {
    const t = device(4, { indirect: true });
    t.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len });
    expectBroken(t, "2.8.7/D1");
  }
});

Deno.test("an indirect table longer than Queue Size (2.8.19/3) or outside RAM (2.8.4/D1)", () => {
  const t = device(2, { indirect: true });
  t.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 48 });
  expectBroken(t, "2.8.19/3");
  const u = device(4, { indirect: true });
  u.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: 0xfff0, len: 32 });
  expectBroken(u, "2.8.4/D1");
});

Deno.test("indirect entries: readable after writable breaks (2.8.17/3); stray flags are only reported (2.8.19/2)", () => {
  const t = device(4, { indirect: true });
  t.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 32, id: 1 });
  t.write(0, { flags: W }, TABLE);
  t.write(1, { flags: 0 }, TABLE);
  expectBroken(t, "2.8.17/3");
  const u = device(4, { indirect: true });
  u.write(0, { flags: A | VIRTQ_DESC_F_INDIRECT, addr: TABLE, len: 32, id: 1 });
  u.write(0, { flags: N }, TABLE);
  u.write(1, { flags: W | N }, TABLE);
  const chain = u.dev.pop()!;
  assert.equal(chain.descriptorCount, 2);
  assert.deepEqual(u.log.entries.map((e) => e.id), ["2.8.19/2"]);
  assert.deepEqual(u.broken, []);
});

Deno.test("a Descriptor Ring outside RAM is 2.8.4/D1, not an exception", () => {
  const memory = new GuestMemory(0x1000);
  const log = new ConformanceLog();
  const dev = new PackedQueueDevice({
    memory,
    index: 0,
    size: 4,
    descAddr: 0x2000,
    availAddr: 0x100,
    usedAddr: 0x104,
    eventIdx: false,
    indirect: false,
    reporter: log.scoped("device"),
  });
  assert.equal(dev.pop(), null);
  assert.deepEqual(log.entries.map((e) => e.id), ["2.8.4/D1"]);
});

Deno.test("Driver Event Suppression flags the driver may not write are reported once (2.8.14/D1)", () => {
  const t = device(4);
  t.write(0, { flags: A | W, id: 1 });
  t.memory.writeU16(DRIVER_EVENT + 2, RING_EVENT_FLAGS_DESC); // DESC without event idx
  t.dev.push(t.dev.pop()!.head, 1);
  assert.equal(t.dev.needsInterrupt(), true);
  assert.deepEqual(t.log.entries.map((e) => e.id), ["2.8.14/D1"]);
  t.write(1, { flags: A | W, id: 2 });
  t.dev.push(t.dev.pop()!.head, 1);
  assert.equal(t.dev.needsInterrupt(), true);
  assert.equal(t.log.entries.length, 1);
});
