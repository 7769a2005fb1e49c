import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type BlockBackend,
  BlockIoError,
  BlockRangeError,
  BlockReadOnlyError,
  DEFAULT_SEG_MAX,
  DEFAULT_SIZE_MAX,
  MemoryBlockBackend,
  SECTOR_SIZE,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_UNUSED0,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_T_IN,
  VirtioBlockDevice,
  type VirtioBlockDeviceOptions,
  VirtioBlockDriver,
  type VirtioBlockDriverOptions,
} from "../../devices/mod.ts";
import {
  features,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import { VIRTIO_MMIO_CONFIG } from "../../transport/mmio_registers.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import { VIRTQ_USED_IDX_OFFSET } from "../../virtqueue/layout.ts";
import { createSplitQueueDeviceFactory } from "../../virtqueue/device_queue.ts";
import {
  REFERENCE_SPLIT_RING_DEVICE_PARTS,
  type SplitRingDeviceParts,
} from "../../virtqueue/parts.ts";
import {
  buildStack,
  ChainRecorder,
  pattern,
  registration,
  type StackOptions,
  until,
  WINDOW,
} from "./_stack.ts";

async function blkStack(
  backend: BlockBackend,
  deviceOptions: VirtioBlockDeviceOptions = {},
  driverOptions: VirtioBlockDriverOptions = {},
  stackOptions: StackOptions = {},
) {
  const device = new VirtioBlockDevice(backend, deviceOptions);
  const driver = new VirtioBlockDriver(driverOptions);
  const stack = await buildStack<VirtioBlockDriver>(device, registration(driver), stackOptions);
  return { device, ...stack };
}

/** A backend whose operations wait for the test, then run in the order the test picks. */
class HeldBackend implements BlockBackend {
  readonly inner: MemoryBlockBackend;
  readonly held: { kind: string; offset: number; run: () => Promise<void>; done: () => void }[] =
    [];
  readonly finished: number[] = [];
  hold = true;

  constructor(inner: MemoryBlockBackend) {
    this.inner = inner;
  }
  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  #op(kind: string, offset: number, run: () => Promise<void>): Promise<void> {
    if (!this.hold) return run();
    return new Promise<void>((resolve, reject) => {
      this.held.push({
        kind,
        offset,
        run,
        done: () => run().then(() => (this.finished.push(offset), resolve()), reject),
      });
    });
  }
  read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#op("read", offset, () => this.inner.read(offset, dest, signal));
  }
  write(offset: number, src: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#op("write", offset, () => this.inner.write(offset, src, signal));
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Runs every held operation, in reverse order of arrival. */
  releaseReversed(): void {
    for (const op of this.held.splice(0).reverse()) op.done();
  }
}

