/**
 * The block parts around the request: the configuration space (both
 * halves), the request limits and how a transfer is cut into requests
 * (driver), and the device's backend I/O.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import { features } from "../../virtio/features.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import type { DescriptorChain } from "../../virtqueue/types.ts";
import {
  type BlockConfigReader,
  blockConfigSpace,
  type BlockRequest,
  blockTransferLimits,
  executeBlockRequest,
  MAX_SEGMENT_BYTES,
  MemoryBlockBackend,
  type MutableBufferSegment,
  readBlockConfig,
  splitTransfer,
  VIRTIO_BLK_CONFIG_BLK_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_CONFIG_UNUSED0,
  VIRTIO_BLK_CONFIG_UNUSED1,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
} from "../../devices/mod.ts";
import { pattern } from "./_stack.ts";

// ----------------------------------------------------------------- config

Deno.test("blockConfigSpace: capacity, size_max, seg_max, blk_size at their offsets, padding 0 (5.2.5.2/3)", () => {
  const bytes = blockConfigSpace({
    capacity: 0x1_0000_0010n,
    sizeMax: 65536,
    segMax: 126,
    blkSize: 512,
  });
  assert.equal(bytes.length, VIRTIO_BLK_CONFIG_SIZE);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(VIRTIO_BLK_CONFIG_CAPACITY, true), 0x1_0000_0010n);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_SIZE_MAX, true), 65536);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_SEG_MAX, true), 126);
  assert.equal(view.getUint32(VIRTIO_BLK_CONFIG_BLK_SIZE, true), 512);
  assert.equal(bytes[VIRTIO_BLK_CONFIG_UNUSED0], 0);
  assert.deepEqual([...bytes.subarray(VIRTIO_BLK_CONFIG_UNUSED1, VIRTIO_BLK_CONFIG_UNUSED1 + 3)], [
    0,
    0,
    0,
  ]);
  const others = [...bytes.subarray(24)];
  assert.deepEqual([...new Set(others)], [0], "no field this device does not offer is set");
  // A field not offered may be left out: it reads 0.
  const bare = new DataView(
    blockConfigSpace({ capacity: 8n, sizeMax: null, segMax: null, blkSize: null }).buffer,
  );
  assert.equal(bare.getUint32(VIRTIO_BLK_CONFIG_SIZE_MAX, true), 0);
  assert.throws(
    () => blockConfigSpace({ capacity: 2n ** 64n, sizeMax: 1, segMax: 1, blkSize: 512 }),
    RangeError,
  );
  assert.throws(
    () => blockConfigSpace({ capacity: 1n, sizeMax: 2 ** 32, segMax: 1, blkSize: 512 }),
    RangeError,
  );
});

/** A reader over a configuration space, recording the fields read and how. */
function reader(
  bytes: Uint8Array,
  featureBits: number[],
  options: { tornOnce?: boolean } = {},
) {
  const view = new DataView(bytes.buffer);
  const reads: string[] = [];
  const log = new ConformanceLog();
  let passes = 0;
  const device: BlockConfigReader = {
    features: features(...featureBits),
    reporter: log.scoped("virtio_blk"),
    readConfig(offset: number, width: AccessWidth) {
      reads.push(`${offset}/${width}`);
      return width === 1
        ? view.getUint8(offset)
        : width === 2
        ? view.getUint16(offset, true)
        : view.getUint32(offset, true);
    },
    readConfig64(offset: number) {
      reads.push(`${offset}/8`);
      return view.getBigUint64(offset, true);
    },
    readConfigConsistent<R>(read: () => R): R {
      passes++;
      const first = read();
      if (!options.tornOnce || passes > 1) return first;
      // The device changed the configuration during the first pass.
      view.setBigUint64(VIRTIO_BLK_CONFIG_CAPACITY, view.getBigUint64(0, true) * 2n, true);
      return read();
    },
  };
  return { device, reads, log };
}

