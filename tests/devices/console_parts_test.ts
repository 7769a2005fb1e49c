/**
 * The console parts on hand-made chains and queues (fillReceiveChain,
 * takeTransmitChain, postReceiveBuffers, receivedBytes, transmitChunks, the
 * configuration space), and the device and driver as users of their parts
 * tables: bounded transmit streaming, no kick before DRIVER_OK, refilling.
 */

import assert from "node:assert/strict";
import { GuestMemory } from "../../memory/guest_memory.ts";
import { GuestAllocator } from "../../memory/allocator.ts";
import { ConformanceLog } from "../../conformance/log.ts";
import type { AccessWidth } from "../../virtio/device.ts";
import { SplitQueueDriver } from "../../virtqueue/driver_queue.ts";
import { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import type { BufferSegment, DescriptorChain } from "../../virtqueue/types.ts";
import {
  consoleConfigSpace,
  emergencyWriteByte,
  fillReceiveChain,
  MemoryConsoleBackend,
  postReceiveBuffers,
  postTransmitBuffer,
  readConsoleSize,
  receivedBytes,
  REFERENCE_CONSOLE_DEVICE_PARTS,
  REFERENCE_CONSOLE_DRIVER_PARTS,
  takeTransmitChain,
  transmitChunks,
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONFIG_SIZE,
  VirtioConsoleDevice,
  VirtioConsoleDriver,
} from "../../devices/mod.ts";
import { buildRawStack, buildStack, pattern, readBytes, registration, until } from "./_stack.ts";
import { VIRTIO_MMIO_STATUS } from "../../transport/mmio_registers.ts";

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

// ---------------------------------------------------------------- receive

Deno.test("fillReceiveChain: input flows across every descriptor of the chain (2.7.4.1/1, Cloud Hypervisor #7802)", () => {
  const memory = new GuestMemory(1 << 16);
  const log = new ConformanceLog();
  const writable = [{ addr: 0x100, len: 3 }, { addr: 0x200, len: 1 }, { addr: 0x300, len: 100 }];
  const input = pattern(50, 5);
  assert.equal(fillReceiveChain(memory, chain([], writable), input, log.scoped("rx")), 50);
  assert.deepEqual(
    new Uint8Array([
      ...memory.bytes(0x100, 3),
      ...memory.bytes(0x200, 1),
      ...memory.bytes(0x300, 46),
    ]),
    input,
  );
  // More input than the chain holds: it takes what fits.
  const long = pattern(200, 6);
  assert.equal(fillReceiveChain(memory, chain([], writable), long, log.scoped("rx")), 104);
  assert.deepEqual(memory.bytes(0x300, 100), long.subarray(4, 104));
  assert.equal(log.entries.length, 0);
});

Deno.test("fillReceiveChain: device-readable buffers are 5.3.6.1/1, nothing written; buffers outside RAM stop the fill", () => {
  const memory = new GuestMemory(1 << 16);
  const log = new ConformanceLog();
  memory.fill(0x100, 64, 0xaa);
  const bad = chain([{ addr: 0x400, len: 8 }], [{ addr: 0x100, len: 64 }]);
  assert.equal(fillReceiveChain(memory, bad, pattern(10, 1), log.scoped("rx")), -1);
  assert.deepEqual([...new Set(memory.bytes(0x100, 64))], [0xaa]);
  assert.deepEqual(log.entries.map((v) => [v.id, v.role]), [["5.3.6.1/1", "driver"]]);
  const outside = chain([], [{ addr: 0x100, len: 4 }, { addr: 1 << 16, len: 8 }]);
  assert.equal(fillReceiveChain(memory, outside, pattern(10, 1), log.scoped("rx")), 4);
  assert.equal(log.entries[1].id, "2.7.5/D2");
});

function rxQueue(size = 8, eventIdx = false) {
  const memory = new GuestMemory(1 << 18);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 0, size, eventIdx, indirect: false };
  const queue = SplitQueueDriver.create<number>({
    ...common,
    allocator,
    reporter: log.scoped("rx"),
  });
  const device = new SplitQueueDevice({
    ...common,
    ...queue.addresses,
    reporter: log.scoped("dev"),
  });
  return { memory, allocator, log, queue, device };
}

