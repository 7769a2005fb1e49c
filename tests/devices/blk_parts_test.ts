/**
 * The block device and driver as users of their parts tables: every step
 * goes through the table (a replacement is called and what it returns is
 * used), the request path allocates no guest memory once warm, reads and
 * writes of guest-memory buffers are zero-copy, and which chains go
 * direct or indirect.
 */

import assert from "node:assert/strict";
import type { GuestAllocator } from "../../memory/allocator.ts";
import type { AccessWidth, DeviceHost } from "../../virtio/device.ts";
import {
  type BlockDeviceParts,
  type BlockDriverParts,
  BlockIoError,
  MemoryBlockBackend,
  parseBlockRequest,
  REFERENCE_BLOCK_DEVICE_PARTS,
  REFERENCE_BLOCK_DRIVER_PARTS,
  splitTransfer,
  VIRTIO_BLK_CONFIG_CAPACITY,
  VIRTIO_BLK_CONFIG_SEG_MAX,
  VIRTIO_BLK_CONFIG_SIZE_MAX,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_IN,
  VirtioBlockDevice,
  type VirtioBlockDeviceOptions,
  VirtioBlockDriver,
  type VirtioBlockDriverOptions,
} from "../../devices/mod.ts";
import { mergeParts } from "../../devices/common.ts";
import { buildStack, ChainRecorder, pattern, registration, type StackOptions } from "./_stack.ts";

async function blkStack(
  backend: MemoryBlockBackend,
  deviceOptions: VirtioBlockDeviceOptions = {},
  driverOptions: VirtioBlockDriverOptions = {},
  stackOptions: StackOptions = {},
) {
  const device = new VirtioBlockDevice(backend, deviceOptions);
  const driver = new VirtioBlockDriver(driverOptions);
  const stack = await buildStack<VirtioBlockDriver>(device, registration(driver), stackOptions);
  return { device, ...stack };
}

/** Counts the allocator's calls from now on. */
function countCalls(allocator: GuestAllocator) {
  const calls = { alloc: 0, free: 0 };
  const alloc = allocator.alloc.bind(allocator);
  const free = allocator.free.bind(allocator);
  allocator.alloc = (...args) => (calls.alloc++, alloc(...args));
  allocator.free = (address) => (calls.free++, free(address));
  return calls;
}

Deno.test("block parts: the tables hold the reference functions; mergeParts keeps what is not replaced", () => {
  assert.deepEqual(Object.keys(REFERENCE_BLOCK_DEVICE_PARTS).sort(), [
    "blockConfigSpace",
    "completeBlockRequest",
    "executeBlockRequest",
    "executeDiscardRequest",
    "layoutDiscardConfig",
    "parseBlockRequest",
    "parseDiscardRequest",
  ]);
  assert.deepEqual(Object.keys(REFERENCE_BLOCK_DRIVER_PARTS).sort(), [
    "blockTransferLimits",
    "buildBlockRequest",
    "buildDiscardRequest",
    "finishBlockRequest",
    "readBlockConfig",
    "readDiscardConfig",
    "splitDiscard",
    "splitTransfer",
  ]);
  assert.ok(Object.isFrozen(REFERENCE_BLOCK_DEVICE_PARTS));
  const device = new VirtioBlockDevice(new MemoryBlockBackend(4096), {
    parts: { parseBlockRequest: undefined },
  });
  assert.equal(device.parts.parseBlockRequest, parseBlockRequest);
  assert.throws(
    () => mergeParts(REFERENCE_BLOCK_DRIVER_PARTS, { splitTransfers: splitTransfer } as never),
    /"splitTransfers" is not one of the parts/,
  );
  assert.throws(
    () => new VirtioBlockDriver({ parts: { splitTransfer: 42 as never } }),
    /Part "splitTransfer" is a number, not a function/,
  );
});

