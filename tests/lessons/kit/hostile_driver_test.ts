// Tests for lessons/kit/hostile_driver.ts. The reference device half reports
// exactly each case's rule, never throws, stays within the read budget and
// never stores into the driver's areas; an independent correct walker passes
// every row; walkers with one mistake each fail the row of their mistake,
// the one without loop detection stopped by the read budget.

import assert from "node:assert/strict";
import { breakDeviceRing } from "../../../virtqueue/device/ring.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS as REF,
  type SplitRingDeviceParts,
} from "../../../virtqueue/parts.ts";
import type { BufferSegment, DescriptorChain } from "../../../virtqueue/types.ts";
import {
  HOSTILE_CHAIN_ROWS,
  HOSTILE_CHAINS,
  type HostileChain,
  hostileChainRows,
  hostileChainSubject,
  popHostileChain,
} from "../../../lessons/kit/hostile_driver.ts";
import { failed, gradeRows } from "./_grade.ts";

for (const c of HOSTILE_CHAINS) {
  Deno.test(`the reference device half on ${c.name}: ${c.accepted ? "taken" : `reports ${c.rule}`}`, () => {
    const run = popHostileChain(c);
    assert.equal(run.runaway, null);
    assert.ok(!("threw" in run), `threw ${String(run.threw)}`);
    assert.equal(
      run.ringStores,
      0,
      "the device stores nothing into the descriptor table or available ring (2.7.5.1/2)",
    );
    const pops = c.pops ?? 1;
    if (c.accepted) {
      assert.deepEqual(run.reported, []);
      assert.equal(run.broken, null);
      assert.equal(run.chains.length, pops);
    } else {
      assert.deepEqual(run.reported, [c.rule], `reported ${run.reported.join(", ")}`);
      assert.equal(run.broken, c.rule);
      assert.equal(run.chains.length, pops - 1);
    }
    assert.ok(run.loads > 0);
  });
}

Deno.test("the corpus holds every class of QEMU's virtqueue_split_pop checks, and the edges", () => {
  const names = HOSTILE_CHAINS.map((c) => c.name).join("\n");
  for (
    const pattern of [
      /next is itself/,
      /point at each other/,
      /100 descriptors whose last goes back/,
      /next is Queue Size/,
      /slot naming descriptor Queue Size/,
      /of length 0/,
      /readable descriptor after a device-writable/,
      /one byte past the end of RAM/,
      /ends exactly on the last byte of RAM/,
      /wraps past 2\^64/,
      /more than 2\^32 bytes/,
      /indirect table of length 0/,
      /indirect table of 24 bytes/,
      /itself indirect/,
      /indirect descriptor that also has NEXT/,
      /without VIRTIO_F_INDIRECT_DESC/,
      /indirect table of Queue Size \+ 1 entries/,
      /loop inside an indirect table/,
      /indirect table that starts at the end of RAM/,
      /available idx Queue Size \+ 1 entries ahead/,
      /available idx moved back/,
      /made available again while the device still holds it/,
    ]
  ) assert.match(names, pattern);
  assert.equal(new Set(HOSTILE_CHAINS.map((c) => c.name)).size, HOSTILE_CHAINS.length);
  for (const c of HOSTILE_CHAINS) {
    assert.ok(HOSTILE_CHAIN_ROWS[c.rule], `no row name for ${c.rule}`);
  }
  assert.ok(Object.isFrozen(HOSTILE_CHAINS));
});

Deno.test("every case is reported through a strict log too, as a ConformanceError citing its rule", async () => {
  const { ringFixture } = await import("../../../lessons/kit/ring.ts");
  for (const c of HOSTILE_CHAINS.filter((x) => !x.accepted)) {
    const f = ringFixture({ ...c.fixture, strict: true });
    c.build(f);
    let id: string | undefined;
    try {
      for (let k = 0; k < (c.pops ?? 1); k++) f.deviceQueue.pop();
    } catch (e) {
      id = (e as { violation?: { id: string } }).violation?.id;
    }
    assert.equal(id, c.rule, c.name);
  }
});

// ------------------------------------------- a learner's walker, written from the contract

/** One mistake at a time. */
interface Mistakes {
  /** No loop detection at all. */
  readonly noLoopCheck?: boolean;
  /** Refuses a chain once it reaches this many descriptors (`size - 1`: off by one). */
  readonly limit?: (size: number) => number;
  /** `addr + len < end`: a buffer ending on RAM's last byte refused. */
  readonly strictEnd?: boolean;
  /** `addr` read as a u64 and `addr + len` taken modulo 2^64. */
  readonly wrapping?: boolean;
  /** Marks each descriptor walked by setting a flag bit in the table. */
  readonly marksTable?: boolean;
  /** Throws on a zero-length descriptor instead of reporting it. */
  readonly throwsOnZero?: boolean;
}

