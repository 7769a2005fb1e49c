import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceError, ConformanceLog, type Violation } from "../../conformance/log.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from "../../virtqueue/constants.ts";
import { SplitQueueDevice, splitQueueDeviceFactory } from "../../virtqueue/device_queue.ts";
import { QueueSizeError } from "../../virtqueue/layout.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";

const BASE = 0x4000_0000;
const RAM = 0x1_0000;
const NEXT = VIRTQ_DESC_F_NEXT;
const WRITE = VIRTQ_DESC_F_WRITE;
const INDIRECT = VIRTQ_DESC_F_INDIRECT;

interface RigOptions {
  size?: number;
  eventIdx?: boolean;
  indirect?: boolean;
  strict?: boolean;
  descAddr?: number;
  availAddr?: number;
  usedAddr?: number;
  memory?: GuestMemory;
}

/**
 * A device queue over rings this test writes byte by byte, playing a driver
 * that can break any rule: descriptor table at BASE, available ring at
 * BASE + 0x1000, used ring at BASE + 0x2000, indirect tables from BASE +
 * 0x3000, data buffers from BASE + 0x8000.
 */
class Rig {
  readonly memory: GuestMemory;
  readonly log: ConformanceLog;
  readonly device: SplitQueueDevice;
  readonly brokenCalls: Violation[] = [];
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  availIdx = 0;

  constructor(options: RigOptions = {}) {
    this.size = options.size ?? 8;
    this.memory = options.memory ?? new GuestMemory(RAM, { base: BASE });
    this.log = new ConformanceLog({ strict: options.strict ?? false });
    this.desc = options.descAddr ?? BASE;
    this.avail = options.availAddr ?? BASE + 0x1000;
    this.used = options.usedAddr ?? BASE + 0x2000;
    this.device = new SplitQueueDevice({
      memory: this.memory,
      index: 0,
      size: this.size,
      eventIdx: options.eventIdx ?? false,
      indirect: options.indirect ?? true,
      reporter: this.log.scoped("test queue 0"),
      descAddr: this.desc,
      availAddr: this.avail,
      usedAddr: this.used,
    }, (v) => this.brokenCalls.push(v));
  }

  /** Writes descriptor `i` of the table at `table` (default: the queue's table). */
  setDesc(i: number, addr: number | bigint, len: number, flags = 0, next = 0, table = this.desc) {
    const at = table + 16 * i;
    this.memory.writeU64(at, addr);
    this.memory.writeU32(at + 8, len);
    this.memory.writeU16(at + 12, flags);
    this.memory.writeU16(at + 14, next);
  }

  /** Puts heads in the next available ring slots and advances the available idx. */
  publish(...heads: number[]) {
    for (const head of heads) {
      this.memory.writeU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
      this.availIdx = (this.availIdx + 1) & 0xffff;
    }
    this.memory.writeU16(this.avail + 2, this.availIdx);
  }

  /** Address of data buffer k (256 bytes each). */
  data(k: number): number {
    return BASE + 0x8000 + 0x100 * k;
  }

  /** Address of indirect table k (512 bytes each). */
  table(k: number): number {
    return BASE + 0x3000 + 0x200 * k;
  }

  usedIdx(): number {
    return this.memory.readU16(this.used + 2);
  }

  usedElem(i: number): { id: number; len: number } {
    const at = this.used + 4 + 8 * (i % this.size);
    return { id: this.memory.readU32(at), len: this.memory.readU32(at + 4) };
  }
}

/** Pops a chain that must be there. */
function popOk(rig: Rig): DescriptorChain {
  const chain = rig.device.pop();
  assert.ok(chain, `expected a chain; log: ${rig.log.format()}`);
  return chain;
}

// ---------------------------------------------------------------------------
// Well-formed chains

