/**
 * Discard and write zeroes (§5.2.4, §5.2.6), both sides: the device's
 * segment checks and backend work, the driver's limits and how it cuts
 * ranges into requests, and the whole machine on an in-memory disk and on
 * an image file whose allocated size shrinks when holes are punched.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { features, hasFeature } from "../../virtio/features.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import { createMachine, type LabMachine } from "../../machine.ts";
import {
  type BlockConfigReader,
  BlockIoError,
  BlockRangeError,
  BlockUnsupportedError,
  type DiscardCursor,
  type DiscardDisk,
  type DiscardRange,
  type DiscardSegment,
  executeDiscardRequest,
  FileBlockBackend,
  layoutDiscardConfig,
  MemoryBlockBackend,
  parseDiscardRequest,
  readDiscardConfig,
  splitDiscard,
  VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS,
  VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlockDevice,
} from "../../devices/mod.ts";
import { pattern } from "./_stack.ts";

// ------------------------------------------------------------- fixtures

const HEADER = 0x100;

/** A discard/write zeroes chain: header + segments in `cuts` readable buffers, then the status. */
function chainOf(
  memory: GuestMemory,
  type: number,
  segments: readonly { sector: bigint | number; sectors: number; flags?: number }[],
  options: { cuts?: number[]; writable?: number[]; extra?: number } = {},
): DescriptorChain {
  memory.writeU32(HEADER, type);
  const table = HEADER + 16;
  segments.forEach((s, i) => {
    memory.writeU64(table + 16 * i, BigInt(s.sector));
    memory.writeU32(table + 16 * i + 8, s.sectors);
    memory.writeU32(table + 16 * i + 12, s.flags ?? 0);
  });
  const length = 16 + 16 * segments.length + (options.extra ?? 0);
  const cuts = options.cuts ?? [length];
  const readable = [];
  let at = HEADER;
  for (const len of cuts) {
    readable.push({ addr: at, len });
    at += len;
  }
  const writable = (options.writable ?? [1]).map((len, i) => ({ addr: 0x800 + 0x100 * i, len }));
  return {
    head: 0,
    descriptorCount: readable.length + writable.length,
    indirect: false,
    readable,
    readableLength: length,
    writable,
    writableLength: writable.reduce((n, s) => n + s.len, 0),
  };
}

const DISK: DiscardDisk = {
  capacity: 1024,
  discard: { maxSectors: 64, maxSegments: 4, alignment: 8 },
  writeZeroes: { maxSectors: 128, maxSegments: 2, mayUnmap: true },
};

function parse(
  type: number,
  segments: readonly { sector: bigint | number; sectors: number; flags?: number }[],
  options: Parameters<typeof chainOf>[3] & { disk?: DiscardDisk } = {},
) {
  const memory = new GuestMemory(0x4000);
  const log = new ConformanceLog();
  const out: DiscardSegment[] = [];
  const result = parseDiscardRequest(
    memory,
    chainOf(memory, type, segments, options),
    type,
    options.disk ?? DISK,
    log.scoped("queue 0"),
    out,
  );
  return { result, out, ids: log.entries.map((v) => v.id) };
}

function rejected(
  outcome: ReturnType<typeof parse>,
): { status: number; id: string | null; violation: string | null } {
  const r = outcome.result;
  assert.ok(typeof r !== "number", `expected a rejection, got ${r} segment(s)`);
  return { status: r.status, id: r.id, violation: r.violation?.id ?? null };
}

// ------------------------------------------------------------- device: parse

Deno.test("parseDiscardRequest reads every segment, across descriptor cuts, with its unmap flag", () => {
  const { result, out, ids } = parse(VIRTIO_BLK_T_WRITE_ZEROES, [
    { sector: 8, sectors: 16, flags: 1 },
    { sector: 100, sectors: 3 },
  ], { cuts: [7, 9, 5, 11, 16] });
  assert.equal(result, 2);
  assert.deepEqual(out, [
    { sector: 8, sectors: 16, unmap: true },
    { sector: 100, sectors: 3, unmap: false },
  ]);
  assert.deepEqual(ids, []);
});

Deno.test("parseDiscardRequest: a command that was not negotiated is UNSUPP, no violation", () => {
  const disk = { ...DISK, discard: null };
  assert.deepEqual(rejected(parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 8 }], { disk })), {
    status: VIRTIO_BLK_S_UNSUPP,
    id: null,
    violation: null,
  });
});

