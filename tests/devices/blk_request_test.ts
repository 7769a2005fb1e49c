/**
 * The block request wire format, both halves, as plain functions on
 * hand-made chains: parseBlockRequest and completeBlockRequest (device),
 * buildBlockRequest and finishBlockRequest (driver).
 */

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceError, ConformanceLog } from "../../conformance/log.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";
import {
  type BlockDisk,
  type BlockRejection,
  type BlockRequest,
  buildBlockRequest,
  completeBlockRequest,
  emptyBlockRequest,
  finishBlockRequest,
  parseBlockRequest,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSET,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../devices/mod.ts";

const RAM = 0x1000_0000;
const DISK: BlockDisk = { capacity: 64, readOnly: false };

function setup() {
  const memory = new GuestMemory(1 << 20, { base: RAM });
  const log = new ConformanceLog();
  const reporter = log.scoped("virtio-blk queue 0");
  let next = RAM + 0x1000;
  /** A fresh buffer of `len` bytes, filled with `fill`. */
  const buffer = (len: number, fill = 0xee): BufferSegment => {
    const addr = next;
    next += (len + 15) & ~15;
    memory.fill(addr, len, fill);
    return { addr, len };
  };
  /** A 16-byte header at a fresh buffer; returns its segment. */
  const header = (type: number, sector: bigint): BufferSegment => {
    const seg = buffer(16, 0);
    memory.writeU32(seg.addr, type);
    memory.writeU64(seg.addr + 8, sector);
    return seg;
  };
  return { memory, log, reporter, buffer, header };
}

function chain(
  readable: readonly BufferSegment[],
  writable: readonly BufferSegment[],
  head = 0,
): DescriptorChain {
  const sum = (segments: readonly BufferSegment[]) => segments.reduce((n, s) => n + s.len, 0);
  return {
    head,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: readable.length + writable.length,
    indirect: false,
  };
}

function rejection(result: BlockRequest | BlockRejection): BlockRejection {
  assert.equal(result.op, "reject", `expected a rejection, got ${Deno.inspect(result)}`);
  return result as BlockRejection;
}

function accepted(result: BlockRequest | BlockRejection): BlockRequest {
  assert.notEqual(result.op, "reject", `expected a request, got ${Deno.inspect(result)}`);
  return result as BlockRequest;
}

// ------------------------------------------------------------------ parse

Deno.test("parseBlockRequest: a read fills the record it is given, header in one descriptor", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const record = emptyBlockRequest();
  const result = parseBlockRequest(
    memory,
    chain([header(VIRTIO_BLK_T_IN, 3n)], [buffer(1024), buffer(1)]),
    DISK,
    reporter,
    record,
  );
  assert.equal(result, record, "the caller's record is reused");
  assert.deepEqual(result, {
    op: "read",
    type: VIRTIO_BLK_T_IN,
    sector: 3,
    offset: 3 * 512,
    length: 1024,
    warnings: 0,
  });
  assert.equal(log.entries.length, 0);
});

Deno.test("parseBlockRequest: a header split 1 + 15 or 1 + 7 + 8 across descriptors is served (2.7.4.1/1, Firecracker #1560)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const h = header(VIRTIO_BLK_T_OUT, 0x1_0000_0005n);
  const splits = [
    [{ addr: h.addr, len: 1 }, { addr: h.addr + 1, len: 15 }],
    [{ addr: h.addr, len: 1 }, { addr: h.addr + 1, len: 7 }, { addr: h.addr + 8, len: 8 }],
  ];
  for (const parts of splits) {
    const request = accepted(
      parseBlockRequest(
        memory,
        chain([...parts, buffer(512)], [buffer(1)]),
        { capacity: 2 ** 40, readOnly: false },
        reporter,
      ),
    );
    assert.equal(request.op, "write");
    assert.equal(request.sector, 0x1_0000_0005);
    assert.equal(request.length, 512);
  }
  // The header shares its descriptor with the data of an OUT.
  const shared = buffer(16 + 512, 0);
  memory.writeU32(shared.addr, VIRTIO_BLK_T_OUT);
  memory.writeU64(shared.addr + 8, 7n);
  const request = accepted(parseBlockRequest(memory, chain([shared], [buffer(1)]), DISK, reporter));
  assert.deepEqual([request.op, request.offset, request.length], ["write", 7 * 512, 512]);
  assert.equal(log.entries.length, 0);
});

