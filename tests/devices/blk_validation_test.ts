/**
 * Every rule a block request can break, broken on purpose: the chains are
 * posted by hand through a raw driver queue (no block driver in between),
 * and each test checks the status byte, the used length, the data left in
 * guest memory and on the disk, and the violation logged.
 */

import assert from "node:assert/strict";
import {
  type BlockBackend,
  MemoryBlockBackend,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_GET_LIFETIME,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_SCSI_CMD,
  VirtioBlockDevice,
} from "../../devices/mod.ts";
import { VIRTIO_CONFIG_S_NEEDS_RESET } from "../../virtio/status.ts";
import type { BufferSegment } from "../../virtqueue/types.ts";
import { buildRawStack, pattern } from "./_stack.ts";

const CAPACITY = 64; // sectors
const DISK = pattern(CAPACITY * 512, 77);

async function setup(backend: BlockBackend = new MemoryBlockBackend(DISK)) {
  const device = new VirtioBlockDevice(backend);
  const stack = await buildRawStack(device, 1);
  const raw = stack.driver;
  const memory = stack.memory;
  /** A 16-byte request header (or `len` bytes of it) in guest memory. */
  const header = (type: number, sector: bigint, len = 16): BufferSegment => {
    const addr = raw.alloc(Math.max(len, 16));
    memory.writeU32(addr, type);
    memory.writeU32(addr + 4, 0);
    memory.writeU64(addr + 8, sector);
    return { addr, len };
  };
  /** A buffer of `len` bytes pre-filled with `fill`. */
  const buffer = (len: number, fill = 0xee): BufferSegment => ({ addr: raw.alloc(len, fill), len });
  /** Posts a request and returns the used length and the status byte (the last writable byte). */
  const request = async (readable: BufferSegment[], writable: BufferSegment[]) => {
    const used = await raw.post(0, readable, writable);
    const last = writable[writable.length - 1];
    return { len: used.len, status: memory.readU8(last.addr + last.len - 1) };
  };
  const bytes = (segment: BufferSegment) => memory.bytes(segment.addr, segment.len);
  return { device, ...stack, raw, header, buffer, request, bytes, backend };
}

function violationIds(log: { entries: readonly { id: string }[] }): string[] {
  return log.entries.map((v) => v.id);
}

Deno.test("block validation: well-formed requests in any framing succeed", async () => {
  const { header, buffer, request, bytes, log, backend, memory } = await setup();
  // Header split over two descriptors; data over three odd-sized ones; the
  // status shares the last descriptor with the end of the data (§2.7.4).
  const h = header(VIRTIO_BLK_T_IN, 2n);
  const parts = [buffer(100), buffer(300), buffer(113)];
  const r = await request([{ addr: h.addr, len: 8 }, { addr: h.addr + 8, len: 8 }], parts);
  assert.deepEqual(r, { len: 513, status: VIRTIO_BLK_S_OK });
  const got = new Uint8Array([
    ...bytes(parts[0]),
    ...bytes(parts[1]),
    ...bytes(parts[2]).subarray(0, 112),
  ]);
  assert.deepEqual(got, DISK.subarray(1024, 1536));

  // Header and data in one device-readable descriptor.
  const out = buffer(16 + 512);
  memory.writeU32(out.addr, VIRTIO_BLK_T_OUT);
  memory.writeU64(out.addr + 8, 5n);
  memory.write(out.addr + 16, pattern(512, 1234));
  assert.deepEqual(await request([out], [buffer(1)]), { len: 1, status: VIRTIO_BLK_S_OK });
  assert.deepEqual(
    (backend as MemoryBlockBackend).data.subarray(5 * 512, 6 * 512),
    pattern(512, 1234),
  );
  assert.deepEqual(violationIds(log), []);
});

Deno.test("block validation: a header shorter than 16 bytes is 5.2.6/D1 -> IOERR", async () => {
  const { header, buffer, request, log } = await setup();
  const r = await request([header(VIRTIO_BLK_T_IN, 0n, 8)], [buffer(1)]);
  assert.deepEqual(r, { len: 1, status: VIRTIO_BLK_S_IOERR });
  assert.deepEqual(violationIds(log), ["5.2.6/D1"]);
  assert.equal(log.entries[0].values.readable, 8);
});

Deno.test("block validation: no device-readable part at all is 5.2.6/D1; the data part is zeroed", async () => {
  const { buffer, request, bytes, log } = await setup();
  const data = buffer(512);
  const status = buffer(1);
  assert.deepEqual(await request([], [data, status]), { len: 513, status: VIRTIO_BLK_S_IOERR });
  assert.deepEqual([...new Set(bytes(data))], [0]);
  assert.deepEqual(violationIds(log), ["5.2.6/D1"]);
});