Deno.test("readBlockConfig: only fields whose feature was negotiated, capacity as a 64-bit read", () => {
  const bytes = blockConfigSpace({ capacity: 2n ** 33n, sizeMax: 4096, segMax: 32, blkSize: 4096 });
  const all = reader(bytes, [VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE]);
  assert.deepEqual(readBlockConfig(all.device), {
    capacity: 2n ** 33n,
    sizeMax: 4096,
    segMax: 32,
    blkSize: 4096,
  });
  assert.deepEqual(all.reads, ["0/8", "8/4", "12/4", "20/4", "33/1"]);

  const none = reader(bytes, []);
  assert.deepEqual(readBlockConfig(none.device), {
    capacity: 2n ** 33n,
    sizeMax: null,
    segMax: null,
    blkSize: null,
  });
  assert.deepEqual(none.reads, ["0/8", "33/1"], "no field of an absent feature is read (2.5.1/1)");
  assert.equal(none.log.entries.length, 0);
});

Deno.test("readBlockConfig: everything comes from one pass of the generation loop", () => {
  const bytes = blockConfigSpace({ capacity: 100n, sizeMax: 4096, segMax: 32, blkSize: 512 });
  const torn = reader(bytes, [VIRTIO_BLK_F_SEG_MAX], { tornOnce: true });
  assert.equal(readBlockConfig(torn.device).capacity, 200n, "the value of the consistent pass");
});

Deno.test("readBlockConfig: unused0 not 0 is reported (5.2.5.2/3); a bad blk_size makes the device unusable", () => {
  const bytes = blockConfigSpace({ capacity: 8n, sizeMax: 4096, segMax: 32, blkSize: 512 });
  bytes[VIRTIO_BLK_CONFIG_UNUSED0] = 0x5a;
  const padded = reader(bytes, []);
  readBlockConfig(padded.device);
  assert.deepEqual(padded.log.entries.map((v) => [v.id, v.role, v.values.value]), [
    ["5.2.5.2/3", "device", 0x5a],
  ]);
  for (const blkSize of [256, 1000, 131072]) {
    const bad = blockConfigSpace({ capacity: 8n, sizeMax: 4096, segMax: 32, blkSize });
    assert.throws(
      () => readBlockConfig(reader(bad, [VIRTIO_BLK_F_BLK_SIZE]).device),
      /blk_size \d+ is not a power of two from 512 to 65536/,
    );
  }
});

// ----------------------------------------------------------------- limits

const config = (segMax: number | null, sizeMax: number | null) => ({
  capacity: 1n << 20n,
  segMax,
  sizeMax,
  blkSize: null,
});

Deno.test("blockTransferLimits: seg_max counts data segments; a request moves seg_max × size_max (PR kern/58338)", () => {
  // size_max 4 KiB < 64 KiB, seg_max 32 on a 128-entry queue: a device
  // NetBSD's ld@virtio could not attach.
  const limits = blockTransferLimits(config(32, 4096), 128, 1024 * 1024);
  assert.deepEqual(limits, { segMax: 32, sizeMax: 4096, maxRequestBytes: 131072 });
  const segments: MutableBufferSegment[] = [];
  assert.equal(splitTransfer(limits, 0x10_0000, 65536, segments), 65536);
  assert.equal(segments.length, 16, "64 KiB as 16 segments of 4 KiB, one request");
  assert.ok(segments.every((s) => s.len === 4096));
});

Deno.test("blockTransferLimits: seg_max 0 or absent is 1; it is capped so header and status fit the queue (2.7.5.3.1/3)", () => {
  assert.equal(blockTransferLimits(config(0, 4096), 128, 1 << 20).segMax, 1);
  assert.equal(blockTransferLimits(config(null, 4096), 128, 1 << 20).segMax, 1);
  assert.equal(blockTransferLimits(config(300, 4096), 128, 1 << 20).segMax, 126);
  assert.equal(blockTransferLimits(config(300, 4096), 3, 1 << 20).segMax, 1);
  assert.throws(() => blockTransferLimits(config(1, 4096), 2, 1 << 20), /cannot hold a request/);
});

Deno.test("blockTransferLimits: size_max near 2^32 is not truncated to 32 bits (Linux fafb51a67fb8)", () => {
  const limits = blockTransferLimits(config(2, 0xffff_ffff), 256, 1024 * 1024 * 1024);
  assert.deepEqual(limits, {
    segMax: 2,
    sizeMax: 0xffff_ffff,
    maxRequestBytes: 1024 * 1024 * 1024,
  });
  const segments: MutableBufferSegment[] = [];
  assert.equal(splitTransfer(limits, 0, 65536, segments), 65536);
  assert.deepEqual(segments, [{ addr: 0, len: 65536 }]);
  // Absent or 0: what one descriptor holds.
  assert.equal(blockTransferLimits(config(8, null), 256, 1 << 20).sizeMax, MAX_SEGMENT_BYTES);
  assert.equal(blockTransferLimits(config(8, 0), 256, 1 << 20).sizeMax, MAX_SEGMENT_BYTES);
});