Deno.test("postReceiveBuffers: device-writable chains, published; no notification before DRIVER_OK (3.1.1/6)", () => {
  const { allocator, queue, device, log } = rxQueue();
  const buffers = [allocator.alloc(64), allocator.alloc(64), allocator.alloc(64)];
  assert.equal(postReceiveBuffers(queue, buffers, 64, false), false, "probe: never kick");
  assert.equal(queue.inFlight, 3);
  for (const addr of buffers) {
    const popped = device.pop()!;
    assert.deepEqual(popped.readable, []);
    assert.deepEqual(
      popped.writable,
      [{ addr, len: 64 }],
      "one device-writable buffer (5.3.6.1/1)",
    );
  }
  // After DRIVER_OK the queue's own answer stands.
  assert.equal(postReceiveBuffers(queue, [allocator.alloc(64)], 64, true), true);
  device.disableNotifications();
  assert.equal(
    postReceiveBuffers(queue, [allocator.alloc(64)], 64, true),
    false,
    "VIRTQ_USED_F_NO_NOTIFY honoured",
  );
  assert.equal(postReceiveBuffers(queue, [], 64, true), false, "nothing posted, nothing to say");
  assert.equal(log.entries.length, 0);
});

Deno.test("receivedBytes: a copy of len bytes; a len past the buffer is reported and cut (CVE-2021-38160)", () => {
  const memory = new GuestMemory(4096);
  const log = new ConformanceLog();
  memory.write(0x100, pattern(32, 7));
  const bytes = receivedBytes(memory, 0x100, 32, 10, log.scoped("rx"));
  assert.deepEqual(bytes, pattern(32, 7).subarray(0, 10));
  memory.fill(0x100, 32, 0);
  assert.deepEqual(
    bytes,
    pattern(32, 7).subarray(0, 10),
    "a copy: the buffer goes back to the device",
  );
  assert.equal(log.entries.length, 0);
  const clamped = receivedBytes(memory, 0x100, 32, 0xffff_ffff, log.scoped("rx"));
  assert.equal(clamped.length, 32, "never more than the posted buffer");
  assert.deepEqual(log.entries.map((v) => [v.id, v.role, v.values.len]), [
    ["2.7.8.2/2", "device", 0xffff_ffff],
  ]);
  assert.equal(receivedBytes(memory, 0x100, 32, 0, log.scoped("rx")).length, 0);
});

// --------------------------------------------------------------- transmit

Deno.test("takeTransmitChain: streams the chain across descriptors in pieces no larger than the chunk", () => {
  const memory = new GuestMemory(1 << 16);
  const log = new ConformanceLog();
  const data = pattern(1000, 9);
  memory.write(0x1000, data.subarray(0, 1));
  memory.write(0x2000, data.subarray(1, 600));
  memory.write(0x3000, data.subarray(600));
  const c = chain([{ addr: 0x1000, len: 1 }, { addr: 0x2000, len: 599 }, {
    addr: 0x3000,
    len: 400,
  }], []);
  const cursor = { segment: 0, offset: 0 };
  const chunk = new Uint8Array(256);
  const got: number[] = [];
  for (let n = takeTransmitChain(memory, c, cursor, chunk, log.scoped("tx")); n > 0;) {
    assert.ok(n <= 256);
    got.push(...chunk.subarray(0, n));
    n = takeTransmitChain(memory, c, cursor, chunk, log.scoped("tx"));
  }
  assert.deepEqual(new Uint8Array(got), data);
  assert.deepEqual(cursor, { segment: 3, offset: 0 });
  assert.equal(takeTransmitChain(memory, c, cursor, chunk, log.scoped("tx")), 0, "done stays done");
  assert.equal(log.entries.length, 0);
});