Deno.test("block: features offered and negotiated, limits read from configuration space", async () => {
  const { device, driver, deviceTransport, bus, log, shutdown } = await blkStack(
    new MemoryBlockBackend(8 * 1024 * 1024),
  );
  assert.equal(
    device.deviceFeatures,
    features(
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_RING_RESET,
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
      VIRTIO_BLK_F_DISCARD,
      VIRTIO_BLK_F_WRITE_ZEROES,
    ),
  );
  assert.equal(
    deviceTransport.negotiatedFeatures,
    features(
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_BLK_F_SIZE_MAX,
      VIRTIO_BLK_F_SEG_MAX,
      VIRTIO_BLK_F_BLK_SIZE,
      VIRTIO_BLK_F_FLUSH,
      VIRTIO_BLK_F_DISCARD,
      VIRTIO_BLK_F_WRITE_ZEROES,
    ),
  );
  assert.equal(driver.capacity, 16384n);
  assert.equal(driver.readOnly, false);
  assert.equal(driver.blockSize, 512);
  assert.equal(driver.segMax, DEFAULT_SEG_MAX);
  assert.equal(driver.sizeMax, DEFAULT_SIZE_MAX);
  assert.equal(driver.maxRequestBytes, 1024 * 1024);
  assert.equal(driver.canFlush, true);
  // capacity is a 64-bit field: two 32-bit reads.
  assert.equal(bus.read32(WINDOW + VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY), 16384);
  assert.equal(bus.read32(WINDOW + VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_CAPACITY + 4), 0);
  assert.equal(bus.read8(WINDOW + VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CONFIG_UNUSED0), 0);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: write, read back, flush and GET_ID round trips", async () => {
  const backend = new MemoryBlockBackend(1024 * 1024);
  const { device, driver, log, shutdown, allocator } = await blkStack(backend);
  const data = pattern(64 * 1024, 5);
  await driver.write(100, data);
  assert.deepEqual(backend.data.subarray(100 * 512, 100 * 512 + data.length), data);
  assert.deepEqual(await driver.read(100, 128), data);
  const into = new Uint8Array(1024);
  await driver.readInto(101, into);
  assert.deepEqual(into, data.subarray(512, 1536));
  assert.deepEqual(await driver.read(0, 1), new Uint8Array(512), "untouched sectors stay zero");
  assert.deepEqual(await driver.read(5, 0), new Uint8Array(0));
  await driver.flush();
  assert.equal(backend.flushes, 1);
  assert.equal(await driver.getId(), "virtio-lab-blk");
  assert.deepEqual(device.stats.requests, {
    in: 3,
    out: 1,
    flush: 1,
    getId: 1,
    discard: 0,
    writeZeroes: 0,
    other: 0,
  });
  assert.equal(device.stats.bytesWritten, data.length);
  assert.equal(device.stats.bytesRead, data.length + 1024 + 512);
  assert.equal(driver.stats.bytesRead, data.length + 1024 + 512);
  shutdown();
  assert.equal(allocator.used, 0, "every guest buffer was freed");
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: GET_ID returns the backend's ID, a 20-byte ID has no NUL", async () => {
  const one = await blkStack(new MemoryBlockBackend(4096, { id: "disk-0" }));
  assert.equal(await one.driver.getId(), "disk-0");
  one.shutdown();
  const two = await blkStack(new MemoryBlockBackend(4096), { id: "ABCDEFGHIJKLMNOPQRST" });
  assert.equal(await two.driver.getId(), "ABCDEFGHIJKLMNOPQRST");
  two.shutdown();
  assert.throws(
    () => new VirtioBlockDevice(new MemoryBlockBackend(4096), { id: "x".repeat(21) }),
    RangeError,
  );
  assert.throws(
    () => new VirtioBlockDevice(new MemoryBlockBackend(4096), { id: "dïsk" }),
    RangeError,
  );
});

Deno.test("block: transfers are split by seg_max (data segments) and size_max (bytes per segment)", async () => {
  const recorder = new ChainRecorder();
  const backend = new MemoryBlockBackend(1024 * 1024);
  const { driver, log, shutdown } = await blkStack(
    backend,
    { segMax: 3, sizeMax: 1024 },
    {},
    { deviceQueueFactory: recorder.factory },
  );
  assert.equal(driver.segMax, 3);
  assert.equal(driver.sizeMax, 1024);
  assert.equal(
    driver.maxRequestBytes,
    3072,
    "seg_max × size_max, not seg_max alone (PR kern/58338)",
  );
  const data = pattern(16 * 512, 11);
  await driver.write(7, data);
  const lens = (segments: readonly { len: number }[]) => segments.map((s) => s.len);
  assert.deepEqual(
    recorder.chains.map(({ chain }) => [lens(chain.readable), lens(chain.writable)]),
    [
      [[16, 1024, 1024, 1024], [1]],
      [[16, 1024, 1024, 1024], [1]],
      [[16, 1024, 1024], [1]],
    ],
  );
  assert.ok(
    recorder.chains.every(({ chain }) => chain.indirect),
    "multi-buffer chains go indirect",
  );
  recorder.chains.length = 0;
  assert.deepEqual(await driver.read(7, 16), data);
  assert.deepEqual(
    recorder.chains.map(({ chain }) => [lens(chain.readable), lens(chain.writable)]),
    [
      [[16], [1024, 1024, 1024, 1]],
      [[16], [1024, 1024, 1024, 1]],
      [[16], [1024, 1024, 1]],
    ],
  );
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: a size_max that is not a sector multiple still gives whole-sector requests", async () => {
  const recorder = new ChainRecorder();
  const { driver, shutdown, log } = await blkStack(
    new MemoryBlockBackend(64 * 1024),
    { segMax: 3, sizeMax: 700 },
    {},
    { deviceQueueFactory: recorder.factory },
  );
  assert.equal(driver.maxRequestBytes, 2048);
  const data = pattern(4096, 2);
  await driver.write(0, data);
  assert.deepEqual(recorder.chains.map(({ chain }) => chain.readable.map((s) => s.len)), [
    [16, 700, 700, 648],
    [16, 700, 700, 648],
  ]);
  assert.deepEqual(await driver.read(0, 8), data);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: seg_max is capped by the queue size, and maxTransferBytes caps requests", async () => {
  const recorder = new ChainRecorder();
  const { driver, shutdown } = await blkStack(
    new MemoryBlockBackend(1024 * 1024),
    { queueSize: 16, segMax: 100, sizeMax: 512 },
    { maxTransferBytes: 4000 },
    { deviceQueueFactory: recorder.factory },
  );
  assert.equal(driver.segMax, 14, "16 descriptors minus header and status");
  assert.equal(driver.maxRequestBytes, 3584, "min(14 × 512, 4000) in whole sectors");
  await driver.write(0, new Uint8Array(8192));
  assert.deepEqual(recorder.chains.map(({ chain }) => chain.readableLength - 16), [
    3584,
    3584,
    1024,
  ]);
  shutdown();
});