Deno.test("block parts: the device runs every request through its parts and uses what they return", async () => {
  const calls: string[] = [];
  const parts: Partial<BlockDeviceParts> = {
    parseBlockRequest(memory, chain, disk, reporter, request) {
      calls.push("parse");
      const parsed = REFERENCE_BLOCK_DEVICE_PARTS.parseBlockRequest(
        memory,
        chain,
        disk,
        reporter,
        request,
      );
      // Refuse every read as unsupported: the driver must see exactly that.
      return parsed.op === "read"
        ? {
          op: "reject",
          type: VIRTIO_BLK_T_IN,
          status: VIRTIO_BLK_S_UNSUPP,
          id: null,
          violation: null,
          complete: true,
        }
        : parsed;
    },
    executeBlockRequest(...args) {
      calls.push(`execute ${args[3].op}`);
      return REFERENCE_BLOCK_DEVICE_PARTS.executeBlockRequest(...args);
    },
    completeBlockRequest(...args) {
      calls.push("complete");
      return REFERENCE_BLOCK_DEVICE_PARTS.completeBlockRequest(...args);
    },
  };
  const backend = new MemoryBlockBackend(64 * 512);
  const { driver, shutdown } = await blkStack(backend, { parts });
  await driver.write(1, pattern(512, 4));
  assert.deepEqual(calls, ["parse", "execute write", "complete"]);
  await assert.rejects(
    driver.read(1, 1),
    (e: unknown) => e instanceof BlockIoError && e.status === VIRTIO_BLK_S_UNSUPP,
  );
  assert.deepEqual(calls.slice(3), ["parse", "complete"], "no backend work for a rejection");
  shutdown();
});

Deno.test("block parts: the driver runs every step through its parts and uses what they return", async () => {
  const calls: string[] = [];
  const parts: Partial<BlockDriverParts> = {
    readBlockConfig(device) {
      calls.push("readBlockConfig");
      return { ...REFERENCE_BLOCK_DRIVER_PARTS.readBlockConfig(device), segMax: 2 };
    },
    blockTransferLimits(...args) {
      calls.push("blockTransferLimits");
      return REFERENCE_BLOCK_DRIVER_PARTS.blockTransferLimits(...args);
    },
    splitTransfer(...args) {
      calls.push("splitTransfer");
      return REFERENCE_BLOCK_DRIVER_PARTS.splitTransfer(...args);
    },
    buildBlockRequest(...args) {
      calls.push("buildBlockRequest");
      return REFERENCE_BLOCK_DRIVER_PARTS.buildBlockRequest(...args);
    },
    finishBlockRequest(memory, request, len) {
      calls.push("finishBlockRequest");
      // Pretend every status byte read IOERR: the caller must fail the read.
      return REFERENCE_BLOCK_DRIVER_PARTS.finishBlockRequest(memory, request, len) ??
        new BlockIoError(request.type, BigInt(request.sector), 0, 1);
    },
  };
  const { driver, shutdown } = await blkStack(
    new MemoryBlockBackend(64 * 512),
    { sizeMax: 512 },
    { parts },
  );
  assert.equal(driver.segMax, 2, "the limits follow the configuration readBlockConfig returned");
  assert.deepEqual(calls, ["readBlockConfig", "blockTransferLimits"]);
  await assert.rejects(driver.read(0, 3), BlockIoError);
  // 3 sectors, 2 segments of 512 per request: two requests.
  assert.deepEqual(calls.slice(2), [
    "splitTransfer",
    "buildBlockRequest",
    "splitTransfer",
    "buildBlockRequest",
    "finishBlockRequest",
    "finishBlockRequest",
  ]);
  shutdown();
});

Deno.test("block parts: a splitTransfer that breaks its contract fails the transfer, not the driver", async () => {
  const { driver, shutdown, log } = await blkStack(new MemoryBlockBackend(64 * 512), {}, {
    parts: { splitTransfer: () => 100 },
  });
  await assert.rejects(driver.read(0, 1), /splitTransfer cut a request of 100 byte\(s\)/);
  assert.equal(driver.stats.inFlight, 0);
  shutdown();
  assert.equal(log.entries.length, 0);
});