Deno.test("parseBlockRequest: data in the wrong direction is 5.2.6/D3 (IN, OUT, GET_ID)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const cases: [number, BufferSegment[], BufferSegment[]][] = [
    [VIRTIO_BLK_T_IN, [header(VIRTIO_BLK_T_IN, 0n), buffer(512)], [buffer(1)]],
    [VIRTIO_BLK_T_OUT, [header(VIRTIO_BLK_T_OUT, 0n)], [buffer(512), buffer(1)]],
    [VIRTIO_BLK_T_GET_ID, [header(VIRTIO_BLK_T_GET_ID, 0n), buffer(20)], [buffer(21)]],
  ];
  for (const [type, readable, writable] of cases) {
    const r = rejection(parseBlockRequest(memory, chain(readable, writable), DISK, reporter));
    assert.deepEqual([r.type, r.status, r.id, r.complete], [
      type,
      VIRTIO_BLK_S_IOERR,
      "5.2.6/D3",
      true,
    ]);
    assert.equal(r.violation?.id, "5.2.6/D3");
  }
  assert.deepEqual(log.entries.map((v) => v.id), ["5.2.6/D3", "5.2.6/D3", "5.2.6/D3"]);
});

Deno.test("parseBlockRequest: no writable byte, or a head-only chain, cannot be completed (5.2.6/D2)", () => {
  const { memory, reporter, header, log } = setup();
  const r = rejection(
    parseBlockRequest(memory, chain([header(VIRTIO_BLK_T_IN, 0n)], []), DISK, reporter),
  );
  assert.deepEqual([r.id, r.complete, r.type], ["5.2.6/D2", false, -1]);
  assert.equal(r.violation, log.entries[0]);
  assert.equal(log.entries[0].role, "driver");
});

Deno.test("parseBlockRequest: fewer than 16 readable bytes is 5.2.6/D1", () => {
  const { memory, reporter, buffer, log } = setup();
  const r = rejection(parseBlockRequest(memory, chain([buffer(15)], [buffer(1)]), DISK, reporter));
  assert.deepEqual([r.id, r.status, r.complete], ["5.2.6/D1", VIRTIO_BLK_S_IOERR, true]);
  assert.equal(log.entries[0].values.readable, 15);
});

Deno.test("parseBlockRequest: IN/OUT data must be whole sectors (5.2.6.1/5)", () => {
  const { memory, reporter, buffer, header } = setup();
  const r = rejection(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 0n)], [buffer(100), buffer(1)]),
      DISK,
      reporter,
    ),
  );
  assert.equal(r.id, "5.2.6.1/5");
});

Deno.test("parseBlockRequest: the capacity check is exact; sector + count never wraps u64 (5.2.6.1/1)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const read = (sector: bigint, bytes: number) =>
    parseBlockRequest(
      memory,
      chain(
        [header(VIRTIO_BLK_T_IN, sector)],
        bytes > 0 ? [buffer(bytes), buffer(1)] : [buffer(1)],
      ),
      DISK,
      reporter,
    );
  // Inside: the last sector, and an empty read at the very end.
  assert.equal(accepted(read(63n, 512)).offset, 63 * 512);
  assert.equal(accepted(read(64n, 0)).length, 0);
  // Outside, with and without u64 wrap-around of sector + count.
  for (
    const [sector, bytes] of [
      [63n, 1024], // one sector too many
      [64n, 512],
      [2n ** 64n - 1n, 1024], // + 2 wraps to 1 in u64
      [2n ** 64n - 64n, 64 * 512], // + 64 wraps to exactly 0
      [2n ** 53n, 512], // the first sector a double cannot hold exactly
      [2n ** 63n, 512],
    ] as const
  ) {
    const r = rejection(read(sector, bytes));
    assert.deepEqual([r.id, r.status], ["5.2.6.1/1", VIRTIO_BLK_S_IOERR], `sector ${sector}`);
  }
  assert.equal(log.entries.length, 6);
  assert.equal(log.entries[2].values.sector, 2n ** 64n - 1n, "reported as the exact u64");
  assert.match(log.entries[2].message, /at sector 18446744073709551615 /);
});

Deno.test("parseBlockRequest: OUT on a read-only disk is IOERR by the device's own duty, no violation (5.2.6.2/1)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const r = rejection(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_OUT, 1n), buffer(512)], [buffer(1)]),
      { capacity: 64, readOnly: true },
      reporter,
    ),
  );
  assert.deepEqual([r.id, r.status, r.violation, r.complete], [
    "5.2.6.2/1",
    VIRTIO_BLK_S_IOERR,
    null,
    true,
  ]);
  assert.equal(log.entries.length, 0);
  // Reads of a read-only disk are fine.
  assert.equal(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 1n)], [buffer(512), buffer(1)]),
      { capacity: 64, readOnly: true },
      reporter,
    ).op,
    "read",
  );
});