/**
 * How many one-segment requests (3 buffers each) a queue of `size`
 * descriptors holds: direct chains while 3 descriptors are free, then one
 * indirect table per descriptor left.
 */
function oneSegmentRequestsInFlight(size: number): number {
  return Math.floor(size / 3) + (size % 3);
}

/** Releases held backend operations, reversed, until `done` settles (the queue refills meanwhile). */
async function releaseUntil(
  held: HeldBackend,
  settle: () => Promise<void>,
  done: Promise<unknown>,
): Promise<void> {
  let settled = false;
  done.then(() => (settled = true), () => (settled = true));
  while (!settled) {
    await settle();
    held.releaseReversed();
  }
}

Deno.test("block: the device drains with notifications off and re-enables them after, with a bounded re-check (§2.7.10, 2.7.10/D1)", async () => {
  const calls: string[] = [];
  let lie = false;
  const parts: Partial<SplitRingDeviceParts> = {
    disableNotifications(ring) {
      calls.push("disable");
      REFERENCE_SPLIT_RING_DEVICE_PARTS.disableNotifications(ring);
    },
    enableNotifications(ring) {
      calls.push("enable");
      return REFERENCE_SPLIT_RING_DEVICE_PARTS.enableNotifications(ring) || lie;
    },
  };
  const backend = new MemoryBlockBackend(pattern(64 * SECTOR_SIZE, 3));
  const { driver, log, shutdown } = await blkStack(backend, {}, {}, {
    deviceQueueFactory: createSplitQueueDeviceFactory(parts),
  });
  calls.length = 0;
  assert.deepEqual(await driver.read(4, 2), backend.data.subarray(4 * 512, 6 * 512));
  assert.deepEqual(calls, ["disable", "enable"]);
  // A re-check that always says "more" while nothing comes does not spin:
  // the rounds are bounded by the queue size, and the last one re-enables.
  lie = true;
  calls.length = 0;
  assert.deepEqual(await driver.read(8, 1), backend.data.subarray(8 * 512, 9 * 512));
  assert.ok(calls.length > 2 && calls.length <= 2 * 257, `${calls.length} calls`);
  assert.equal(calls.at(-1), "enable");
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: many requests in flight complete in whatever order the backend finishes", async () => {
  const held = new HeldBackend(new MemoryBlockBackend(4 * 1024 * 1024));
  const { device, driver, log, shutdown, settle } = await blkStack(held, {}, {
    maxTransferBytes: 4096,
  });
  const full = oneSegmentRequestsInFlight(256); // 85 direct chains, then 1 indirect
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 64; i++) writes.push(driver.write(i * 16, pattern(8192, i + 1)));
  await settle();
  assert.equal(full, 86);
  assert.equal(device.stats.inFlight, full, "64 writes of 2 requests each fill the queue");
  assert.equal(driver.stats.inFlight, full);
  // The last request started finishes first; the rest wait for room and follow.
  const offset = (k: number) => (k >> 1) * 8192 + (k % 2) * 4096; // request k: half k % 2 of write k >> 1
  held.releaseReversed();
  await releaseUntil(held, settle, Promise.all(writes));
  assert.deepEqual(
    held.finished.slice(0, 2),
    [offset(full - 1), offset(full - 2)],
    "last in, first out",
  );
  const reads: Promise<Uint8Array>[] = [];
  for (let i = 63; i >= 0; i--) reads.push(driver.read(i * 16, 16));
  const allReads = Promise.all(reads);
  await releaseUntil(held, settle, allReads);
  const results = await allReads;
  for (let i = 0; i < 64; i++) assert.deepEqual(results[63 - i], pattern(8192, i + 1));
  assert.equal(device.stats.maxInFlight, full);
  assert.equal(driver.stats.maxInFlight, full);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: requests beyond the queue's descriptors wait and go out as others complete", async () => {
  const held = new HeldBackend(new MemoryBlockBackend(1024 * 1024));
  const { device, driver, shutdown, settle } = await blkStack(
    held,
    { queueSize: 8 },
    { maxTransferBytes: 512 },
  );
  const writes = Array.from({ length: 40 }, (_, i) => driver.write(i, pattern(512, i + 100)));
  await settle();
  assert.equal(
    device.stats.inFlight,
    oneSegmentRequestsInFlight(8),
    "two direct chains of 3 descriptors, then an indirect table in each of the last 2",
  );
  held.hold = false;
  held.releaseReversed();
  await Promise.all(writes);
  for (let i = 0; i < 40; i++) assert.deepEqual(await driver.read(i, 1), pattern(512, i + 100));
  shutdown();
});