Deno.test("blockTransferLimits: whole sectors; less than one sector per request is refused", () => {
  assert.equal(blockTransferLimits(config(3, 700), 128, 1 << 20).maxRequestBytes, 2048);
  assert.equal(blockTransferLimits(config(126, 65536), 256, 4000).maxRequestBytes, 3584);
  assert.throws(() => blockTransferLimits(config(1, 256), 128, 1 << 20), /less than one 512-byte/);
});

Deno.test("splitTransfer: property: segments cover the request exactly within every limit", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 70_000 }),
      fc.integer({ min: 3, max: 300 }),
      fc.integer({ min: 1, max: 512 }),
      fc.integer({ min: 1, max: 2048 }),
      (segMaxConfig, sizeMax, queueSize, maxSectors, sectors) => {
        let limits;
        try {
          limits = blockTransferLimits(config(segMaxConfig, sizeMax), queueSize, maxSectors * 512);
        } catch {
          return segMaxConfig * sizeMax < 512 ||
            Math.min(segMaxConfig, queueSize - 2) * sizeMax < 512;
        }
        const segments: MutableBufferSegment[] = [];
        const base = 0x4000_0000;
        let at = 0;
        while (at < sectors * 512) {
          const n = splitTransfer(limits, base + at, sectors * 512 - at, segments);
          assert.ok(n >= 512 && n % 512 === 0 && n <= limits.maxRequestBytes);
          assert.ok(segments.length >= 1 && segments.length <= limits.segMax);
          assert.ok(segments.length + 2 <= queueSize, "header + data + status fit the queue");
          let next = base + at;
          for (const s of segments) {
            assert.ok(s.len >= 1 && s.len <= sizeMax, `segment of ${s.len} > size_max ${sizeMax}`);
            assert.equal(s.addr, next, "contiguous, in order");
            next += s.len;
          }
          assert.equal(next - (base + at), n, "the segments add up to the request");
          at += n;
        }
        assert.equal(at, sectors * 512);
        return true;
      },
    ),
    { seed: 58338, numRuns: 300 },
  );
});

Deno.test("splitTransfer: the segment objects are reused, the array trimmed; a bad length throws", () => {
  const limits = { segMax: 4, sizeMax: 512, maxRequestBytes: 2048 };
  const segments: MutableBufferSegment[] = [];
  splitTransfer(limits, 0, 2048, segments);
  const [first] = segments;
  assert.equal(splitTransfer(limits, 0x1000, 1024, segments), 1024);
  assert.equal(segments.length, 2);
  assert.equal(segments[0], first, "same object, new values");
  assert.deepEqual(segments, [{ addr: 0x1000, len: 512 }, { addr: 0x1200, len: 512 }]);
  // Limits that disagree: segMax × sizeMax wins over maxRequestBytes.
  assert.equal(
    splitTransfer({ segMax: 2, sizeMax: 512, maxRequestBytes: 4096 }, 0, 4096, []),
    1024,
  );
  for (const bad of [0, 100, -512, 1.5 * 512]) {
    assert.throws(() => splitTransfer(limits, 0, bad, segments), RangeError);
  }
});

// --------------------------------------------------------------------- io

function request(op: BlockRequest["op"], offset: number, length: number): BlockRequest {
  return { op, type: 0, sector: offset / 512, offset, length, warnings: 0 };
}

function ioChain(
  readable: { addr: number; len: number }[],
  writable: { addr: number; len: number }[],
): DescriptorChain {
  const sum = (s: { len: number }[]) => s.reduce((n, x) => n + x.len, 0);
  return {
    head: 0,
    readable,
    writable,
    readableLength: sum(readable),
    writableLength: sum(writable),
    descriptorCount: readable.length + writable.length,
    indirect: false,
  };
}

const IO = { writeThrough: false, id: new TextEncoder().encode("lab-disk".padEnd(20, "\0")) };