Deno.test("parseBlockRequest: GET_ID takes exactly 20 bytes (5.2.6.1/7): fewer is IOERR, more is a warning", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const getId = (data: number) =>
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_GET_ID, 0n)], [buffer(data), buffer(1)]),
      DISK,
      reporter,
    );
  assert.deepEqual(accepted(getId(20)), {
    op: "get-id",
    type: VIRTIO_BLK_T_GET_ID,
    sector: 0,
    offset: 0,
    length: 20,
    warnings: 0,
  });
  assert.equal(rejection(getId(19)).id, "5.2.6.1/7");
  assert.equal(accepted(getId(32)).warnings, 1);
  assert.deepEqual(log.entries.map((v) => v.id), ["5.2.6.1/7", "5.2.6.1/7"]);
});

Deno.test("parseBlockRequest: FLUSH with a sector (5.2.6.1/3) or data (5.2.6.1/4) is reported and still a flush", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const both = accepted(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_FLUSH, 9n), buffer(512)], [buffer(1)]),
      DISK,
      reporter,
    ),
  );
  assert.deepEqual([both.op, both.warnings], ["flush", 2]);
  assert.deepEqual(log.entries.map((v) => [v.id, v.level]), [
    ["5.2.6.1/3", "MUST"],
    ["5.2.6.1/4", "SHOULD"],
  ]);
  const clean = accepted(
    parseBlockRequest(memory, chain([header(VIRTIO_BLK_T_FLUSH, 0n)], [buffer(1)]), DISK, reporter),
  );
  assert.deepEqual([clean.op, clean.warnings], ["flush", 0]);
});

Deno.test("parseBlockRequest: unknown and unoffered types are UNSUPP, no violation", () => {
  const { memory, reporter, buffer, header, log } = setup();
  for (const type of [VIRTIO_BLK_T_DISCARD, 99, 0x8000_0000]) {
    const r = rejection(
      parseBlockRequest(memory, chain([header(type, 0n)], [buffer(1)]), DISK, reporter),
    );
    assert.deepEqual([r.type, r.status, r.id, r.violation], [
      type,
      VIRTIO_BLK_S_UNSUPP,
      null,
      null,
    ]);
  }
  assert.equal(log.entries.length, 0);
});

Deno.test("parseBlockRequest: buffers outside RAM are IOERR or no completion, never an exception (Firecracker #1982)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const outside = { addr: RAM + (1 << 20) - 8, len: 512 }; // runs past the end of RAM
  // A data buffer outside RAM: IOERR.
  const data = rejection(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 0n)], [outside, buffer(1)]),
      DISK,
      reporter,
    ),
  );
  assert.deepEqual([data.id, data.status, data.complete], ["2.7.5/D2", VIRTIO_BLK_S_IOERR, true]);
  // The header outside RAM: IOERR as well.
  const head = rejection(
    parseBlockRequest(memory, chain([{ addr: 0, len: 16 }], [buffer(1)]), DISK, reporter),
  );
  assert.deepEqual([head.id, head.complete], ["2.7.5/D2", true]);
  // The status outside RAM: nothing can be written, so no completion.
  const status = rejection(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 0n)], [{ addr: RAM - 1, len: 1 }]),
      DISK,
      reporter,
    ),
  );
  assert.deepEqual([status.id, status.complete], ["2.7.5/D2", false]);
  assert.deepEqual(log.entries.map((v) => v.id), ["2.7.5/D2", "2.7.5/D2", "2.7.5/D2"]);
});

Deno.test("parseBlockRequest: a strict log throws the violation", () => {
  const memory = new GuestMemory(4096);
  const log = new ConformanceLog({ strict: true });
  assert.throws(
    () =>
      parseBlockRequest(
        memory,
        chain([{ addr: 0, len: 8 }], [{ addr: 64, len: 1 }]),
        DISK,
        log.scoped("blk"),
      ),
    (e: unknown) => e instanceof ConformanceError && e.violation.id === "5.2.6/D1",
  );
});

// --------------------------------------------------------------- complete