Deno.test("block validation: no device-writable byte for the status is 5.2.6/D2 -> device needs reset", async () => {
  const { header, log, deviceTransport, settle, raw } = await setup();
  let completed = false;
  void raw.post(0, [header(VIRTIO_BLK_T_IN, 0n)], []).then(() => (completed = true));
  await settle();
  assert.deepEqual(violationIds(log), ["5.2.6/D2"]);
  assert.ok(deviceTransport.status & VIRTIO_CONFIG_S_NEEDS_RESET);
  assert.match(deviceTransport.needsResetReason, /5\.2\.6\/D2/);
  assert.equal(completed, false, "the request cannot be completed");
  assert.equal(raw.queues[0].inFlight, 1);
});

Deno.test("block validation: data in the wrong direction is 5.2.6/D3 -> IOERR, nothing written", async () => {
  const { header, buffer, request, bytes, log, backend } = await setup();
  // IN with device-readable data after the header.
  const readableData = buffer(512, 0x11);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_IN, 0n), readableData], [buffer(1)]),
    { len: 1, status: VIRTIO_BLK_S_IOERR },
  );
  // OUT with device-writable data before the status: zeroed, disk untouched.
  const writableData = buffer(512, 0x22);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_OUT, 0n)], [writableData, buffer(1)]),
    { len: 513, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual([...new Set(bytes(writableData))], [0]);
  // GET_ID with device-readable data.
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_GET_ID, 0n), buffer(20)], [buffer(21)]),
    { len: 21, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual(violationIds(log), ["5.2.6/D3", "5.2.6/D3", "5.2.6/D3"]);
  assert.deepEqual((backend as MemoryBlockBackend).data, DISK);
});

Deno.test("block validation: IN/OUT data that is not whole sectors is 5.2.6.1/5 -> IOERR", async () => {
  const { header, buffer, request, bytes, log, backend } = await setup();
  const data = buffer(100);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_IN, 0n)], [data, buffer(1)]),
    { len: 101, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual([...new Set(bytes(data))], [0], "no partial sector leaks into the buffer");
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_OUT, 1n), buffer(1000, 0x33)], [buffer(1)]),
    { len: 1, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual(violationIds(log), ["5.2.6.1/5", "5.2.6.1/5"]);
  assert.deepEqual((backend as MemoryBlockBackend).data, DISK);
});

Deno.test("block validation: past the capacity, with and without u64 overflow, is 5.2.6.1/1 -> IOERR", async () => {
  const { header, buffer, request, log, backend } = await setup();
  const cases: [number, bigint, number][] = [
    [VIRTIO_BLK_T_IN, BigInt(CAPACITY - 1), 1024], // one sector too far
    [VIRTIO_BLK_T_IN, BigInt(CAPACITY), 512],
    [VIRTIO_BLK_T_OUT, 2n ** 64n - 1n, 1024], // sector + 2 wraps to 1 in u64
    [VIRTIO_BLK_T_OUT, 2n ** 63n, 512],
  ];
  for (const [type, sector, length] of cases) {
    const r = type === VIRTIO_BLK_T_IN
      ? await request([header(type, sector)], [buffer(length), buffer(1)])
      : await request([header(type, sector), buffer(length, 0x44)], [buffer(1)]);
    assert.equal(r.status, VIRTIO_BLK_S_IOERR, `sector ${sector}`);
  }
  assert.deepEqual(violationIds(log), ["5.2.6.1/1", "5.2.6.1/1", "5.2.6.1/1", "5.2.6.1/1"]);
  assert.equal(log.entries[2].values.sector, 2n ** 64n - 1n);
  assert.deepEqual((backend as MemoryBlockBackend).data, DISK);
  // The last sector itself is fine, and so is an empty read at the end.
  assert.equal(
    (await request([header(VIRTIO_BLK_T_IN, BigInt(CAPACITY - 1))], [buffer(512), buffer(1)]))
      .status,
    VIRTIO_BLK_S_OK,
  );
  assert.equal(
    (await request([header(VIRTIO_BLK_T_IN, BigInt(CAPACITY))], [buffer(1)])).status,
    VIRTIO_BLK_S_OK,
  );
  assert.equal(log.entries.length, 4);
});

Deno.test("block validation: more than 2 GiB of data in one chain is still range-checked (5.2.6.1/1)", async () => {
  // Descriptors may point at the same guest buffer: 129 x 16 MiB + 512 bytes
  // of device-writable data is over 2^31 bytes, where a 32-bit shift of the
  // length would turn negative and slip under the capacity.
  const device = new VirtioBlockDevice(new MemoryBlockBackend(DISK));
  const { driver: raw, memory, log } = await buildRawStack(device, 1, {
    memorySize: 20 * 1024 * 1024,
  });
  const header = raw.alloc(16);
  memory.writeU32(header, VIRTIO_BLK_T_IN);
  const big = raw.alloc(16 * 1024 * 1024);
  const tail = raw.alloc(513, 0xee);
  const writable = [...Array.from({ length: 129 }, () => ({ addr: big, len: 16 * 1024 * 1024 })), {
    addr: tail,
    len: 513,
  }];
  const used = await raw.post(0, [{ addr: header, len: 16 }], writable);
  assert.equal(used.len, 129 * 16 * 1024 * 1024 + 513);
  assert.equal(memory.readU8(tail + 512), VIRTIO_BLK_S_IOERR);
  assert.deepEqual(violationIds(log), ["5.2.6.1/1"]);
  assert.equal(log.entries[0].values.writeData, 129 * 16 * 1024 * 1024 + 512);
});