Deno.test("parseDiscardRequest: device-writable data before the status is IOERR (5.2.6/D3)", () => {
  const outcome = parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 8 }], { writable: [16, 1] });
  assert.deepEqual(rejected(outcome), {
    status: VIRTIO_BLK_S_IOERR,
    id: "5.2.6/D3",
    violation: "5.2.6/D3",
  });
});

Deno.test("parseDiscardRequest: no segment, or a partial one, is IOERR (5.2.6.1/6)", () => {
  for (const [segments, extra] of [[[], 0], [[{ sector: 0, sectors: 8 }], 4]] as const) {
    const outcome = parse(VIRTIO_BLK_T_DISCARD, segments, { extra });
    assert.deepEqual(rejected(outcome), {
      status: VIRTIO_BLK_S_IOERR,
      id: "5.2.6.1/6",
      violation: "5.2.6.1/6",
    });
  }
});

Deno.test("parseDiscardRequest: more segments than max_discard_seg / max_write_zeroes_seg is IOERR (5.2.6.1/8, /10)", () => {
  const five = Array.from({ length: 5 }, (_, i) => ({ sector: 8 * i, sectors: 8 }));
  assert.equal(rejected(parse(VIRTIO_BLK_T_DISCARD, five)).id, "5.2.6.1/8");
  assert.equal(rejected(parse(VIRTIO_BLK_T_WRITE_ZEROES, five.slice(0, 3))).id, "5.2.6.1/10");
  assert.equal(parse(VIRTIO_BLK_T_DISCARD, five.slice(0, 4)).result, 4);
});

Deno.test("parseDiscardRequest: unmap on a discard is the driver's violation, answered UNSUPP (5.2.6.1/13, 5.2.6.2/3)", () => {
  const outcome = parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 8 }, {
    sector: 8,
    sectors: 8,
    flags: 1,
  }]);
  assert.deepEqual(rejected(outcome), {
    status: VIRTIO_BLK_S_UNSUPP,
    id: "5.2.6.1/13",
    violation: "5.2.6.1/13",
  });
});

Deno.test("parseDiscardRequest: a reserved flag bit is UNSUPP and no violation (5.2.6.2/2)", () => {
  for (const type of [VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES]) {
    const outcome = parse(type, [{ sector: 0, sectors: 8, flags: 0x8000_0000 }]);
    assert.deepEqual(rejected(outcome), {
      status: VIRTIO_BLK_S_UNSUPP,
      id: "5.2.6.2/2",
      violation: null,
    });
    assert.deepEqual(outcome.ids, []);
  }
});

Deno.test("parseDiscardRequest: a segment past capacity is IOERR, a sector near 2^64 included (5.2.6/D4)", () => {
  for (
    const segment of [
      { sector: 1020, sectors: 5 },
      { sector: 1024, sectors: 0 + 1 },
      { sector: 2n ** 64n - 4n, sectors: 8 },
      { sector: 2n ** 53n, sectors: 1 },
    ]
  ) {
    assert.equal(rejected(parse(VIRTIO_BLK_T_WRITE_ZEROES, [segment])).id, "5.2.6/D4");
  }
  assert.equal(parse(VIRTIO_BLK_T_WRITE_ZEROES, [{ sector: 1016, sectors: 8 }]).result, 1);
});

Deno.test("parseDiscardRequest: a segment over the command's max sectors is IOERR (5.2.6/D5)", () => {
  assert.equal(rejected(parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 65 }])).id, "5.2.6/D5");
  assert.equal(parse(VIRTIO_BLK_T_WRITE_ZEROES, [{ sector: 0, sectors: 128 }]).result, 1);
  // Per segment: two segments of 64 pass a 64-sector limit.
  assert.equal(
    parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 64 }, { sector: 64, sectors: 64 }]).result,
    2,
  );
});

Deno.test("parseDiscardRequest checks every segment before accepting any: a bad last segment rejects all", () => {
  const outcome = parse(VIRTIO_BLK_T_DISCARD, [{ sector: 0, sectors: 8 }, {
    sector: 2000,
    sectors: 8,
  }]);
  assert.equal(rejected(outcome).id, "5.2.6/D4");
});

// ------------------------------------------------------------- device: execute