/**
 * A walkChain written from the part's contract alone, in another style than
 * the reference: loops found with a visited set, RAM checked per descriptor
 * as it is read.
 */
function walker(m: Mistakes = {}): SplitRingDeviceParts["walkChain"] {
  return (ring, head) => {
    const memory = ring.memory;
    const readable: BufferSegment[] = [];
    const writable: BufferSegment[] = [];
    let readableLength = 0;
    let writableLength = 0;
    const visited = new Uint8Array(ring.size);
    let count = 0;
    for (let i = head;;) {
      if (!m.noLoopCheck && visited[i]) {
        return breakDeviceRing(
          ring,
          "2.7.5.3.1/3",
          `Descriptor ${i} comes twice in chain ${head}`,
          {
            head,
            desc: i,
          },
        );
      }
      visited[i] = 1;
      count++;
      if (m.limit && count > m.limit(ring.size)) {
        return breakDeviceRing(ring, "2.7.5.3.1/3", `Chain ${head} is too long`, { head });
      }
      const at = ring.descAddr + 16 * i;
      const big = memory.readU64(at);
      const addr = m.wrapping ? Number(big & 0x1f_ffff_ffff_ffffn) : memory.readU64Number(at);
      const len = memory.readU32(at + 8);
      const flags = memory.readU16(at + 12);
      const next = memory.readU16(at + 14);
      if (m.marksTable) memory.writeU16(at + 12, flags | 0x80);
      if (flags & 4) {
        Object.assign(ring.indirectDesc, { index: i, addr, len, flags });
        return {
          head,
          readable,
          writable,
          readableLength,
          writableLength,
          descriptorCount: count,
          indirect: true,
        };
      }
      if (len === 0) {
        if (m.throwsOnZero) throw new RangeError(`descriptor ${i} is empty`);
        return breakDeviceRing(ring, "2.7.5/D3", `Descriptor ${i} is empty`, { head, desc: i });
      }
      if (readableLength + writableLength + len > 2 ** 32) {
        return breakDeviceRing(ring, "2.7.5.2/1", `Chain ${head} is over 4 GiB`, { head });
      }
      const inRam = m.wrapping
        ? ((big + BigInt(len)) & 0xffff_ffff_ffff_ffffn) <= BigInt(memory.end) &&
          Number(big) >= memory.base
        : m.strictEnd
        ? addr >= memory.base && addr + len < memory.end
        : memory.contains(addr, len);
      if (!inRam) {
        return breakDeviceRing(ring, "2.7.5/D2", `Buffer of descriptor ${i} is outside RAM`, {
          head,
          desc: i,
        });
      }
      if (flags & 2) {
        writable.push({ addr, len });
        writableLength += len;
      } else {
        if (writable.length > 0) {
          return breakDeviceRing(ring, "2.7.4.2/1", `Descriptor ${i} is readable after writable`, {
            head,
            desc: i,
          });
        }
        readable.push({ addr, len });
        readableLength += len;
      }
      if ((flags & 1) === 0) break;
      if (next >= ring.size) {
        return breakDeviceRing(ring, "2.7.5/D1", `Descriptor ${i} has next ${next}`, {
          head,
          next,
        });
      }
      i = next;
    }
    const chain: DescriptorChain = {
      head,
      readable,
      writable,
      readableLength,
      writableLength,
      descriptorCount: count,
      indirect: false,
    };
    return chain;
  };
}

interface Impl {
  readonly walkChain: SplitRingDeviceParts["walkChain"];
  readonly availableCount?: SplitRingDeviceParts["availableCount"];
  readonly availHead?: SplitRingDeviceParts["availHead"];
  readonly readIndirectTable?: SplitRingDeviceParts["readIndirectTable"];
}

const subject = hostileChainSubject<Impl>((impl) => ({ ...impl }));
const rows = (cases: readonly HostileChain[]) => hostileChainRows(subject, { cases, hint: 2 });
const CHAIN = HOSTILE_CHAINS.filter((c) => c.topic === "chain");

Deno.test("the reference and an independent correct walker pass every row", async () => {
  for (const impl of [{ ...REF }, { walkChain: walker() }]) {
    const results = await gradeRows(rows(HOSTILE_CHAINS), impl);
    assert.deepEqual([...failed(results).values()].map((r) => r.message), []);
    assert.equal(results.length, new Set(HOSTILE_CHAINS.map((c) => c.rule)).size);
  }
});