Deno.test("executeBlockRequest: a read lands in every writable buffer, in order; the status byte is left alone", async () => {
  const disk = new MemoryBlockBackend(pattern(64 * 512, 3));
  const memory = new GuestMemory(1 << 16);
  memory.fill(0, 1 << 16, 0xee);
  const c = ioChain([{ addr: 0, len: 16 }], [
    { addr: 0x1000, len: 100 },
    { addr: 0x2000, len: 300 },
    { addr: 0x3000, len: 113 }, // 112 data bytes and the status
  ]);
  await executeBlockRequest(disk, memory, c, request("read", 1024, 512), IO);
  const got = new Uint8Array([
    ...memory.bytes(0x1000, 100),
    ...memory.bytes(0x2000, 300),
    ...memory.bytes(0x3000, 112),
  ]);
  assert.deepEqual(got, disk.data.subarray(1024, 1536));
  assert.equal(memory.readU8(0x3000 + 112), 0xee);
});

Deno.test("executeBlockRequest: a write takes the bytes after the header, which may share its buffer", async () => {
  const disk = new MemoryBlockBackend(64 * 512);
  const memory = new GuestMemory(1 << 16);
  const data = pattern(1024, 8);
  memory.write(0x1000 + 16, data.subarray(0, 200));
  memory.write(0x2000, data.subarray(200));
  const c = ioChain([{ addr: 0x1000, len: 16 + 200 }, { addr: 0x2000, len: 824 }], [{
    addr: 0x3000,
    len: 1,
  }]);
  await executeBlockRequest(disk, memory, c, request("write", 4096, 1024), IO);
  assert.deepEqual(disk.data.subarray(4096, 5120), data);
  assert.equal(disk.flushes, 0, "not write-through: the flush request makes it stable");
  await executeBlockRequest(disk, memory, c, request("write", 4096, 1024), {
    ...IO,
    writeThrough: true,
  });
  assert.equal(disk.flushes, 1, "write-through: flushed before completion (5.2.6.2/9)");
});

Deno.test("executeBlockRequest: flush flushes the backend; GET_ID writes the 20-byte ID", async () => {
  const disk = new MemoryBlockBackend(64 * 512);
  const memory = new GuestMemory(1 << 16);
  await executeBlockRequest(
    disk,
    memory,
    ioChain([{ addr: 0, len: 16 }], [{ addr: 0x100, len: 1 }]),
    request("flush", 0, 0),
    IO,
  );
  assert.equal(disk.flushes, 1);
  await executeBlockRequest(
    disk,
    memory,
    ioChain([{ addr: 0, len: 16 }], [{ addr: 0x100, len: 8 }, { addr: 0x200, len: 13 }]),
    { ...request("get-id", 0, 20), sector: 0 },
    IO,
  );
  assert.equal(
    new TextDecoder().decode(
      new Uint8Array([...memory.bytes(0x100, 8), ...memory.bytes(0x200, 8)]),
    ),
    "lab-disk\0\0\0\0\0\0\0\0",
  );
});

Deno.test("executeBlockRequest: one failing segment fails the request only after every segment settled", async () => {
  let releaseSecond = () => {};
  let secondDone = false;
  class SplitFailing extends MemoryBlockBackend {
    override read(offset: number, dest: Uint8Array): Promise<void> {
      if (offset === 0) return Promise.reject(new Error("EIO"));
      return new Promise<void>((resolve) => {
        releaseSecond = () => {
          dest.fill(1);
          secondDone = true;
          resolve();
        };
      });
    }
  }
  const memory = new GuestMemory(1 << 16);
  const c = ioChain([{ addr: 0, len: 16 }], [
    { addr: 0x1000, len: 512 },
    { addr: 0x2000, len: 512 },
    { addr: 0x3000, len: 1 },
  ]);
  let settled = false;
  const done = executeBlockRequest(
    new SplitFailing(64 * 512),
    memory,
    c,
    request("read", 0, 1024),
    IO,
  ).finally(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(settled, false, "still waiting for the second segment");
  releaseSecond();
  await assert.rejects(done, /EIO/);
  assert.ok(secondDone);
});

Deno.test("executeBlockRequest: a backend that throws instead of rejecting still just fails the request", async () => {
  class Throwing extends MemoryBlockBackend {
    override flush(): Promise<void> {
      throw new Error("flush exploded");
    }
  }
  const memory = new GuestMemory(4096);
  await assert.rejects(
    executeBlockRequest(
      new Throwing(512),
      memory,
      ioChain([{ addr: 0, len: 16 }], [{ addr: 64, len: 1 }]),
      request("flush", 0, 0),
      IO,
    ),
    /flush exploded/,
  );
});
