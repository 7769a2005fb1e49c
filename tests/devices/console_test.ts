import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MemoryConsoleBackend,
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VirtioConsoleDevice,
  VirtioConsoleDriver,
} from "../../devices/mod.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER } from "../../virtio/status.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_QUEUE_RESET,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_STATUS,
} from "../../transport/mmio_registers.ts";
import { VIRTQ_USED_IDX_OFFSET } from "../../virtqueue/layout.ts";
import type { SplitQueueDevice } from "../../virtqueue/device_queue.ts";
import {
  buildMachine,
  buildRawStack,
  buildStack,
  pattern,
  readBytes,
  registration,
  until,
  WINDOW,
} from "./_stack.ts";

const decoder = new TextDecoder();

async function consoleStack(
  backend: MemoryConsoleBackend,
  driver = new VirtioConsoleDriver(),
) {
  const device = new VirtioConsoleDevice(backend);
  const stack = await buildStack<VirtioConsoleDriver>(device, registration(driver));
  return { device, ...stack };
}

/** A memory backend whose writes wait until the test opens the gate. */
class GatedConsoleBackend extends MemoryConsoleBackend {
  #open: () => void = () => {};
  #gate: Promise<void> = new Promise((resolve) => (this.#open = resolve));
  writesStarted = 0;

  override async write(bytes: Uint8Array): Promise<void> {
    this.writesStarted++;
    await this.#gate;
    return super.write(bytes);
  }

  open(): void {
    this.#open();
  }
}

Deno.test("console: features offered and negotiated; size only when the backend has one", async () => {
  const sized = await consoleStack(new MemoryConsoleBackend({ size: { cols: 132, rows: 43 } }));
  const offered = sized.device.deviceFeatures;
  assert.equal(
    offered,
    features(
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_RING_RESET,
      VIRTIO_CONSOLE_F_EMERG_WRITE,
      VIRTIO_CONSOLE_F_SIZE,
    ),
  );
  const negotiated = sized.deviceTransport.negotiatedFeatures;
  assert.equal(
    negotiated,
    features(
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_CONSOLE_F_EMERG_WRITE,
      VIRTIO_CONSOLE_F_SIZE,
    ),
  );
  assert.equal(hasFeature(negotiated, VIRTIO_CONSOLE_F_MULTIPORT), false);
  assert.deepEqual(sized.driver.size, { cols: 132, rows: 43 });
  assert.equal(sized.driver.canEmergencyWrite, true);
  sized.shutdown();

  const unsized = await consoleStack(new MemoryConsoleBackend());
  assert.equal(hasFeature(unsized.device.deviceFeatures, VIRTIO_CONSOLE_F_SIZE), false);
  assert.equal(unsized.driver.size, null);
  unsized.shutdown();
  assert.equal(sized.log.entries.length + unsized.log.entries.length, 0);
});

Deno.test("console: typed input arrives on the readable stream in order", async () => {
  const backend = new MemoryConsoleBackend();
  const { driver, log, shutdown } = await consoleStack(backend);
  const reader = driver.readable.getReader();
  backend.input("ls -l\n");
  backend.input("echo hi\n");
  assert.equal(decoder.decode(await readBytes(reader, 14)), "ls -l\necho hi\n");
  reader.releaseLock();
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: more input than the posted buffers hold arrives whole and in order", async () => {
  const backend = new MemoryConsoleBackend();
  const driver = new VirtioConsoleDriver({ receiveBuffers: 4, receiveBufferSize: 64 });
  const { device, log, shutdown } = await consoleStack(backend, driver);
  const data = pattern(50_000, 7);
  // Chunks of uneven sizes, some bigger than all posted buffers together (256 bytes).
  for (let at = 0, n = 1; at < data.length; at += n, n = (n * 7 + 13) % 1500 + 1) {
    backend.input(data.subarray(at, Math.min(at + n, data.length)));
  }
  const reader = driver.readable.getReader();
  const got = await readBytes(reader, data.length);
  assert.deepEqual(got, data);
  assert.equal(device.stats.bytesIn, data.length);
  assert.ok(device.stats.receiveChains >= data.length / 64);
  reader.releaseLock();
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: property: any chunking of input arrives unchanged", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 700 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 300 }),
      async (chunks, buffers, size) => {
        const backend = new MemoryConsoleBackend();
        const driver = new VirtioConsoleDriver({
          receiveBuffers: buffers,
          receiveBufferSize: size,
        });
        const { shutdown, log } = await consoleStack(backend, driver);
        const total = chunks.reduce((n, c) => n + c.length, 0);
        for (const chunk of chunks) backend.input(chunk);
        const reader = driver.readable.getReader();
        const got = await readBytes(reader, total);
        const expected = new Uint8Array(total);
        let at = 0;
        for (const chunk of chunks) {
          expected.set(chunk, at);
          at += chunk.length;
        }
        assert.deepEqual(got, expected);
        reader.releaseLock();
        shutdown();
        assert.equal(log.entries.length, 0);
      },
    ),
    { numRuns: 25 },
  );
});