Deno.test("takeTransmitChain: device-writable buffers are 5.3.6.1/2, reported once, nothing read", () => {
  const memory = new GuestMemory(4096);
  const log = new ConformanceLog();
  const c = chain([{ addr: 0x100, len: 4 }], [{ addr: 0x200, len: 4 }]);
  const cursor = { segment: 0, offset: 0 };
  assert.equal(takeTransmitChain(memory, c, cursor, new Uint8Array(8), log.scoped("tx")), -1);
  assert.deepEqual(log.entries.map((v) => v.id), ["5.3.6.1/2"]);
  assert.deepEqual(cursor, { segment: 0, offset: 0 });
  // A buffer outside RAM ends the chain (2.7.5/D2).
  const outside = chain([{ addr: 0x100, len: 4 }, { addr: 8192, len: 200 }], []);
  const dest = new Uint8Array(64);
  assert.equal(
    takeTransmitChain(memory, outside, { segment: 0, offset: 0 }, dest, log.scoped("tx")),
    4,
  );
  assert.equal(log.entries[1].id, "2.7.5/D2");
});

/** Guest memory that counts the bytes handed out through `bytes()` (how data is read). */
class CountingMemory extends GuestMemory {
  handedOut = 0;
  override bytes(address: number, length: number): Uint8Array {
    this.handedOut += length;
    return super.bytes(address, length);
  }
}

Deno.test("takeTransmitChain: a chain that claims 4 GiB over the same 16 MiB costs only the chunk taken", () => {
  const memory = new CountingMemory(16 * 1024 * 1024 + 4096);
  const readable = Array.from({ length: 256 }, () => ({ addr: 4096, len: 16 * 1024 * 1024 }));
  const c = chain(readable, []);
  assert.equal(c.readableLength, 2 ** 32);
  const cursor = { segment: 0, offset: 0 };
  const chunk = new Uint8Array(65536);
  assert.equal(
    takeTransmitChain(memory, c, cursor, chunk, new ConformanceLog().scoped("tx")),
    65536,
  );
  assert.equal(memory.handedOut, 65536, "one chunk read, not 4 GiB");
  assert.deepEqual(cursor, { segment: 0, offset: 65536 });
});

Deno.test("transmitChunks: pieces of at most chunkSize, none empty, views of the data", () => {
  const data = pattern(10_000, 2);
  const chunks = transmitChunks(data, 4096);
  assert.deepEqual(chunks.map((c) => c.length), [4096, 4096, 1808]);
  assert.ok(chunks.every((c) => c.buffer === data.buffer), "no copy");
  assert.deepEqual(new Uint8Array(chunks.flatMap((c) => [...c])), data);
  assert.deepEqual(transmitChunks(new Uint8Array(0), 16), []);
  assert.deepEqual(transmitChunks(data.subarray(0, 5), 1).map((c) => c.length), [1, 1, 1, 1, 1]);
  for (const bad of [0, -1, 1.5]) assert.throws(() => transmitChunks(data, bad), RangeError);
});

// ----------------------------------------------------------------- config

Deno.test("consoleConfigSpace and emergencyWriteByte: cols, rows, max_nr_ports 1; only emerg_wr takes writes", () => {
  const bytes = consoleConfigSpace({ cols: 132, rows: 43 });
  assert.equal(bytes.length, VIRTIO_CONSOLE_CONFIG_SIZE);
  const view = new DataView(bytes.buffer);
  assert.deepEqual([view.getUint16(0, true), view.getUint16(2, true)], [132, 43]);
  assert.equal(view.getUint32(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, true), 1);
  assert.equal(view.getUint32(VIRTIO_CONSOLE_CONFIG_EMERG_WR, true), 0);
  assert.deepEqual([...consoleConfigSpace(null).subarray(0, 4)], [0, 0, 0, 0]);
  assert.throws(() => consoleConfigSpace({ cols: 65536, rows: 1 }), RangeError);
  assert.equal(
    emergencyWriteByte(VIRTIO_CONSOLE_CONFIG_EMERG_WR, 0x1234_5641),
    0x41,
    "low byte (5.3.5.1/2)",
  );
  for (const offset of [0, 2, 4, 9]) assert.equal(emergencyWriteByte(offset, 0x41), -1);
});