Deno.test("executeDiscardRequest zeroes each segment and nothing else, skipping empty ones", async () => {
  const disk = new MemoryBlockBackend(pattern(64 * 512, 3));
  const before = disk.data.slice();
  const freed = await executeDiscardRequest(
    disk,
    VIRTIO_BLK_T_DISCARD,
    [
      { sector: 1, sectors: 2, unmap: false },
      { sector: 10, sectors: 0, unmap: false },
      { sector: 40, sectors: 8, unmap: false },
    ],
    3,
    {},
  );
  assert.equal(freed, 0, "memory has nothing to deallocate");
  for (let i = 0; i < disk.data.length; i++) {
    const sector = Math.floor(i / 512);
    const zeroed = (sector >= 1 && sector < 3) || (sector >= 40 && sector < 48);
    if (disk.data[i] !== (zeroed ? 0 : before[i])) assert.fail(`byte ${i} (sector ${sector})`);
  }
});

Deno.test("executeDiscardRequest stops at the first backend error", async () => {
  const disk = new MemoryBlockBackend(64 * 512);
  const calls: number[] = [];
  disk.writeZeroes = (offset: number) => {
    calls.push(offset / 512);
    return offset === 512 * 8 ? Promise.reject(new Error("media error")) : Promise.resolve(false);
  };
  await assert.rejects(
    executeDiscardRequest(
      disk,
      VIRTIO_BLK_T_WRITE_ZEROES,
      [
        { sector: 0, sectors: 1, unmap: false },
        { sector: 8, sectors: 1, unmap: false },
        { sector: 16, sectors: 1, unmap: false },
      ],
      3,
      {},
    ),
    /media error/,
  );
  assert.deepEqual(calls, [0, 8]);
});

// ------------------------------------------------------------- config

Deno.test("layoutDiscardConfig writes the six fields at their offsets, nothing else", () => {
  const bytes = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  layoutDiscardConfig({
    discard: { maxSectors: 0x12345, maxSegments: 7, alignment: 8 },
    writeZeroes: { maxSectors: 99, maxSegments: 3, mayUnmap: true },
  }, bytes);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS, true), 0x12345);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG, true), 7);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT, true), 8);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS, true), 99);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG, true), 3);
  assert.equal(bytes[VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP], 1);
  const rest = [...bytes.subarray(0, 36), ...bytes.subarray(57)];
  assert.deepEqual([...new Set(rest)], [0]);
  assert.throws(
    () =>
      layoutDiscardConfig({
        discard: { maxSectors: 0, maxSegments: 1, alignment: 0 },
        writeZeroes: null,
      }, bytes),
    /5\.2\.4\/D1/,
  );
});

function reader(bytes: Uint8Array, negotiated: bigint, log: ConformanceLog): BlockConfigReader {
  const view = new DataView(bytes.buffer);
  const reads: number[] = [];
  return {
    features: negotiated,
    reporter: log.scoped("virtio_blk"),
    readConfig(offset: number, width: AccessWidth) {
      reads.push(offset);
      return width === 1
        ? view.getUint8(offset)
        : width === 2
        ? view.getUint16(offset, true)
        : view.getUint32(offset, true);
    },
    readConfig64: (offset: number) => view.getBigUint64(offset, true),
    readConfigConsistent: <T>(read: () => T) => read(),
    get reads() {
      return reads;
    },
  } as BlockConfigReader & { reads: number[] };
}

Deno.test("readDiscardConfig reads a command's fields only when its feature was negotiated", () => {
  const bytes = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  layoutDiscardConfig({
    discard: { maxSectors: 4096, maxSegments: 16, alignment: 8 },
    writeZeroes: { maxSectors: 2048, maxSegments: 4, mayUnmap: false },
  }, bytes);
  const log = new ConformanceLog();
  const onlyDiscard = reader(bytes, features(VIRTIO_BLK_F_DISCARD), log);
  assert.deepEqual(readDiscardConfig(onlyDiscard), {
    discard: { maxSectors: 4096, maxSegments: 16, alignment: 8 },
    writeZeroes: null,
  });
  assert.ok(
    (onlyDiscard as unknown as { reads: number[] }).reads.every((o) => o >= 36 && o < 48),
  );
  const both = reader(bytes, features(VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES), log);
  assert.deepEqual(readDiscardConfig(both).writeZeroes, {
    maxSectors: 2048,
    maxSegments: 4,
    mayUnmap: false,
  });
  assert.equal(log.entries.length, 0);
});