Deno.test("console: a reader that does not read stops the device from reading its backend", async () => {
  const backend = new MemoryConsoleBackend();
  const driver = new VirtioConsoleDriver({
    receiveBuffers: 4,
    receiveBufferSize: 64,
    readableHighWaterMark: 256,
  });
  const { device, settle, shutdown } = await consoleStack(backend, driver);
  const data = pattern(100_000, 3);
  for (let at = 0; at < data.length; at += 1000) backend.input(data.subarray(at, at + 1000));
  await settle();
  await settle();
  // Nobody reads the stream: the driver parks buffers once 256 bytes wait,
  // the device runs out of buffers and leaves the input in the backend.
  const delivered = device.stats.bytesIn;
  assert.ok(delivered > 0 && delivered <= 1024, `delivered ${delivered}`);
  assert.ok(backend.pendingInput >= data.length - 2000, `pending ${backend.pendingInput}`);
  const reader = driver.readable.getReader();
  assert.deepEqual(await readBytes(reader, data.length), data);
  reader.releaseLock();
  shutdown();
});

Deno.test("console: the device pulls input only while a receive buffer is available", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const { driver: raw, memory, settle } = await buildRawStack(device, 2);
  backend.input(new Uint8Array(64).fill(0x41));
  backend.input(new Uint8Array(64).fill(0x42));
  const first = raw.alloc(64);
  assert.deepEqual(await raw.post(0, [], [{ addr: first, len: 64 }]), { token: 1, len: 64 });
  await settle();
  // The only buffer is full: the second chunk must still be in the backend.
  assert.equal(backend.pendingInput, 64);
  assert.equal(backend.readPending, false);
  const second = raw.alloc(64);
  assert.deepEqual(await raw.post(0, [], [{ addr: second, len: 64 }]), { token: 2, len: 64 });
  assert.deepEqual([...new Set(memory.bytes(first, 64))], [0x41]);
  assert.deepEqual([...new Set(memory.bytes(second, 64))], [0x42]);
  assert.equal(backend.pendingInput, 0);
  // No buffer left: the device is not even waiting on the backend.
  await settle();
  assert.equal(backend.readPending, false);
});

Deno.test("console: writes reach the backend whole and in call order", async () => {
  const backend = new MemoryConsoleBackend();
  const { driver, device, log, shutdown } = await consoleStack(
    backend,
    new VirtioConsoleDriver({ transmitChunkSize: 1000, maxTransmitInFlight: 3 }),
  );
  const big = pattern(20_000, 9);
  const writes = [driver.write("first "), driver.write(big), driver.write(" last")];
  await Promise.all(writes);
  const expected = new Uint8Array([
    ...new TextEncoder().encode("first "),
    ...big,
    ...new TextEncoder().encode(" last"),
  ]);
  assert.deepEqual(backend.output, expected);
  assert.equal(device.stats.bytesOut, expected.length);
  assert.equal(device.stats.transmitChains, 2 + 20);
  assert.equal(driver.stats.bytesSent, expected.length);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: the device suppresses transmitq notifications while it streams, and misses no chain (§2.7.10, 2.7.10/D1)", async () => {
  const backend = new GatedConsoleBackend();
  const { driver, device, deviceTransport, log, shutdown } = await consoleStack(backend);
  const first = driver.write("first ");
  await until(() => backend.writesStarted === 1, "the device to start streaming");
  // Busy: the device asked for no notifications (VIRTQ_USED_F_NO_NOTIFY, or
  // avail_event with VIRTIO_F_EVENT_IDX), so the writes below are published
  // without one.
  const txq = deviceTransport.liveQueue(1) as SplitQueueDevice;
  assert.equal(txq.ring.notifications, false);
  const later = Array.from({ length: 20 }, (_, i) => driver.write(`line ${i}\n`));
  backend.open();
  await Promise.all([first, ...later]);
  const expected = "first " + Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join("");
  assert.equal(backend.outputText, expected);
  const stats = deviceTransport.queueStats()[1];
  assert.ok(
    stats.notifications < device.stats.transmitChains,
    `${stats.notifications} notification(s) for ${device.stats.transmitChains} chains`,
  );
  // Idle again: notifications are back on, and a new write is notified.
  await until(() => txq.ring.notifications, "the device to re-enable notifications");
  await driver.write("again");
  assert.equal(deviceTransport.queueStats()[1].notifications, stats.notifications + 1);
  assert.equal(backend.outputText, expected + "again");
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: a write resolves only once the backend took the bytes", async () => {
  const backend = new GatedConsoleBackend();
  const { driver, shutdown } = await consoleStack(backend);
  let resolved = false;
  const write = driver.write("slow").then(() => (resolved = true));
  await until(() => backend.writesStarted === 1, "the device to start the backend write");
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(resolved, false);
  backend.open();
  await write;
  assert.equal(backend.outputText, "slow");
  shutdown();
});