Deno.test("readConsoleSize: cols and rows as 16-bit reads inside the generation loop", () => {
  const reads: string[] = [];
  let passes = 0;
  const size = readConsoleSize({
    readConfig(offset: number, width: AccessWidth) {
      reads.push(`${offset}/${width}`);
      return offset === 0 ? 80 : 25;
    },
    readConfigConsistent<R>(read: () => R): R {
      passes++;
      return read();
    },
  });
  assert.deepEqual(size, { cols: 80, rows: 25 });
  assert.deepEqual(reads, ["0/2", "2/2"]);
  assert.equal(passes, 1);
});

// ------------------------------------------------------ device and driver

Deno.test("console device: a 4 GiB transmit chain is streamed a chunk at a time and stops at a reset", async () => {
  // A backend that holds every write until the test lets it go.
  class GatedBackend extends MemoryConsoleBackend {
    sizes: number[] = [];
    #release: (() => void)[] = [];
    override async write(bytes: Uint8Array): Promise<void> {
      this.sizes.push(bytes.length);
      await new Promise<void>((resolve) => this.#release.push(resolve));
      return super.write(bytes);
    }
    releaseAll(): void {
      for (const release of this.#release.splice(0)) release();
    }
  }
  const backend = new GatedBackend();
  const device = new VirtioConsoleDevice(backend, { transmitChunkBytes: 65536 });
  const { driver: raw, deviceTransport, settle } = await buildRawStack(device, 2, {
    memorySize: 20 * 1024 * 1024,
  });
  const big = raw.alloc(16 * 1024 * 1024, 0x5a);
  const readable = Array.from({ length: 256 }, () => ({ addr: big, len: 16 * 1024 * 1024 }));
  void raw.post(1, readable, []);
  await until(() => backend.sizes.length === 1, "the first backend write");
  assert.deepEqual(backend.sizes, [65536], "a chunk, not the chain");
  assert.equal(device.stats.bytesOut, 65536);
  backend.releaseAll();
  await until(() => backend.sizes.length === 2, "the second chunk");
  deviceTransport.write(VIRTIO_MMIO_STATUS, 4, 0); // a device reset
  backend.releaseAll();
  await settle();
  await until(() => device.stats.staleCompletions === 1, "the stale chain");
  assert.equal(backend.sizes.length, 2, "nothing more is read after the reset");
  assert.equal(backend.output.length, 2 * 65536);
});

Deno.test("console device: the device runs through its parts and uses what they return", async () => {
  const backend = new MemoryConsoleBackend();
  const seen: number[] = [];
  const device = new VirtioConsoleDevice(backend, {
    parts: {
      // Hand the driver every input byte upper-cased.
      fillReceiveChain(memory, c, input, reporter) {
        seen.push(input.length);
        const upper = input.map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b));
        return REFERENCE_CONSOLE_DEVICE_PARTS.fillReceiveChain(memory, c, upper, reporter);
      },
      emergencyWriteByte: (offset, value) =>
        REFERENCE_CONSOLE_DEVICE_PARTS.emergencyWriteByte(offset, value) === -1 ? -1 : 0x3f,
    },
  });
  const driver = new VirtioConsoleDriver();
  const { shutdown } = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  backend.input("hello");
  const reader = driver.readable.getReader();
  assert.equal(new TextDecoder().decode(await readBytes(reader, 5)), "HELLO");
  reader.releaseLock();
  assert.deepEqual(seen, [5]);
  driver.emergencyWrite(0x41);
  await backend.waitForOutput(1);
  assert.equal(backend.outputText, "?");
  shutdown();
});