Deno.test("completeBlockRequest: status in the last writable byte, data past `filled` zeroed, len counts both", () => {
  const { memory, buffer } = setup();
  // Data over three odd-sized buffers, the status sharing the last one.
  const parts = [buffer(100, 0x11), buffer(300, 0x22), buffer(113, 0x33)];
  const c = chain([buffer(16)], parts);
  assert.equal(completeBlockRequest(memory, c, VIRTIO_BLK_S_IOERR, 150), 513);
  assert.deepEqual([...new Set(memory.bytes(parts[0].addr, 100))], [0x11], "filled bytes kept");
  assert.deepEqual([...new Set(memory.bytes(parts[1].addr, 50))], [0x22]);
  assert.deepEqual([...new Set(memory.bytes(parts[1].addr + 50, 250))], [0]);
  assert.deepEqual([...new Set(memory.bytes(parts[2].addr, 112))], [0]);
  assert.equal(memory.readU8(parts[2].addr + 112), VIRTIO_BLK_S_IOERR);
  // A status-only chain: len 1.
  const status = buffer(1, 0xff);
  assert.equal(completeBlockRequest(memory, chain([buffer(16)], [status]), VIRTIO_BLK_S_OK, 0), 1);
  assert.equal(memory.readU8(status.addr), VIRTIO_BLK_S_OK);
});

Deno.test("completeBlockRequest: a writable buffer outside RAM ends len before it and is not written", () => {
  const { memory, buffer } = setup();
  const first = buffer(64, 0x44);
  const outside = { addr: RAM + (1 << 20), len: 64 };
  const status = buffer(1);
  const len = completeBlockRequest(
    memory,
    chain([buffer(16)], [first, outside, status]),
    VIRTIO_BLK_S_IOERR,
    0,
  );
  assert.equal(len, 64, "only the written prefix counts (2.7.8.2/2, 2.7.8.2/3)");
  assert.deepEqual([...new Set(memory.bytes(first.addr, 64))], [0]);
  assert.equal(memory.readU8(status.addr), VIRTIO_BLK_S_IOERR);
});

// ------------------------------------------------------------------ build

Deno.test("buildBlockRequest: header, data and status exactly, byte for byte", () => {
  const memory = new GuestMemory(4096);
  const header = { addr: 0x100, len: 16 };
  const status = { addr: 0x110, len: 1 };
  const data = [{ addr: 0x200, len: 512 }, { addr: 0x400, len: 512 }];
  memory.fill(0x100, 32, 0xcc);

  const read = buildBlockRequest(memory, {
    type: VIRTIO_BLK_T_IN,
    sector: 42,
    header,
    status,
    data,
  });
  assert.deepEqual(
    [...memory.bytes(0x100, 16)],
    [0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0],
    "type IN, reserved 0, sector 42 (struct virtio_blk_outhdr)",
  );
  assert.equal(memory.readU8(0x110), VIRTIO_BLK_S_UNSET);
  assert.deepEqual(read, { readable: [header], writable: [...data, status] });

  const write = buildBlockRequest(memory, {
    type: VIRTIO_BLK_T_OUT,
    sector: 0x1_2345_6789,
    header,
    status,
    data,
  });
  assert.deepEqual(
    [...memory.bytes(0x100, 16)],
    [1, 0, 0, 0, 0, 0, 0, 0, 0x89, 0x67, 0x45, 0x23, 1, 0, 0, 0],
  );
  assert.deepEqual(write, { readable: [header, ...data], writable: [status] });

  const flush = buildBlockRequest(memory, {
    type: VIRTIO_BLK_T_FLUSH,
    sector: 0,
    header,
    status,
    data: [],
  });
  assert.deepEqual([...memory.bytes(0x100, 16)], [4, ...new Array(15).fill(0)]);
  assert.deepEqual(flush, { readable: [header], writable: [status] });

  // A sector above 2^53 comes as a bigint and is written exactly.
  buildBlockRequest(memory, {
    type: VIRTIO_BLK_T_IN,
    sector: 2n ** 60n + 1n,
    header,
    status,
    data,
  });
  assert.equal(memory.readU64(0x108), 2n ** 60n + 1n);
});

Deno.test("buildBlockRequest: the chain arrays given are reused and trimmed", () => {
  const memory = new GuestMemory(4096);
  const header = { addr: 0x100, len: 16 };
  const status = { addr: 0x110, len: 1 };
  const lists = { readable: [], writable: [] as BufferSegment[] };
  const data = [{ addr: 0x200, len: 512 }, { addr: 0x400, len: 512 }, { addr: 0x600, len: 512 }];
  const first = buildBlockRequest(
    memory,
    { type: VIRTIO_BLK_T_IN, sector: 0, header, status, data },
    lists,
  );
  assert.equal(first, lists);
  assert.equal(lists.writable.length, 4);
  buildBlockRequest(memory, { type: VIRTIO_BLK_T_OUT, sector: 0, header, status, data }, lists);
  assert.deepEqual(lists, { readable: [header, ...data], writable: [status] });
});