Deno.test("block: once warm, requests call the guest allocator not at all", async () => {
  const backend = new MemoryBlockBackend(pattern(2048 * 512, 6));
  const { driver, allocator, memory, log, shutdown } = await blkStack(backend);
  const guestAddr = allocator.alloc(65536, 4096);
  const guestBuffer = memory.bytes(guestAddr, 65536);
  const hostBuffer = new Uint8Array(65536);
  const run = async () => {
    for (let i = 0; i < 50; i++) {
      await driver.readInto(i * 8, guestBuffer);
      await driver.readInto(i * 8, hostBuffer);
      await driver.write(1024 + i, hostBuffer.subarray(0, 512));
      await driver.write(1536 + i, guestBuffer.subarray(0, 4096));
      await Promise.all([
        driver.read(i, 1),
        driver.read(i + 1, 2),
        driver.readInto(i + 2, hostBuffer.subarray(0, 4096)),
      ]);
    }
    await driver.flush();
    await driver.getId();
  };
  await run(); // warm: the slots' bounce buffers are made on first use
  const bounces = driver.stats.bounceAllocations;
  assert.ok(
    bounces > 0 && bounces <= 4,
    `${bounces} bounce buffers for at most 3 host buffers at once`,
  );
  const calls = countCalls(allocator);
  await run();
  assert.deepEqual(calls, { alloc: 0, free: 0 });
  assert.equal(driver.stats.bounceAllocations, bounces);
  shutdown();
  allocator.free(guestAddr);
  assert.equal(allocator.used, 0, "and the driver freed everything on removal");
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: a bounce cache of 0 frees each bounce buffer after its request", async () => {
  const { driver, allocator, shutdown } = await blkStack(
    new MemoryBlockBackend(64 * 512),
    {},
    { bounceCacheBytes: 0 },
  );
  await driver.read(0, 1);
  const used = allocator.used;
  const calls = countCalls(allocator);
  await driver.read(0, 1);
  assert.deepEqual(calls, { alloc: 1, free: 1 });
  assert.equal(allocator.used, used);
  shutdown();
});

Deno.test("block: reads into and writes from guest memory go to the device as they are (zero-copy)", async () => {
  const recorder = new ChainRecorder();
  const backend = new MemoryBlockBackend(pattern(64 * 512, 12));
  const { driver, allocator, memory, shutdown } = await blkStack(backend, {}, {}, {
    deviceQueueFactory: recorder.factory,
  });
  const addr = allocator.alloc(4096, 4096);
  const dest = memory.bytes(addr, 4096);
  await driver.readInto(8, dest);
  assert.deepEqual(dest, backend.data.subarray(8 * 512, 16 * 512));
  const [read] = recorder.chains;
  assert.deepEqual(read.chain.writable.map((s) => [s.addr, s.len]).slice(0, 1), [[addr, 4096]]);
  dest.set(pattern(4096, 99));
  await driver.write(40, dest);
  assert.deepEqual(backend.data.subarray(40 * 512, 48 * 512), pattern(4096, 99));
  assert.equal(recorder.chains[1].chain.readable[1].addr, addr);
  assert.equal(driver.stats.bounced, 0, "no bounce buffer for guest memory");
  // A host buffer is bounced.
  await driver.read(0, 1);
  assert.equal(driver.stats.bounced, 1);
  shutdown();
});

Deno.test("block: one-segment requests use direct descriptors; multi-segment ones an indirect table", async () => {
  const recorder = new ChainRecorder();
  const { driver, shutdown } = await blkStack(
    new MemoryBlockBackend(64 * 512),
    { sizeMax: 4096 },
    {},
    { deviceQueueFactory: recorder.factory },
  );
  await driver.read(0, 8); // 4 KiB: header, one segment, status
  await driver.read(0, 16); // 8 KiB: two segments of size_max
  await driver.flush();
  assert.deepEqual(
    recorder.chains.map(({ chain }) => [chain.descriptorCount, chain.indirect]),
    [[3, false], [5, true], [2, false]], // indirect: the ring descriptor and the table's 4
  );
  shutdown();
});