Deno.test("readDiscardConfig: limits that read 0 are the device's violation and the command goes unused (5.2.4/D1)", () => {
  const bytes = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE); // a device that offers but fills nothing
  const log = new ConformanceLog();
  const config = readDiscardConfig(
    reader(bytes, features(VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES), log),
  );
  assert.deepEqual(config, { discard: null, writeZeroes: null });
  assert.deepEqual(log.entries.map((v) => v.id), ["5.2.4/D1", "5.2.4/D1"]);
});

// ------------------------------------------------------------- driver: split

function splitAll(
  limits: { maxSectors: number; maxSegments: number; alignment: number },
  ranges: DiscardRange[],
): DiscardSegment[][] {
  const cursor: DiscardCursor = { range: 0, done: 0 };
  const requests: DiscardSegment[][] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const segments: DiscardSegment[] = [];
    const n = splitDiscard(limits, ranges, cursor, segments, false);
    if (n === 0) return requests;
    assert.equal(segments.length, n);
    requests.push(segments.map((s) => ({ ...s })));
  }
  throw new Error("splitDiscard never finished");
}

Deno.test("splitDiscard packs ranges into requests of at most maxSegments and maxSectors", () => {
  const requests = splitAll({ maxSectors: 20, maxSegments: 2, alignment: 1 }, [
    { sector: 0, count: 5 },
    { sector: 100, count: 0 },
    { sector: 50, count: 30 },
    { sector: 10, count: 4 },
  ]);
  assert.deepEqual(requests.map((r) => r.map((s) => [s.sector, s.sectors])), [
    [[0, 5], [50, 15]],
    [[65, 15], [10, 4]],
  ]);
});

Deno.test("splitDiscard cuts inside a range on discard_sector_alignment when it can", () => {
  const requests = splitAll({ maxSectors: 100, maxSegments: 4, alignment: 8 }, [
    { sector: 3, count: 250 },
  ]);
  assert.deepEqual(requests.map((r) => r.map((s) => [s.sector, s.sectors])), [
    [[3, 93]], // ends at 96
    [[96, 96]], // ends at 192
    [[192, 61]],
  ]);
  // A budget smaller than the alignment still makes progress.
  const small = splitAll({ maxSectors: 3, maxSegments: 1, alignment: 8 }, [{
    sector: 1,
    count: 7,
  }]);
  assert.deepEqual(small.map((r) => r[0].sectors), [3, 3, 1]);
});

Deno.test("splitDiscard covers exactly the ranges, in order, within the limits (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ sector: fc.nat(10_000), count: fc.nat(300) }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 64 }),
      (ranges, maxSectors, maxSegments, alignment) => {
        const requests = splitAll({ maxSectors, maxSegments, alignment }, ranges);
        const covered: number[] = [];
        for (const request of requests) {
          assert.ok(request.length >= 1 && request.length <= maxSegments);
          assert.ok(request.reduce((n, s) => n + s.sectors, 0) <= maxSectors);
          for (const s of request) {
            assert.ok(s.sectors >= 1);
            for (let i = 0; i < s.sectors; i++) covered.push(s.sector + i);
          }
        }
        const wanted = ranges.flatMap((r) =>
          Array.from({ length: r.count }, (_, i) => r.sector + i)
        );
        assert.deepEqual(covered, wanted);
      },
    ),
    { numRuns: 300 },
  );
});

// ------------------------------------------------------------- the machine

async function withMachine(
  disk: MemoryBlockBackend | FileBlockBackend,
  options: ConstructorParameters<typeof VirtioBlockDevice>[1],
  run: (machine: LabMachine) => void | Promise<void>,
): Promise<void> {
  const machine = await createMachine({
    disk,
    blockDevice: new VirtioBlockDevice(disk, options),
  });
  try {
    await run(machine);
  } finally {
    await machine.close();
  }
}

Deno.test("machine: DISCARD and WRITE_ZEROES are negotiated and the limits read as the device offers them", async () => {
  const disk = new MemoryBlockBackend(1 << 20);
  await withMachine(disk, { maxDiscardSeg: 3, maxDiscardSectors: 64 }, (machine) => {
    const negotiated = machine.blk.driverTransport.features;
    assert.ok(hasFeature(negotiated, VIRTIO_BLK_F_DISCARD));
    assert.ok(hasFeature(negotiated, VIRTIO_BLK_F_WRITE_ZEROES));
    const blk = machine.blk.driver!;
    assert.deepEqual(blk.discardConfig, {
      discard: { maxSectors: 64, maxSegments: 3, alignment: 8 },
      writeZeroes: { maxSectors: 0x3f_ffff, maxSegments: 16, mayUnmap: false },
    });
    assert.ok(blk.canDiscard && blk.canWriteZeroes);
  });
});