Deno.test("a walker without loop detection is stopped by the read budget, with the runaway message", async () => {
  const loop = HOSTILE_CHAINS.find((c) => c.name === "two descriptors that point at each other")!;
  const run = popHostileChain(loop, { walkChain: walker({ noLoopCheck: true }) });
  assert.match(run.runaway ?? "", /more than 192 guest memory reads while popping the chain/);
  assert.match(
    run.runaway ?? "",
    /\(descriptor [01] (addr|len|flags|next)\)\): it looks like a loop that never ends/,
  );
  const failures = failed(
    await gradeRows(rows(CHAIN), { walkChain: walker({ noLoopCheck: true }) }),
  );
  const row = failures.get("a chain that loops or runs past Queue Size is refused");
  assert.ok(row, [...failures.keys()].join("; "));
  assert.equal(row.requirement, "2.7.5.3.1/3");
  assert.match(
    row.message,
    /observed: popping a descriptor whose next is itself \(available idx 0x0001/,
  );
  assert.match(
    row.message,
    /and the device was stopped by the read budget: .*loop that never ends/,
  );
  assert.match(row.message, /Case file: QEMU virtqueue_split_pop: "Looped descriptor"/);
  assert.equal(failures.size, 1, [...failures.keys()].join("; "));
});

const MISTAKES: readonly [string, Mistakes, string, RegExp][] = [
  [
    "refusing a chain of exactly Queue Size descriptors",
    { limit: (size) => size - 1 },
    "a chain that loops or runs past Queue Size is refused",
    /popping a chain of exactly Queue Size descriptors .* reported 2\.7\.5\.3\.1\/3/,
  ],
  [
    "addr + len < end",
    { strictEnd: true },
    "a buffer or table outside RAM is refused, one ending on its last byte taken",
    /ends exactly on the last byte of RAM .*took no chain, reported 2\.7\.5\/D2/,
  ],
  [
    "addresses taken modulo 2^64",
    { wrapping: true },
    "a buffer or table outside RAM is refused, one ending on its last byte taken",
    /wraps past 2\^64 .*took 1 chain/,
  ],
  [
    "marking descriptors in the table",
    { marksTable: true },
    "a chain that loops or runs past Queue Size is refused",
    /stored \d+ time\(s\) into the descriptor table or the available ring/,
  ],
  [
    "throwing on a zero-length descriptor",
    { throwsOnZero: true },
    "a zero-length descriptor is refused",
    /threw RangeError: descriptor 0 is empty/,
  ],
];

for (const [mistake, m, row, message] of MISTAKES) {
  Deno.test(`a walker ${mistake} fails "${row}"`, async () => {
    const failures = failed(await gradeRows(rows(CHAIN), { walkChain: walker(m) }));
    const result = failures.get(row);
    assert.ok(result, `failed: ${[...failures.keys()].join("; ")}`);
    assert.match(result.message, message);
  });
}

Deno.test("available-ring parts that trust idx or the in-flight heads fail their rows", async () => {
  const available = HOSTILE_CHAINS.filter((c) => c.topic === "available");
  const trusting: Impl = {
    walkChain: REF.walkChain,
    availableCount: (ring) => (ring.memory.readU16(ring.availAddr + 2) - ring.lastAvail) & 0xffff,
  };
  let failures = failed(await gradeRows(rows(available), trusting));
  assert.deepEqual([...failures.keys()].sort(), [
    "an available idx more than Queue Size ahead is refused, across the wrap too",
    "an available idx that moves back is refused",
  ]);
  assert.equal(
    failures.get("an available idx that moves back is refused")?.requirement,
    "2.7.6.1/1",
  );
  const reusing: Impl = {
    walkChain: REF.walkChain,
    availHead: (ring) => {
      const head = ring.memory.readU16(ring.availAddr + 4 + 2 * (ring.lastAvail & ring.mask));
      if (head >= ring.size) {
        return breakDeviceRing(ring, "2.7.5/D1", `Head ${head}`, { head }) ?? -1;
      }
      ring.lastAvail = (ring.lastAvail + 1) & 0xffff;
      return head;
    },
  };
  failures = failed(await gradeRows(rows(available), reusing));
  assert.deepEqual([...failures.keys()], [
    "a head made available twice while in flight is refused",
  ]);
});

Deno.test("an indirect reader that rounds a bad table length fails the length row", async () => {
  const indirect = HOSTILE_CHAINS.filter((c) => c.topic === "indirect");
  const rounding: Impl = {
    walkChain: REF.walkChain,
    readIndirectTable: (ring, chain) => {
      const d = ring.indirectDesc;
      d.len = Math.max(16, d.len - (d.len % 16)); // "whole descriptors only", never refused
      return REF.readIndirectTable(ring, chain);
    },
  };
  const failures = failed(await gradeRows(rows(indirect), rounding));
  assert.deepEqual([...failures.keys()], [
    "an indirect table of 0 or a non-multiple of 16 bytes is refused",
  ]);
  assert.match(
    failures.get("an indirect table of 0 or a non-multiple of 16 bytes is refused")!.message,
    /microsoft\/openvmm PR #2783/,
  );
});