Deno.test("block: a configuration change is read through readBlockConfig: capacity and limits follow", async () => {
  class ResizableDevice extends VirtioBlockDevice {
    host: DeviceHost | null = null;
    capacityOverride: number | null = null;
    segMaxOverride: number | null = null;
    sizeMaxOverride: number | null = null;
    override attach(host: DeviceHost): void {
      this.host = host;
      super.attach(host);
    }
    override readConfig(offset: number, width: AccessWidth): number {
      if (offset === VIRTIO_BLK_CONFIG_CAPACITY && this.capacityOverride !== null) {
        return this.capacityOverride;
      }
      if (offset === VIRTIO_BLK_CONFIG_SEG_MAX && this.segMaxOverride !== null) {
        return this.segMaxOverride;
      }
      if (offset === VIRTIO_BLK_CONFIG_SIZE_MAX && this.sizeMaxOverride !== null) {
        return this.sizeMaxOverride;
      }
      return super.readConfig(offset, width);
    }
  }
  const device = new ResizableDevice(new MemoryBlockBackend(64 * 512));
  let reads = 0;
  const driver = new VirtioBlockDriver({
    parts: {
      readBlockConfig: (ctx) => (reads++, REFERENCE_BLOCK_DRIVER_PARTS.readBlockConfig(ctx)),
    },
  });
  const { settle, shutdown, log } = await buildStack(device, registration(driver));
  assert.equal(driver.capacity, 64n);
  device.capacityOverride = 128;
  device.segMaxOverride = 4;
  device.host!.configChanged();
  await settle();
  assert.equal(reads, 2, "probe, then the configuration change");
  assert.equal(driver.capacity, 128n);
  assert.equal(driver.segMax, 4);
  // Limits that became unusable (1 × 256 bytes, under a sector) keep the old ones.
  device.segMaxOverride = 1;
  device.sizeMaxOverride = 256;
  device.capacityOverride = 32;
  device.host!.configChanged();
  await settle();
  assert.equal(driver.capacity, 32n);
  assert.deepEqual([driver.segMax, driver.sizeMax], [4, 65536]);
  assert.deepEqual(await driver.read(0, 1), new Uint8Array(512), "and requests still go out");
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("block: after DEVICE_NEEDS_RESET requests in flight fail, and later ones fail at once instead of waiting", async () => {
  const { driver, settle, shutdown } = await blkStack(new MemoryBlockBackend(64 * 512), {
    parts: {
      // Every request looks unanswerable: the device keeps it and asks for a reset.
      parseBlockRequest: () => ({
        op: "reject",
        type: -1,
        status: 1,
        id: "5.2.6/D2",
        violation: null,
        complete: false,
      }),
    },
  });
  const first = driver.read(0, 1);
  await assert.rejects(first, { name: "BlockDriverError", code: "needs-reset" });
  await settle();
  await assert.rejects(driver.read(0, 1), { name: "BlockDriverError", code: "needs-reset" });
  await assert.rejects(driver.write(0, new Uint8Array(512)), { code: "needs-reset" });
  shutdown();
});

Deno.test("block: a device part that throws fails the request with that error, never the caller synchronously", async () => {
  const { driver, shutdown } = await blkStack(new MemoryBlockBackend(64 * 512), {
    parts: {
      parseBlockRequest: () => {
        throw new TypeError("learner's parser crashed");
      },
    },
  });
  let promise: Promise<void> | null = null;
  assert.doesNotThrow(() => (promise = driver.readInto(0, new Uint8Array(512))));
  await assert.rejects(promise!, /learner's parser crashed/);
  await assert.rejects(driver.read(0, 1), /learner's parser crashed/, "the device is unusable");
  shutdown();
});

Deno.test("block: a finishBlockRequest that throws fails its request; the slot comes back", async () => {
  let calls = 0;
  const { driver, shutdown } = await blkStack(new MemoryBlockBackend(64 * 512), {}, {
    parts: {
      finishBlockRequest: (...args) => {
        if (calls++ === 0) throw new RangeError("learner's finish crashed");
        return REFERENCE_BLOCK_DRIVER_PARTS.finishBlockRequest(...args);
      },
    },
  });
  await assert.rejects(driver.read(0, 1), /learner's finish crashed/);
  assert.equal(driver.stats.inFlight, 0);
  assert.deepEqual(await driver.read(0, 1), new Uint8Array(512), "the next request works");
  shutdown();
});

Deno.test("block: a completeBlockRequest that throws (after the backend) asks for a reset, no unhandled rejection", async () => {
  const { driver, deviceTransport, shutdown } = await blkStack(new MemoryBlockBackend(64 * 512), {
    parts: {
      completeBlockRequest: () => {
        throw new TypeError("learner's completion crashed");
      },
    },
  });
  await assert.rejects(driver.read(0, 1), { name: "BlockDriverError", code: "needs-reset" });
  assert.match(deviceTransport.needsResetReason, /learner's completion crashed/);
  shutdown();
});