Deno.test("machine: a discard and a write zeroes change their sectors to zeroes and nothing else (5.2.6.2/6)", async () => {
  const size = 2048 * 512;
  const disk = new MemoryBlockBackend(pattern(size, 11));
  const before = disk.data.slice();
  await withMachine(disk, {}, async (machine) => {
    const blk = machine.blk.driver!;
    await blk.discard({ sector: 100, count: 37 });
    await blk.writeZeroes([{ sector: 7, count: 1 }, { sector: 2000, count: 48 }], { unmap: true });
    const expected = before.slice();
    for (const [sector, count] of [[100, 37], [7, 1], [2000, 48]]) {
      expected.fill(0, sector * 512, (sector + count) * 512);
    }
    assert.deepEqual(await blk.read(0, 2048), expected);
    assert.deepEqual(disk.data, expected);
    const stats = (machine.blk.device as VirtioBlockDevice).stats;
    assert.equal(stats.sectorsDiscarded, 37);
    assert.equal(stats.sectorsZeroed, 49);
    assert.equal(blk.stats.sectorsDiscarded, 37);
    assert.equal(blk.stats.sectorsZeroed, 49);
    assert.equal(machine.log.entries.length, 0);
  });
});

Deno.test("machine: the driver cuts by max_discard_seg and max_discard_sectors; the device sees only requests within them", async () => {
  const disk = new MemoryBlockBackend(4096 * 512);
  await withMachine(
    disk,
    { maxDiscardSeg: 2, maxDiscardSectors: 16, discardSectorAlignment: 4 },
    async (machine) => {
      const blk = machine.blk.driver!;
      await blk.discard([{ sector: 1, count: 40 }, { sector: 500, count: 3 }, {
        sector: 900,
        count: 2,
      }]);
      const device = machine.blk.device as VirtioBlockDevice;
      // 45 sectors, at most 16 per request: ranges 1..15 | 16..31 | 32..40 + 500..502 | 900..901
      assert.equal(device.stats.requests.discard, 4);
      assert.equal(device.stats.sectorsDiscarded, 45);
      assert.equal(machine.log.entries.length, 0);
    },
  );
});

Deno.test("machine: a flush waits for the discards and write zeroes submitted before it", async () => {
  const disk = new MemoryBlockBackend(1024 * 512);
  const order: string[] = [];
  const discard = disk.discard.bind(disk);
  disk.discard = async (offset: number, length: number) => {
    await new Promise((r) => setTimeout(r, 10));
    order.push("discard");
    return discard(offset, length);
  };
  const flush = disk.flush.bind(disk);
  disk.flush = () => {
    order.push("flush");
    return flush();
  };
  await withMachine(disk, {}, async (machine) => {
    const blk = machine.blk.driver!;
    const done = blk.discard({ sector: 0, count: 8 });
    await blk.flush();
    await done;
    assert.deepEqual(order, ["discard", "flush"]);
  });
});

Deno.test("machine: ranges past capacity are refused before anything is sent (5.2.6/D4)", async () => {
  const disk = new MemoryBlockBackend(64 * 512);
  await withMachine(disk, {}, async (machine) => {
    const blk = machine.blk.driver!;
    await assert.rejects(blk.discard({ sector: 60, count: 5 }), BlockRangeError);
    await assert.rejects(
      blk.writeZeroes([{ sector: 0, count: 1 }, { sector: 64, count: 1 }]),
      BlockRangeError,
    );
    assert.equal((machine.blk.device as VirtioBlockDevice).stats.requests.discard, 0);
    assert.equal((machine.blk.device as VirtioBlockDevice).stats.requests.writeZeroes, 0);
  });
});