Deno.test("console: emerg_wr reaches the backend before DRIVER_OK, at any time (5.3.5.1)", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const { bus, log } = buildMachine(device);
  const emergWr = WINDOW + VIRTIO_MMIO_CONFIG + VIRTIO_CONSOLE_CONFIG_EMERG_WR;
  // Status 0: the device is not even acknowledged.
  bus.write32(emergWr, 0x4f); // "O"
  // During feature negotiation (DRIVER set, FEATURES_OK not yet).
  bus.write32(WINDOW + VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  bus.write32(WINDOW + VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
  bus.write32(emergWr, 0x1234_4b); // only the low byte counts: "K"
  await backend.waitForOutput(2);
  assert.equal(backend.outputText, "OK");
  assert.equal(device.stats.emergencyBytes, 2);
  assert.equal(bus.read32(emergWr), 0);
  // Only the rule that the driver read MagicValue before setting status is at stake here.
  assert.deepEqual(log.entries.map((v) => v.id), ["4.2.3.1.1/1"]);
});

Deno.test("console: the driver's emergencyWrite goes through emerg_wr, in order with queued output", async () => {
  const backend = new MemoryConsoleBackend();
  const { driver, log, shutdown } = await consoleStack(backend);
  await driver.write("a");
  driver.emergencyWrite(0x21);
  await driver.write("b");
  assert.equal(backend.outputText, "a!b");
  assert.throws(() => driver.emergencyWrite(256), RangeError);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: resize raises a configuration change and the driver sees the new size", async () => {
  const backend = new MemoryConsoleBackend({ size: { cols: 80, rows: 25 } });
  const { driver, deviceTransport, settle, shutdown, log } = await consoleStack(backend);
  const sizes: { cols: number; rows: number }[] = [];
  driver.onResize((s) => sizes.push(s));
  const generation = deviceTransport.configGeneration;
  const configInterrupts = deviceTransport.configInterrupts;
  backend.resize(200, 60);
  await settle();
  assert.deepEqual(driver.size, { cols: 200, rows: 60 });
  assert.deepEqual(sizes, [{ cols: 200, rows: 60 }]);
  assert.equal(deviceTransport.configGeneration, generation + 1);
  assert.equal(deviceTransport.configInterrupts, configInterrupts + 1);
  shutdown();
  assert.equal(log.entries.length, 0, log.format());
});

Deno.test("console: a device-readable buffer in the receiveq is logged as 5.3.6.1/1 and returned unused", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const { driver: raw, log, memory } = await buildRawStack(device, 2);
  const bad = raw.alloc(16, 0xaa);
  const badUsed = raw.post(0, [{ addr: bad, len: 16 }], []);
  backend.input("x");
  assert.deepEqual(await badUsed, { token: 1, len: 0 });
  const violations = log.find("5.3.6.1/1");
  assert.equal(violations.length, 1);
  assert.equal(violations[0].role, "driver");
  assert.equal(violations[0].values.readable, 16);
  assert.deepEqual([...memory.bytes(bad, 16)], new Array(16).fill(0xaa));
  // A proper buffer gets the byte that was waiting.
  const good = raw.alloc(8);
  assert.deepEqual(await raw.post(0, [], [{ addr: good, len: 8 }]), { token: 2, len: 1 });
  assert.equal(memory.readU8(good), 0x78);
  assert.equal(device.stats.rejectedChains, 1);
});