Deno.test("block validation: GET_ID needs exactly 20 bytes (5.2.6.1/7): less is IOERR, more is OK and zero-padded", async () => {
  const { header, buffer, request, bytes, log } = await setup();
  const small = buffer(10);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_GET_ID, 0n)], [small, buffer(1)]),
    { len: 11, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual([...new Set(bytes(small))], [0]);
  const big = buffer(33); // 32 bytes of data and the status
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_GET_ID, 0n)], [big]),
    { len: 33, status: VIRTIO_BLK_S_OK },
  );
  const id = bytes(big).subarray(0, 32);
  assert.equal(new TextDecoder().decode(id.subarray(0, 14)), "virtio-lab-blk");
  assert.deepEqual([...new Set(id.subarray(14))], [0]);
  assert.deepEqual(violationIds(log), ["5.2.6.1/7", "5.2.6.1/7"]);
  assert.match(log.entries[1].action, /first 20 bytes/);
});

Deno.test("block validation: FLUSH with a sector (5.2.6.1/3) or data (5.2.6.1/4) is logged and still flushes", async () => {
  const { header, buffer, request, log, backend } = await setup();
  const memoryBackend = backend as MemoryBlockBackend;
  assert.deepEqual(await request([header(VIRTIO_BLK_T_FLUSH, 5n)], [buffer(1)]), {
    len: 1,
    status: VIRTIO_BLK_S_OK,
  });
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_FLUSH, 0n), buffer(512)], [buffer(1)]),
    { len: 1, status: VIRTIO_BLK_S_OK },
  );
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_FLUSH, 0n)], [buffer(1)]),
    { len: 1, status: VIRTIO_BLK_S_OK },
  );
  assert.equal(memoryBackend.flushes, 3);
  assert.deepEqual(violationIds(log), ["5.2.6.1/3", "5.2.6.1/4"]);
  assert.ok(log.entries.every((v) => v.level === (v.id === "5.2.6.1/3" ? "MUST" : "SHOULD")));
});

Deno.test("block validation: unknown and unoffered request types are VIRTIO_BLK_S_UNSUPP, not violations", async () => {
  const { header, buffer, request, device, log } = await setup();
  for (
    const type of [
      99,
      VIRTIO_BLK_T_SCSI_CMD,
      VIRTIO_BLK_T_DISCARD,
      VIRTIO_BLK_T_GET_LIFETIME,
      0x8000_0000,
    ]
  ) {
    const data = buffer(16);
    assert.deepEqual(await request([header(type, 0n)], [data, buffer(1)]), {
      len: 17,
      status: VIRTIO_BLK_S_UNSUPP,
    });
  }
  assert.equal(device.stats.unsupported, 5);
  assert.deepEqual(violationIds(log), []);
});

Deno.test("block validation: a read-only device fails OUT with IOERR and changes nothing (5.2.6.2/1)", async () => {
  const backend = new MemoryBlockBackend(DISK, { readOnly: true });
  const { header, buffer, request, log } = await setup(backend);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_OUT, 3n), buffer(1024, 0x99)], [buffer(1)]),
    { len: 1, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual(backend.data, DISK);
  assert.deepEqual(violationIds(log), [], "the device's own duty, not a driver error");
  // Reads still work.
  const data = buffer(512);
  assert.equal(
    (await request([header(VIRTIO_BLK_T_IN, 3n)], [data, buffer(1)])).status,
    VIRTIO_BLK_S_OK,
  );
});

Deno.test("block validation: a backend error is IOERR and leaves no partial data in the buffers", async () => {
  class HalfFailing extends MemoryBlockBackend {
    override read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
      // The first segment is read, the second fails.
      return offset === 0 ? super.read(offset, dest, signal) : Promise.reject(new Error("EIO"));
    }
  }
  const { header, buffer, request, bytes, device } = await setup(new HalfFailing(DISK));
  const first = buffer(512);
  const second = buffer(512);
  assert.deepEqual(
    await request([header(VIRTIO_BLK_T_IN, 0n)], [first, second, buffer(1)]),
    { len: 1025, status: VIRTIO_BLK_S_IOERR },
  );
  assert.deepEqual([...new Set(bytes(first))], [0]);
  assert.deepEqual([...new Set(bytes(second))], [0]);
  assert.equal(device.stats.backendErrors, 1);
});