// ----------------------------------------------------------------- finish

Deno.test("finishBlockRequest: OK is null; IOERR, UNSUPP and undefined statuses are BlockIoErrors", () => {
  const memory = new GuestMemory(4096);
  const request = {
    type: VIRTIO_BLK_T_IN,
    sector: 40,
    header: { addr: 0x100, len: 16 },
    status: { addr: 0x110, len: 1 },
    data: [{ addr: 0x200, len: 4096 }],
  };
  memory.writeU8(0x110, VIRTIO_BLK_S_OK);
  assert.equal(finishBlockRequest(memory, request, 4097), null);
  for (
    const [status, name] of [
      [VIRTIO_BLK_S_IOERR, "VIRTIO_BLK_S_IOERR"],
      [VIRTIO_BLK_S_UNSUPP, "VIRTIO_BLK_S_UNSUPP"],
      [0x7f, "status 0x7f"],
      [VIRTIO_BLK_S_UNSET, "status 0xff"], // never written by the device
    ] as const
  ) {
    memory.writeU8(0x110, status);
    const error = finishBlockRequest(memory, request, 4097);
    assert.ok(error);
    assert.deepEqual([error.status, error.type, error.sector, error.count], [
      status,
      VIRTIO_BLK_T_IN,
      40n,
      8,
    ]);
    assert.match(error.message, new RegExp(`at sector 40 failed with ${name}`));
  }
});

Deno.test("finishBlockRequest: a used len short of the status byte is not trusted (2.7.8.3/1)", () => {
  const memory = new GuestMemory(4096);
  const read = {
    type: VIRTIO_BLK_T_IN,
    sector: 0,
    header: { addr: 0x100, len: 16 },
    status: { addr: 0x110, len: 1 },
    data: [{ addr: 0x200, len: 512 }],
  };
  memory.writeU8(0x110, VIRTIO_BLK_S_OK); // written, but len does not say so
  const error = finishBlockRequest(memory, read, 512);
  assert.equal(error?.status, -1);
  assert.match(error!.message, /used length 512 does not reach the status byte, 513 byte\(s\) in/);
  // For an OUT or a flush, the status byte is the whole writable part.
  const flush = { ...read, type: VIRTIO_BLK_T_FLUSH, data: [] };
  assert.equal(finishBlockRequest(memory, flush, 1), null);
  assert.equal(finishBlockRequest(memory, flush, 0)?.status, -1);
});

Deno.test("parseBlockRequest: more than seg_max data segments or one over size_max is reported, and served (5.2.3/D1)", () => {
  const { memory, reporter, buffer, header, log } = setup();
  const disk = { capacity: 64, readOnly: false, segMax: 2, sizeMax: 1024 };
  const read = (...lens: number[]) =>
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 0n)], [...lens.map((len) => buffer(len)), buffer(1)]),
      disk,
      reporter,
    );
  // Within the limits; the status byte sharing the last data buffer is no segment of its own.
  assert.equal(accepted(read(1024, 1024)).warnings, 0);
  const shared = accepted(
    parseBlockRequest(
      memory,
      chain([header(VIRTIO_BLK_T_IN, 0n)], [buffer(1024), buffer(1025)]),
      disk,
      reporter,
    ),
  );
  assert.equal(shared.warnings, 0);
  // The header sharing its buffer with an OUT's data leaves that buffer one segment.
  const out = buffer(16 + 1024, 0);
  memory.writeU32(out.addr, VIRTIO_BLK_T_OUT);
  assert.equal(
    accepted(parseBlockRequest(memory, chain([out, buffer(1024)], [buffer(1)]), disk, reporter))
      .warnings,
    0,
  );
  assert.equal(log.entries.length, 0);
  // Over: three segments; a segment of 2048 bytes.
  const many = accepted(read(512, 512, 512));
  assert.deepEqual([many.op, many.length, many.warnings], ["read", 1536, 1]);
  assert.equal(accepted(read(2048)).warnings, 1);
  assert.deepEqual(log.entries.map((v) => [v.id, v.values.segments, v.values.largest]), [
    ["5.2.3/D1", 3, 512],
    ["5.2.3/D1", 1, 2048],
  ]);
  // Without the features negotiated there is nothing to check.
  assert.equal(
    accepted(
      parseBlockRequest(
        memory,
        chain([header(VIRTIO_BLK_T_IN, 0n)], [buffer(512), buffer(512), buffer(512), buffer(1)]),
        { capacity: 64, readOnly: false, segMax: null, sizeMax: null },
        reporter,
      ),
    ).warnings,
    0,
  );
});