Deno.test("pop returns a direct chain with readable segments first", () => {
  const r = new Rig();
  r.setDesc(2, r.data(0), 16, NEXT, 5);
  r.setDesc(5, r.data(1), 100, NEXT, 1);
  r.setDesc(1, r.data(2), 200, WRITE);
  assert.equal(r.device.hasAvailable(), false);
  assert.equal(r.device.pop(), null);
  r.publish(2);
  assert.equal(r.device.hasAvailable(), true);
  const chain = popOk(r);
  assert.deepEqual(chain, {
    head: 2,
    readable: [{ addr: r.data(0), len: 16 }, { addr: r.data(1), len: 100 }],
    writable: [{ addr: r.data(2), len: 200 }],
    readableLength: 116,
    writableLength: 200,
    descriptorCount: 3,
    indirect: false,
  });
  assert.equal(r.device.hasAvailable(), false);
  assert.equal(r.device.pop(), null);
  assert.equal(r.device.lastAvailIdx, 1);
  assert.equal(r.device.inFlight, 1);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("pop flattens an indirect table and ignores the WRITE flag of its descriptor (2.7.5.3.2/1)", () => {
  const r = new Rig();
  const t = r.table(0);
  r.setDesc(0, r.data(0), 16, NEXT, 1, t);
  r.setDesc(1, r.data(1), 512, WRITE | NEXT, 2, t);
  r.setDesc(2, r.data(3), 1, WRITE, 0, t);
  // WRITE on the pointing descriptor means nothing; the table entries decide.
  r.setDesc(4, t, 48, INDIRECT | WRITE);
  r.publish(4);
  const chain = popOk(r);
  assert.equal(chain.head, 4);
  assert.equal(chain.indirect, true);
  assert.deepEqual(chain.readable, [{ addr: r.data(0), len: 16 }]);
  assert.deepEqual(chain.writable, [{ addr: r.data(1), len: 512 }, { addr: r.data(3), len: 1 }]);
  assert.equal(chain.descriptorCount, 4);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("pop takes direct descriptors and a table of exactly Queue Size descriptors together (2.7.5.3.1/3)", () => {
  const r = new Rig();
  for (let k = 0; k < r.size - 2; k++) r.setDesc(k, r.data(k), 8, NEXT, k + 1);
  r.setDesc(r.size - 2, r.table(0), 48, INDIRECT);
  r.setDesc(0, r.data(r.size), 8, NEXT, 1, r.table(0));
  r.setDesc(1, r.data(r.size + 1), 8, 0, 0, r.table(0));
  r.setDesc(2, r.data(r.size + 2), 8, NEXT, 0, r.table(0)); // unused: the chain ends at entry 1
  r.publish(0);
  const chain = popOk(r);
  assert.equal(chain.readable.length, r.size);
  assert.equal(chain.descriptorCount, r.size + 1);
  assert.equal(r.device.broken, null);
  assert.deepEqual(r.log.entries, []);
});

Deno.test("pop handles direct descriptors followed by one indirect descriptor (2.7.5.3.2/2)", () => {
  const r = new Rig();
  const t = r.table(1);
  r.setDesc(0, r.data(5), 32, NEXT, 1, t);
  r.setDesc(1, r.data(6), 8, WRITE, 0, t);
  r.setDesc(0, t, 32, INDIRECT); // the last descriptor of the direct part
  r.setDesc(6, r.data(4), 16, NEXT, 0);
  r.setDesc(3, r.data(0), 4, NEXT, 6);
  r.publish(3);
  const chain = popOk(r);
  assert.deepEqual(chain.readable, [
    { addr: r.data(0), len: 4 },
    { addr: r.data(4), len: 16 },
    { addr: r.data(5), len: 32 },
  ]);
  assert.deepEqual(chain.writable, [{ addr: r.data(6), len: 8 }]);
  assert.equal(chain.descriptorCount, 5);
  assert.equal(chain.indirect, true);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("a chain of exactly Queue Size descriptors is accepted", () => {
  const r = new Rig({ size: 4 });
  r.setDesc(0, r.data(0), 1, NEXT, 1);
  r.setDesc(1, r.data(1), 1, NEXT, 2);
  r.setDesc(2, r.data(2), 1, WRITE | NEXT, 3);
  r.setDesc(3, r.data(3), 1, WRITE);
  r.publish(0);
  assert.equal(popOk(r).descriptorCount, 4);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("a popped chain keeps its copies when the driver rewrites the table afterwards", () => {
  const r = new Rig();
  r.setDesc(0, r.data(0), 64, WRITE);
  r.publish(0);
  const chain = popOk(r);
  r.setDesc(0, BASE + RAM - 1, 0xffff, NEXT, 9); // too late: read once, validated, copied
  assert.deepEqual(chain.writable, [{ addr: r.data(0), len: 64 }]);
  r.device.push(0, 64);
  assert.equal(r.log.entries.length, 0);
});

// ---------------------------------------------------------------------------
// Every rule the device enforces, broken on purpose

interface BadCase {
  name: string;
  id: string;
  options?: RigOptions;
  setup: (r: Rig) => void;
  /** What runs into the violation (default: pop). */
  trigger?: (r: Rig) => unknown;
}

const BAD: BadCase[] = [
  {
    name: "available idx more than Queue Size ahead",
    id: "2.7.6/D1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8);
      r.memory.writeU16(r.avail + 2, r.size + 1);
    },
  },
  {
    name: "available idx moved backwards",
    id: "2.7.6.1/1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8);
      r.publish(0);
      popOk(r);
      r.memory.writeU16(r.avail + 2, 0); // back from 1 to 0
    },
  },
  {
    name: "head made available again while its chain is with the device",
    id: "2.7.6/D2",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, WRITE);
      r.publish(0);
      popOk(r);
      r.publish(0); // QEMU's "Virtqueue size exceeded" class: the device still holds head 0
    },
  },
  {
    name: "head index out of range",
    id: "2.7.5/D1",
    setup: (r) => r.publish(r.size),
  },
  {
    name: "next index out of range",
    id: "2.7.5/D1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, r.size);
      r.publish(0);
    },
  },
  {
    name: "next index beyond an indirect table",
    id: "2.7.5/D1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, 2, r.table(0));
      r.setDesc(1, r.data(1), 8, 0, 0, r.table(0));
      r.setDesc(0, r.table(0), 32, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "loop through two descriptors",
    id: "2.7.5.3.1/3",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, 1);
      r.setDesc(1, r.data(1), 8, NEXT, 0);
      r.publish(0);
    },
  },
  {
    name: "descriptor chained to itself",
    id: "2.7.5.3.1/3",
    setup: (r) => {
      r.setDesc(3, r.data(0), 8, WRITE | NEXT, 3);
      r.publish(3);
    },
  },
  {
    name: "loop inside an indirect table",
    id: "2.7.5.3.1/3",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, 1, r.table(0));
      r.setDesc(1, r.data(1), 8, NEXT, 0, r.table(0));
      r.setDesc(0, r.table(0), 32, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "indirect table with more entries than Queue Size",
    id: "2.7.5.3.1/3",
    setup: (r) => {
      r.setDesc(0, r.table(0), 16 * (r.size + 1), INDIRECT);
      r.publish(0);
    },
  },
  {
    // 2.7.5.3.1/3 bounds the whole chain: Queue Size - 1 direct buffers leave room for one entry.
    name: "direct descriptors and an indirect table longer than Queue Size together",
    id: "2.7.5.3.1/3",
    setup: (r) => {
      for (let k = 0; k < r.size - 1; k++) r.setDesc(k, r.data(k), 8, NEXT, k + 1);
      r.setDesc(r.size - 1, r.table(0), 32, INDIRECT);
      r.setDesc(0, r.data(0), 8, NEXT, 1, r.table(0));
      r.setDesc(1, r.data(1), 8, 0, 0, r.table(0));
      r.publish(0);
    },
  },
  {
    name: "buffer running past the end of RAM",
    id: "2.7.5/D2",
    setup: (r) => {
      r.setDesc(0, BASE + RAM - 0x10, 0x20, WRITE);
      r.publish(0);
    },
  },
  {
    name: "buffer below the start of RAM",
    id: "2.7.5/D2",
    setup: (r) => {
      r.setDesc(0, BASE - 0x10, 0x8);
      r.publish(0);
    },
  },
  {
    name: "buffer address above 2^53",
    id: "2.7.5/D2",
    setup: (r) => {
      r.setDesc(0, 1n << 60n, 0x8);
      r.publish(0);
    },
  },
  {
    name: "second buffer outside RAM after a good one",
    id: "2.7.5/D2",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, 1);
      r.setDesc(1, BASE + RAM, 8, WRITE);
      r.publish(0);
    },
  },
  {
    name: "indirect table outside RAM",
    id: "2.7.5/D2",
    setup: (r) => {
      r.setDesc(0, BASE + RAM - 16, 32, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "descriptor table partly outside RAM",
    id: "2.7.5/D2",
    options: { descAddr: BASE + RAM - 64 },
    setup: (r) => r.publish(7), // descriptor 7 is at +112
  },
  {
    name: "available ring ring[] outside RAM",
    id: "2.7.5/D2",
    options: { availAddr: BASE + RAM - 4 },
    setup: (r) => r.memory.writeU16(r.avail + 2, 1),
  },
  {
    name: "available ring entirely outside RAM",
    id: "2.7.5/D2",
    options: { availAddr: BASE + 2 * RAM },
    setup: () => {},
    trigger: (r) => r.device.hasAvailable(),
  },
  {
    name: "used ring partly outside RAM",
    id: "2.7.5/D2",
    options: { usedAddr: BASE + RAM - 8 },
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, WRITE);
      r.publish(0);
    },
    trigger: (r) => r.device.push(popOk(r).head, 8),
  },
  {
    name: "used_event outside RAM",
    id: "2.7.5/D2",
    options: { eventIdx: true, size: 8, availAddr: BASE + RAM - (4 + 2 * 8) },
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, WRITE);
      r.publish(0);
    },
    trigger: (r) => {
      r.device.push(popOk(r).head, 8);
      return r.device.needsInterrupt();
    },
  },
  {
    name: "zero-length buffer",
    id: "2.7.5/D3",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, NEXT, 1);
      r.setDesc(1, r.data(1), 0, WRITE);
      r.publish(0);
    },
  },
  {
    name: "zero-length buffer inside an indirect table",
    id: "2.7.5/D3",
    setup: (r) => {
      r.setDesc(0, r.data(0), 0, 0, 0, r.table(0));
      r.setDesc(0, r.table(0), 16, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "device-readable after device-writable",
    id: "2.7.4.2/1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, WRITE | NEXT, 1);
      r.setDesc(1, r.data(1), 8);
      r.publish(0);
    },
  },
  {
    name: "device-readable in an indirect table after a direct device-writable",
    id: "2.7.4.2/1",
    setup: (r) => {
      r.setDesc(0, r.data(1), 8, 0, 0, r.table(0));
      r.setDesc(0, r.data(0), 8, WRITE | NEXT, 1);
      r.setDesc(1, r.table(0), 16, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC",
    id: "2.7.5.3.1/1",
    options: { indirect: false },
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, 0, 0, r.table(0));
      r.setDesc(0, r.table(0), 16, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "indirect table of length 0",
    id: "2.7.5.3/D1",
    setup: (r) => {
      r.setDesc(0, r.table(0), 0, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "indirect table length not a multiple of 16",
    id: "2.7.5.3/D1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, 0, 0, r.table(0));
      r.setDesc(0, r.table(0), 24, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT",
    id: "2.7.5.3.1/4",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, 0, 0, r.table(0));
      r.setDesc(0, r.table(0), 16, INDIRECT | NEXT, 1);
      r.setDesc(1, r.data(1), 8, WRITE);
      r.publish(0);
    },
  },
  {
    name: "nested indirect table",
    id: "2.7.5.3.1/2",
    setup: (r) => {
      r.setDesc(0, r.data(0), 8, 0, 0, r.table(1));
      r.setDesc(0, r.table(1), 16, INDIRECT, 0, r.table(0));
      r.setDesc(0, r.table(0), 16, INDIRECT);
      r.publish(0);
    },
  },
  {
    name: "chain longer than 2^32 bytes",
    id: "2.7.5.2/1",
    setup: (r) => {
      r.setDesc(0, r.data(0), 0xffff_ffff, NEXT, 1);
      r.setDesc(1, r.data(1), 2, WRITE);
      r.publish(0);
    },
  },
];

for (const bad of BAD) {
  Deno.test(`device reports ${bad.id} (${bad.name}) and breaks the queue`, () => {
    const r = new Rig(bad.options);
    bad.setup(r);
    // Nothing throws out of the device.
    (bad.trigger ?? ((rig: Rig) => rig.device.pop()))(r);
    assert.equal(r.log.entries.length, 1, r.log.format());
    const v = r.log.entries[0];
    assert.equal(v.id, bad.id);
    assert.equal(v.source, "test queue 0");
    assert.equal(v.role, "driver");
    assert.match(v.action, /broken/);
    assert.equal(r.device.broken, v);
    assert.deepEqual(r.brokenCalls, [v]);
    // Broken for good: nothing more comes out, nothing more is reported.
    if (r.memory.contains(r.avail, 4 + 2 * r.size)) r.publish(0);
    assert.equal(r.device.pop(), null);
    assert.equal(r.device.hasAvailable(), false);
    assert.equal(r.device.needsInterrupt(), false);
    assert.equal(r.device.enableNotifications(), false);
    r.device.disableNotifications();
    assert.equal(r.log.entries.length, 1);
    assert.equal(r.brokenCalls.length, 1);
  });

  Deno.test(`device in strict mode throws ConformanceError for ${bad.id} (${bad.name})`, () => {
    const r = new Rig({ ...bad.options, strict: true });
    bad.setup(r);
    const trigger = bad.trigger ?? ((rig: Rig) => rig.device.pop());
    assert.throws(
      () => trigger(r),
      (e: unknown) => e instanceof ConformanceError && e.violation.id === bad.id,
    );
    assert.equal(r.device.broken?.id, bad.id);
    assert.equal(r.brokenCalls.length, 1);
    assert.equal(r.device.pop(), null);
  });
}

Deno.test("a loop is caught after Queue Size descriptors, with the count in the report", () => {
  const r = new Rig({ size: 4 });
  r.setDesc(0, r.data(0), 8, NEXT, 1);
  r.setDesc(1, r.data(1), 8, NEXT, 2);
  r.setDesc(2, r.data(2), 8, NEXT, 3);
  r.setDesc(3, r.data(3), 8, NEXT, 1);
  r.publish(0);
  assert.equal(r.device.pop(), null);
  assert.deepEqual(r.log.entries[0].values, { head: 0, descriptors: 4, limit: 4, indirect: false });
});

// ---------------------------------------------------------------------------
// Rules that are only logged

Deno.test("available ring flags other than 0/1 without event idx: logged once, queue goes on (2.7.7.1/1)", () => {
  const r = new Rig({ eventIdx: false });
  r.setDesc(0, r.data(0), 8, WRITE);
  r.setDesc(1, r.data(1), 8, WRITE);
  r.memory.writeU16(r.avail, 0x3);
  r.publish(0, 1);
  const a = popOk(r);
  const b = popOk(r);
  assert.equal(r.log.find("2.7.7.1/1").length, 1, "reported once for the same value");
  assert.equal(r.log.entries.length, 1);
  assert.deepEqual(r.log.entries[0].values, { flags: 3 });
  assert.equal(r.device.broken, null);
  r.device.push(a.head, 1);
  r.device.push(b.head, 1);
  // Bit 0 is still honoured: NO_INTERRUPT.
  assert.equal(r.device.needsInterrupt(), false);
  assert.equal(r.brokenCalls.length, 0);
});

Deno.test("available ring flags nonzero with event idx: logged, ignored (2.7.7.1/2, 2.7.7.2/2)", () => {
  const r = new Rig({ eventIdx: true });
  r.setDesc(0, r.data(0), 8, WRITE);
  r.memory.writeU16(r.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
  r.publish(0);
  r.device.push(popOk(r).head, 8);
  assert.equal(r.log.find("2.7.7.1/2").length, 1);
  assert.equal(r.device.broken, null);
  // used_event is 0 and the entry at index 0 was written: the flag is ignored.
  assert.equal(r.device.needsInterrupt(), true);
});

Deno.test("log-only rules throw in strict mode without breaking the queue", () => {
  const r = new Rig({ eventIdx: false, strict: true });
  r.setDesc(0, r.data(0), 8, WRITE);
  r.memory.writeU16(r.avail, 0x8);
  r.publish(0);
  assert.throws(
    () => r.device.pop(),
    (e: unknown) => e instanceof ConformanceError && e.violation.id === "2.7.7.1/1",
  );
  assert.equal(r.device.broken, null);
});

// ---------------------------------------------------------------------------
// Used ring and notifications

Deno.test("push writes the used element and then idx (2.7.8.2/1)", () => {
  const writes: string[] = [];
  class RecordingMemory extends GuestMemory {
    override writeU16(address: number, value: number): void {
      writes.push(`u16 ${(address - BASE).toString(16)}=${value}`);
      super.writeU16(address, value);
    }
    override writeU32(address: number, value: number): void {
      writes.push(`u32 ${(address - BASE).toString(16)}=${value}`);
      super.writeU32(address, value);
    }
  }
  const r = new Rig({ memory: new RecordingMemory(RAM, { base: BASE }) });
  r.setDesc(5, r.data(0), 64, WRITE);
  r.publish(5);
  const chain = popOk(r);
  writes.length = 0;
  r.device.push(chain.head, 40);
  assert.deepEqual(writes, ["u32 2004=5", "u32 2008=40", "u16 2002=1"]);
  assert.deepEqual(r.usedElem(0), { id: 5, len: 40 });
  assert.equal(r.usedIdx(), 1);
  assert.equal(r.device.usedIdx, 1);
});

Deno.test("the device never writes the descriptor table, an indirect table or the available ring (2.7.5.1/2)", () => {
  for (const eventIdx of [false, true]) {
    const r = new Rig({ eventIdx });
    r.setDesc(0, r.data(0), 16, NEXT, 1);
    r.setDesc(1, r.data(1), 16, WRITE);
    r.setDesc(0, r.data(2), 16, NEXT, 1, r.table(0));
    r.setDesc(1, r.data(3), 16, WRITE, 0, r.table(0));
    r.setDesc(2, r.table(0), 32, INDIRECT);
    r.publish(0, 2);
    const descBefore = r.memory.bytes(r.desc, 16 * r.size).slice();
    const tableBefore = r.memory.bytes(r.table(0), 32).slice();
    const availBefore = r.memory.bytes(r.avail, 4 + 2 * r.size + 2).slice();
    r.device.disableNotifications();
    const a = popOk(r);
    const b = popOk(r);
    r.device.push(b.head, 16);
    r.device.push(a.head, 3);
    r.device.needsInterrupt();
    r.device.enableNotifications();
    assert.deepEqual(r.memory.bytes(r.desc, 16 * r.size), descBefore);
    assert.deepEqual(r.memory.bytes(r.table(0), 32), tableBefore);
    assert.deepEqual(r.memory.bytes(r.avail, 4 + 2 * r.size + 2), availBefore);
  }
});

Deno.test("push rejects a device model's own mistakes with RangeError", () => {
  const r = new Rig();
  r.setDesc(0, r.data(0), 64, WRITE);
  r.setDesc(1, r.data(1), 64);
  r.publish(0, 1);
  const a = popOk(r);
  const b = popOk(r);
  assert.throws(() => r.device.push(3, 0), RangeError); // never popped
  assert.throws(() => r.device.push(8, 0), RangeError); // out of range
  assert.throws(() => r.device.push(a.head, 65), /2\.7\.8\.2\/2/); // more than writable
  assert.throws(() => r.device.push(b.head, 1), RangeError); // a readable-only chain
  assert.throws(() => r.device.push(a.head, -1), RangeError);
  r.device.push(a.head, 64);
  assert.throws(() => r.device.push(a.head, 0), RangeError); // pushed twice
  r.device.push(b.head, 0);
  assert.equal(r.usedIdx(), 2);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("needsInterrupt without event idx follows VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7.2/1)", () => {
  const r = new Rig({ eventIdx: false });
  for (let i = 0; i < 4; i++) r.setDesc(i, r.data(i), 8, WRITE);
  assert.equal(r.device.needsInterrupt(), false, "nothing pushed yet");
  r.publish(0, 1, 2, 3);
  r.device.push(popOk(r).head, 8);
  assert.equal(r.device.needsInterrupt(), true);
  assert.equal(r.device.needsInterrupt(), false, "the entry was consumed by the last decision");
  r.memory.writeU16(r.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
  r.device.push(popOk(r).head, 8);
  assert.equal(r.device.needsInterrupt(), false);
  r.memory.writeU16(r.avail, 0);
  r.device.push(popOk(r).head, 8);
  r.device.push(popOk(r).head, 8);
  assert.equal(r.device.needsInterrupt(), true);
  // used_event is ignored without event idx.
  r.memory.writeU16(r.avail + 4 + 2 * r.size, 1234);
  r.publish(0);
  r.device.push(popOk(r).head, 8);
  assert.equal(r.device.needsInterrupt(), true);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("needsInterrupt with event idx follows used_event (2.7.7.2/2)", () => {
  const r = new Rig({ eventIdx: true, size: 8 });
  for (let i = 0; i < 8; i++) r.setDesc(i, r.data(i), 8, WRITE);
  const usedEvent = (v: number) => r.memory.writeU16(r.avail + 4 + 2 * r.size, v);
  r.publish(0, 1, 2, 3, 4, 5, 6, 7);
  usedEvent(2);
  r.device.push(popOk(r).head, 1); // entry 0
  assert.equal(r.device.needsInterrupt(), false);
  r.device.push(popOk(r).head, 1); // entry 1
  assert.equal(r.device.needsInterrupt(), false);
  r.device.push(popOk(r).head, 1); // entry 2: the one asked for
  assert.equal(r.device.needsInterrupt(), true);
  // A batch: entries 3, 4, 5 in one decision, used_event 4 inside it.
  usedEvent(4);
  for (let k = 0; k < 3; k++) r.device.push(popOk(r).head, 1);
  assert.equal(r.device.needsInterrupt(), true);
  // used_event already behind: no notification.
  usedEvent(5);
  r.device.push(popOk(r).head, 1); // entry 6
  assert.equal(r.device.needsInterrupt(), false);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("needsInterrupt with event idx across the 16-bit wrap of the used idx", () => {
  const r = new Rig({ eventIdx: true, size: 2 });
  r.setDesc(0, r.data(0), 8, WRITE);
  r.setDesc(1, r.data(1), 8, WRITE);
  const usedEvent = (v: number) => r.memory.writeU16(r.avail + 4 + 2 * r.size, v);
  usedEvent(0x7000); // far away while fast-forwarding
  for (let k = 0; k < 0xfffe; k++) {
    r.publish(0);
    r.device.push(popOk(r).head, 8);
    if (k % 0x1000 === 0) r.device.needsInterrupt();
  }
  r.device.needsInterrupt();
  assert.equal(r.device.usedIdx, 0xfffe);
  usedEvent(0xffff);
  r.publish(0, 1);
  r.device.push(popOk(r).head, 8); // entry 0xfffe
  assert.equal(r.device.needsInterrupt(), false);
  r.device.push(popOk(r).head, 8); // entry 0xffff: asked for
  assert.equal(r.device.needsInterrupt(), true);
  assert.equal(r.usedIdx(), 0);
  usedEvent(0);
  r.publish(1);
  r.device.push(popOk(r).head, 8); // entry 0 of the next lap
  assert.equal(r.device.needsInterrupt(), true);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("disable/enableNotifications without event idx toggle VIRTQ_USED_F_NO_NOTIFY", () => {
  const r = new Rig({ eventIdx: false });
  r.setDesc(0, r.data(0), 8, WRITE);
  r.device.disableNotifications();
  assert.equal(r.memory.readU16(r.used), VIRTQ_USED_F_NO_NOTIFY);
  assert.equal(r.device.enableNotifications(), false, "nothing arrived");
  assert.equal(r.memory.readU16(r.used), 0);
  r.device.disableNotifications();
  r.publish(0);
  assert.equal(r.device.enableNotifications(), true, "a chain arrived meanwhile");
  popOk(r);
  assert.equal(r.device.enableNotifications(), false);
});

Deno.test("notifications with event idx: used flags stay 0, avail_event tracks the next entry (2.7.10.2/2)", () => {
  const r = new Rig({ eventIdx: true, size: 4 });
  const availEvent = () => r.memory.readU16(r.used + 4 + 8 * r.size);
  for (let i = 0; i < 4; i++) r.setDesc(i, r.data(i), 8, WRITE);
  r.publish(0, 1);
  popOk(r);
  assert.equal(availEvent(), 1, "enabled: the next entry to pop");
  r.device.disableNotifications();
  assert.equal(r.memory.readU16(r.used), 0, "flags stay 0 with event idx");
  assert.equal(availEvent(), 0, "disabled: just behind the next entry");
  popOk(r);
  assert.equal(availEvent(), 1, "still behind after another pop while disabled");
  assert.equal(r.device.enableNotifications(), false);
  assert.equal(availEvent(), 2);
  r.device.disableNotifications();
  r.publish(2);
  assert.equal(r.device.enableNotifications(), true);
  assert.equal(r.memory.readU16(r.used), 0);
  assert.equal(r.log.entries.length, 0);
});

Deno.test("stats count chains, bytes and used entries", () => {
  const r = new Rig();
  r.setDesc(0, r.data(0), 10, NEXT, 1);
  r.setDesc(1, r.data(1), 20, WRITE);
  r.setDesc(2, r.data(2), 7);
  r.publish(0, 2);
  r.device.push(popOk(r).head, 15);
  popOk(r);
  assert.deepEqual(r.device.stats, { chains: 2, bytesRead: 17, bytesWritten: 15, used: 1 });
  assert.equal(r.device.inFlight, 1);
});

Deno.test("splitQueueDeviceFactory builds a device queue; bad sizes are refused", () => {
  const memory = new GuestMemory(RAM, { base: BASE });
  const log = new ConformanceLog();
  const config = {
    memory,
    index: 3,
    size: 16,
    eventIdx: false,
    indirect: false,
    reporter: log.scoped("test queue 0"),
    descAddr: BASE,
    availAddr: BASE + 0x1000,
    usedAddr: BASE + 0x2000,
  };
  const q = splitQueueDeviceFactory(config, () => {});
  assert.ok(q instanceof SplitQueueDevice);
  assert.equal(q.index, 3);
  assert.equal(q.size, 16);
  assert.equal(q.pop(), null);
  assert.throws(() => new SplitQueueDevice({ ...config, size: 12 }), QueueSizeError);
  assert.throws(() => new SplitQueueDevice({ ...config, size: 65536 }), QueueSizeError);
});