Deno.test("block: property: random reads and writes match a model of the disk", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          write: fc.boolean(),
          sector: fc.integer({ min: 0, max: 255 }),
          count: fc.integer({ min: 0, max: 40 }),
          seed: fc.integer({ min: 1, max: 1_000_000 }),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      async (ops) => {
        const backend = new MemoryBlockBackend(256 * 512);
        const { driver, shutdown, log } = await blkStack(backend, { segMax: 4, sizeMax: 2048 });
        const model = new Uint8Array(256 * 512);
        for (const op of ops) {
          const count = Math.min(op.count, 256 - op.sector);
          if (op.write) {
            const data = pattern(count * 512, op.seed);
            await driver.write(op.sector, data);
            model.set(data, op.sector * 512);
          } else {
            const got = await driver.read(op.sector, count);
            assert.deepEqual(got, model.subarray(op.sector * 512, (op.sector + count) * 512));
          }
        }
        assert.deepEqual(backend.data, model);
        shutdown();
        assert.equal(log.entries.length, 0);
      },
    ),
    { numRuns: 30 },
  );
});

Deno.test("block: transfers past the capacity are refused before anything is sent (5.2.6.1/1)", async () => {
  const { device, driver, shutdown } = await blkStack(new MemoryBlockBackend(64 * 512));
  await assert.rejects(driver.read(63, 2), (e: unknown) => {
    assert.ok(e instanceof BlockRangeError);
    assert.equal(e.sector, 63n);
    assert.equal(e.count, 2);
    assert.equal(e.capacity, 64n);
    assert.match(e.message, /2 sector\(s\) at sector 63 .* capacity of 64 sectors/);
    return true;
  });
  await assert.rejects(driver.write(64, new Uint8Array(512)), BlockRangeError);
  await assert.rejects(driver.read(2n ** 64n - 1n, 1), BlockRangeError);
  await assert.rejects(driver.read(2 ** 60, 1), RangeError);
  await assert.rejects(driver.read(1.5, 1), RangeError);
  await assert.rejects(driver.write(0, new Uint8Array(100)), RangeError);
  assert.deepEqual(await driver.read(64, 0), new Uint8Array(0), "an empty read at the end is fine");
  assert.deepEqual(device.stats.requests, {
    in: 0,
    out: 0,
    flush: 0,
    getId: 0,
    discard: 0,
    writeZeroes: 0,
    other: 0,
  });
  shutdown();
});