Deno.test("console: a device-writable buffer in the transmitq is logged as 5.3.6.1/2 and nothing is sent", async () => {
  const backend = new MemoryConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const { driver: raw, log, memory } = await buildRawStack(device, 2);
  const text = raw.alloc(2);
  memory.write(text, new TextEncoder().encode("hi"));
  const writable = raw.alloc(8, 0x55);
  const used = await raw.post(1, [{ addr: text, len: 2 }], [{ addr: writable, len: 8 }]);
  assert.equal(used.len, 0);
  assert.deepEqual(log.find("5.3.6.1/2").map((v) => v.values.writable), [8]);
  assert.deepEqual([...memory.bytes(writable, 8)], new Array(8).fill(0x55));
  assert.equal(backend.output.length, 0);
  // A proper chain goes out.
  assert.equal((await raw.post(1, [{ addr: text, len: 2 }], [])).len, 0);
  assert.equal(backend.outputText, "hi");
});

Deno.test("console: a device reset makes transmit completions in flight inert", async () => {
  const backend = new GatedConsoleBackend();
  const { driver, driverTransport, device, memory, allocator, shutdown } = await consoleStack(
    backend,
  );
  const txq = driverTransport.queues.get(1)!;
  const usedIdxAddr = txq.addresses.usedAddr + VIRTQ_USED_IDX_OFFSET;
  const write = driver.write("lost");
  await until(() => backend.writesStarted === 1, "the backend write to start");
  const usedIdxBefore = memory.readU16(usedIdxAddr);
  shutdown(); // driver.remove() then a device reset
  await assert.rejects(write, { name: "ConsoleDriverError", code: "removed" });
  backend.open();
  await until(() => device.stats.staleCompletions === 1, "the stale completion");
  assert.equal(memory.readU16(usedIdxAddr), usedIdxBefore);
  assert.equal(allocator.used, 0, "the driver and the transport freed all guest memory");
});

Deno.test("console: a queue reset (VIRTIO_F_RING_RESET) makes transmit completions of that queue inert", async () => {
  const backend = new GatedConsoleBackend();
  const device = new VirtioConsoleDevice(backend);
  const { driver: raw, bus, memory } = await buildRawStack(device, 2, {
    supported: features(VIRTIO_F_VERSION_1, VIRTIO_F_RING_RESET),
  });
  const text = raw.alloc(4);
  const usedIdxAddr = raw.queues[1].addresses.usedAddr + VIRTQ_USED_IDX_OFFSET;
  void raw.post(1, [{ addr: text, len: 4 }], []);
  await until(() => backend.writesStarted === 1, "the backend write to start");
  bus.write32(WINDOW + VIRTIO_MMIO_QUEUE_SEL, 1);
  bus.write32(WINDOW + VIRTIO_MMIO_QUEUE_RESET, 1);
  backend.open();
  await until(() => device.stats.staleCompletions === 1, "the stale completion");
  assert.equal(memory.readU16(usedIdxAddr), 0);
  assert.equal(backend.output.length, 4, "the bytes still went out");
});

Deno.test("console: close() finishes pending writes, ends the stream and refuses new writes", async () => {
  const backend = new MemoryConsoleBackend();
  const { driver, shutdown, allocator } = await consoleStack(backend);
  const reader = driver.readable.getReader();
  const pending = driver.write("bye");
  await driver.close();
  await pending;
  assert.equal(backend.outputText, "bye");
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
  await assert.rejects(driver.write("more"), { name: "ConsoleDriverError", code: "closed" });
  shutdown();
  assert.equal(allocator.used, 0);
});

Deno.test("console: the end of backend input stops reading; the async iterator yields everything", async () => {
  const backend = new MemoryConsoleBackend();
  const { driver, device, settle, shutdown } = await consoleStack(backend);
  backend.input("one ");
  backend.input("two");
  backend.endInput();
  await settle();
  assert.equal(device.stats.inputEnded, true);
  await driver.close();
  let text = "";
  for await (const chunk of driver) text += decoder.decode(chunk);
  assert.equal(text, "one two");
  shutdown();
});