Deno.test("console driver: what postReceiveBuffers answers is what the driver does (3.1.1/6)", async () => {
  // A part that forgets DRIVER_OK: the driver notifies during probe, and the
  // device sees an available buffer notification before DRIVER_OK.
  const eager = new VirtioConsoleDriver({
    parts: {
      postReceiveBuffers: (queue, buffers, size) => {
        REFERENCE_CONSOLE_DRIVER_PARTS.postReceiveBuffers(queue, buffers, size, true);
        return true;
      },
    },
  });
  const early = await buildStack(
    new VirtioConsoleDevice(new MemoryConsoleBackend()),
    registration(eager),
  );
  assert.deepEqual(early.log.entries.map((v) => v.id), ["3.1.1/6"]);
  early.shutdown();
  // The reference waits: no violation, and one notification, at DRIVER_OK.
  const device = new VirtioConsoleDevice(new MemoryConsoleBackend());
  const driver = new VirtioConsoleDriver();
  const stack = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  assert.equal(stack.log.entries.length, 0, stack.log.format());
  assert.equal(stack.deviceTransport.queueStats()[0].notifications, 1);
  stack.shutdown();
});

Deno.test("console driver: one small receive buffer is refilled and kicked until all input arrived (Firecracker #293)", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const driver = new VirtioConsoleDriver({ receiveBuffers: 1, receiveBufferSize: 7 });
  const { shutdown, log } = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  const data = pattern(5000, 17);
  backend.input(data);
  const reader = driver.readable.getReader();
  assert.deepEqual(await readBytes(reader, data.length), data);
  reader.releaseLock();
  assert.ok(device.stats.receiveChains >= Math.ceil(5000 / 7));
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console driver: write() goes through transmitChunks", async () => {
  const backend = new MemoryConsoleBackend();
  const driver = new VirtioConsoleDriver({
    parts: { transmitChunks: (data) => REFERENCE_CONSOLE_DRIVER_PARTS.transmitChunks(data, 3) },
  });
  const device = new VirtioConsoleDevice(backend);
  const { shutdown } = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  await driver.write("abcdefgh");
  assert.equal(backend.outputText, "abcdefgh");
  assert.equal(device.stats.transmitChains, 3, "3 + 3 + 2 bytes");
  shutdown();
});

Deno.test("postTransmitBuffer: one device-readable buffer, its token back (5.3.6.1/2)", () => {
  const memory = new GuestMemory(1 << 16);
  const allocator = new GuestAllocator(memory);
  const log = new ConformanceLog();
  const common = { memory, index: 1, size: 4, eventIdx: false, indirect: false };
  const driver = SplitQueueDriver.create<string>({
    ...common,
    allocator,
    reporter: log.scoped("d"),
  });
  const device = new SplitQueueDevice(
    { ...common, ...driver.addresses, reporter: log.scoped("dev") },
    () => {},
  );
  const addr = allocator.alloc(5);
  postTransmitBuffer(driver, addr, 5, "hello");
  driver.kickPrepare();
  const popped = device.pop()!;
  assert.deepEqual([popped.readable, popped.writable], [[{ addr, len: 5 }], []]);
  device.push(popped.head, 0);
  assert.deepEqual(driver.getBuf(), { token: "hello", len: 0 });
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console driver: transmit chains are placed by postTransmitBuffer", async () => {
  const backend = new MemoryConsoleBackend();
  const placed: number[] = [];
  const driver = new VirtioConsoleDriver({
    transmitChunkSize: 4,
    parts: {
      postTransmitBuffer: (queue, addr, len, token) => {
        placed.push(len);
        REFERENCE_CONSOLE_DRIVER_PARTS.postTransmitBuffer(queue, addr, len, token);
      },
    },
  });
  const device = new VirtioConsoleDevice(backend);
  const { shutdown } = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  await driver.write("abcdefghij");
  assert.equal(backend.outputText, "abcdefghij");
  assert.deepEqual(placed, [4, 4, 2]);
  shutdown();
});

Deno.test("console device: a fillReceiveChain that throws on late input asks for a reset, no unhandled rejection", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend, {
    parts: {
      fillReceiveChain: () => {
        throw new TypeError("learner's fill crashed");
      },
    },
  });
  const driver = new VirtioConsoleDriver();
  const { deviceTransport, settle, shutdown } = await buildStack<VirtioConsoleDriver>(
    device,
    registration(driver),
  );
  backend.input("late"); // arrives through a pending backend read: a promise reaction
  await until(() => deviceTransport.needsResetReason !== "", "the reset request");
  assert.match(deviceTransport.needsResetReason, /learner's fill crashed/);
  await settle();
  shutdown();
});