Deno.test("block: a read-only disk is negotiated as such and writes are refused early (5.2.6.1/2)", async () => {
  const backend = new MemoryBlockBackend(pattern(8192, 3), { readOnly: true });
  const { device, driver, deviceTransport, shutdown, log } = await blkStack(backend);
  assert.ok((device.deviceFeatures & features(VIRTIO_BLK_F_RO)) !== 0n);
  assert.ok((deviceTransport.negotiatedFeatures & features(VIRTIO_BLK_F_RO)) !== 0n);
  assert.equal(driver.readOnly, true);
  await assert.rejects(driver.write(1, new Uint8Array(512)), (e: unknown) => {
    assert.ok(e instanceof BlockReadOnlyError);
    assert.equal(e.sector, 1n);
    assert.equal(e.count, 1);
    return true;
  });
  assert.equal(device.stats.requests.out, 0);
  assert.deepEqual(await driver.read(0, 16), pattern(8192, 3));
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: backend errors come back as BlockIoError with the request's sector and count", async () => {
  class FailingBackend extends MemoryBlockBackend {
    override read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
      if (offset === 40 * 512) return Promise.reject(new Error("medium error"));
      return super.read(offset, dest, signal);
    }
  }
  const { device, driver, shutdown, log } = await blkStack(
    new FailingBackend(64 * 512),
    {},
    { maxTransferBytes: 4096 },
  );
  await assert.rejects(driver.read(32, 16), (e: unknown) => {
    assert.ok(e instanceof BlockIoError);
    assert.equal(e.status, VIRTIO_BLK_S_IOERR);
    assert.equal(e.type, VIRTIO_BLK_T_IN);
    assert.equal(e.sector, 40n);
    assert.equal(e.count, 8);
    assert.match(
      e.message,
      /VIRTIO_BLK_T_IN of 8 sector\(s\) at sector 40 failed with VIRTIO_BLK_S_IOERR/,
    );
    return true;
  });
  assert.equal(device.stats.backendErrors, 1);
  assert.equal(driver.stats.errors, 1);
  shutdown();
  assert.equal(log.entries.length, 0, "a backend error is nobody's violation");
});

Deno.test("block: without VIRTIO_BLK_F_FLUSH negotiated every write is flushed before it completes", async () => {
  const backend = new MemoryBlockBackend(64 * 512);
  const { device, driver, shutdown } = await blkStack(backend, {}, { flush: false });
  assert.equal(driver.canFlush, false);
  await driver.write(0, new Uint8Array(1024));
  await driver.write(4, new Uint8Array(512));
  assert.equal(backend.flushes, 2);
  await driver.flush();
  assert.equal(device.stats.requests.flush, 0, "nothing to send: the device writes through");
  shutdown();
});

Deno.test("block: a device reset makes requests in flight inert and their buffers are never touched", async () => {
  const recorder = new ChainRecorder();
  const held = new HeldBackend(new MemoryBlockBackend(pattern(64 * 512, 8)));
  const { device, driver, driverTransport, memory, allocator, shutdown, settle } = await blkStack(
    held,
    {},
    {},
    { deviceQueueFactory: recorder.factory },
  );
  const vq = driverTransport.queues.get(0)!;
  const usedIdxAddr = vq.addresses.usedAddr + VIRTQ_USED_IDX_OFFSET;
  const read = driver.read(0, 8);
  await settle();
  assert.equal(held.held.length, 1);
  const [data] = recorder.chains[0].chain.writable;
  shutdown(); // driver.remove(), then the device reset aborts the request
  await assert.rejects(read, { name: "BlockDriverError", code: "removed" });
  assert.equal(allocator.used, 0);
  memory.fill(data.addr, data.len, 0xab); // the freed buffer now holds someone else's data
  const usedIdx = memory.readU16(usedIdxAddr);
  held.releaseReversed();
  await until(() => device.stats.staleCompletions === 1, "the stale completion");
  assert.deepEqual([...new Set(memory.bytes(data.addr, data.len))], [0xab], "no late disk data");
  assert.equal(memory.readU16(usedIdxAddr), usedIdx, "nothing pushed to the old used ring");
});

Deno.test("block: the driver checks the padding byte unused0 reads 0 (5.2.5.2/3)", async () => {
  class PaddedDevice extends VirtioBlockDevice {
    override readConfig(offset: number, width: AccessWidth): number {
      return offset === VIRTIO_BLK_CONFIG_UNUSED0 ? 0x5a : super.readConfig(offset, width);
    }
  }
  const device = new PaddedDevice(new MemoryBlockBackend(4096));
  const driver = new VirtioBlockDriver();
  const { log, shutdown } = await buildStack(device, registration(driver));
  const [violation] = log.find("5.2.5.2/3");
  assert.equal(violation.role, "device");
  assert.equal(violation.values.value, 0x5a);
  shutdown();
});

Deno.test("block: a device whose seg_max × size_max is under one sector is refused at probe", async () => {
  const device = new VirtioBlockDevice(new MemoryBlockBackend(4096), { segMax: 1, sizeMax: 256 });
  const driver = new VirtioBlockDriver();
  await assert.rejects(buildStack(device, registration(driver)), /less than one 512-byte sector/);
  assert.equal(SECTOR_SIZE, 512);
});