Deno.test("machine: a read-only disk offers neither command and the driver sends none", async () => {
  const disk = new MemoryBlockBackend(64 * 512, { readOnly: true });
  await withMachine(disk, {}, async (machine) => {
    assert.ok(!hasFeature(machine.blk.driverTransport.features, VIRTIO_BLK_F_DISCARD));
    await assert.rejects(
      machine.blk.driver!.discard({ sector: 0, count: 1 }),
      BlockUnsupportedError,
    );
    await assert.rejects(
      machine.blk.driver!.writeZeroes({ sector: 0, count: 1 }),
      BlockUnsupportedError,
    );
  });
});

Deno.test("machine: a backend error fails the request with IOERR", async () => {
  const disk = new MemoryBlockBackend(64 * 512);
  disk.writeZeroes = () => Promise.reject(new Error("media error"));
  await withMachine(disk, {}, async (machine) => {
    const error = await machine.blk.driver!.writeZeroes({ sector: 0, count: 8 }).catch((e) => e);
    assert.ok(error instanceof BlockIoError);
    assert.equal(error.status, VIRTIO_BLK_S_IOERR);
  });
});

// ------------------------------------------------------------- image files

async function imageWith(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".img" });
  await Deno.writeFile(path, bytes);
  return path;
}

const MIB = 1024 * 1024;

/** Whether the temporary directory's file system punches holes (ext4, XFS, Btrfs, tmpfs do). */
async function tempPunches(): Promise<boolean> {
  const path = await imageWith(new Uint8Array(512));
  try {
    const disk = await FileBlockBackend.open(path);
    const punches = disk.canDeallocate;
    await disk.close();
    return punches;
  } finally {
    await Deno.remove(path);
  }
}
const PUNCHES = await tempPunches();

Deno.test({
  name:
    "file: discard punches holes: the range reads zeroes, the file keeps its size, its allocation shrinks",
  ignore: !PUNCHES,
}, async () => {
  const data = pattern(4 * MIB, 5);
  const path = await imageWith(data);
  try {
    const disk = await FileBlockBackend.open(path);
    const before = (await disk.allocatedBytes())!;
    await withMachine(disk, {}, async (machine) => {
      const blk = machine.blk.driver!;
      assert.equal(blk.discardConfig.writeZeroes?.mayUnmap, true, "5.2.6.2/7");
      await blk.discard({ sector: 2048, count: 2048 }); // the second MiB
      await blk.writeZeroes({ sector: 6144, count: 2048 }, { unmap: true }); // the fourth
      const device = machine.blk.device as VirtioBlockDevice;
      assert.equal(device.stats.sectorsDeallocated, 4096);
      const expected = data.slice();
      expected.fill(0, MIB, 2 * MIB);
      expected.fill(0, 3 * MIB, 4 * MIB);
      assert.deepEqual(await blk.read(0, 8192), expected);
    });
    const info = await Deno.stat(path);
    assert.equal(info.size, 4 * MIB);
    const after = info.blocks! * 512;
    assert.ok(before - after >= 2 * MIB, `allocated ${before} bytes, then ${after}`);
    const expected = data.slice();
    expected.fill(0, MIB, 2 * MIB);
    expected.fill(0, 3 * MIB, 4 * MIB);
    assert.deepEqual(await Deno.readFile(path), expected);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("file: write zeroes without unmap writes zeroes and keeps the blocks allocated (5.2.6.2/6)", async () => {
  const data = pattern(2 * MIB, 9);
  const path = await imageWith(data);
  try {
    const disk = await FileBlockBackend.open(path);
    const before = (await disk.allocatedBytes())!;
    await withMachine(disk, {}, async (machine) => {
      await machine.blk.driver!.writeZeroes({ sector: 0, count: 2048 });
      assert.equal((machine.blk.device as VirtioBlockDevice).stats.sectorsDeallocated, 0);
    });
    const after = (await Deno.stat(path)).blocks! * 512;
    assert.ok(after >= before - 64 * 1024, `allocated ${before} bytes, then ${after}`);
    const expected = data.slice();
    expected.fill(0, 0, MIB);
    assert.deepEqual(await Deno.readFile(path), expected);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("file: without --allow-ffi the backend writes zeroes instead of punching", async () => {
  const data = pattern(MIB, 2);
  const path = await imageWith(data);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        new URL("./_discard_child.ts", import.meta.url).pathname,
        path,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await child.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assert.deepEqual(result, { canDeallocate: false, deallocated: false });
    const expected = data.slice();
    expected.fill(0, 4096, 4096 + 65536);
    assert.deepEqual(await Deno.readFile(path), expected);
  } finally {
    await Deno.remove(path);
  }
});
