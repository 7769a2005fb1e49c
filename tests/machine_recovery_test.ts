// DEVICE_NEEDS_RESET on the whole machine: every request settles with an
// error that says why, and `recover()` brings the device back.
import assert from "node:assert/strict";
import { createMachine } from "../machine.ts";
import { MemoryBlockBackend } from "../devices/blk/backends.ts";
import { BlockDriverError, VirtioBlockDriver } from "../devices/blk/driver.ts";
import { ConsoleDriverError } from "../devices/console/driver.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import { VIRTIO_CONFIG_S_NEEDS_RESET } from "../virtio/status.ts";

const SECTORS = 2048;

/** A disk whose reads wait while `hold` is set: a request stays in flight as long as a test needs. */
class GatedDisk extends MemoryBlockBackend {
  hold = false;
  readonly #waiting: (() => void)[] = [];
  constructor() {
    const bytes = new Uint8Array(SECTORS * 512);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff;
    super(bytes);
  }
  override async read(offset: number, dest: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.hold) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return super.read(offset, dest, signal);
  }
  release(): void {
    this.hold = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** How a promise ended, within `ms` milliseconds: "resolved", the error, or "pending". */
async function settled(promise: Promise<unknown>, ms = 500): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
  try {
    return await Promise.race([promise.then(() => "resolved", (error) => error), pending]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("needs reset: a block request in flight and every later one fail with 'needs-reset'; recover() serves the disk again", async () => {
  const disk = new GatedDisk();
  const machine = await createMachine({ disk });
  try {
    const driver = machine.blk.driver!;
    const expected = await driver.read(5, 2);
    disk.hold = true;
    const inFlight = driver.read(5, 2);
    await machine.idle();
    machine.blk.transport.markNeedsReset("the test broke the device");
    await machine.idle();
    const error = await settled(inFlight);
    assert.ok(error instanceof BlockDriverError, String(error));
    assert.equal(error.code, "needs-reset");
    assert.match(error.message, /DEVICE_NEEDS_RESET/);
    const later = await settled(driver.read(0, 1));
    assert.ok(later instanceof BlockDriverError && later.code === "needs-reset", String(later));
    assert.equal(machine.blk.driverTransport.state, "needs-reset");
    assert.ok(machine.blk.transport.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    assert.equal(machine.blk.transport.configInterrupts, 1);

    disk.release(); // the device finishes its backend read, and must not complete it
    const features = machine.blk.driverTransport.features;
    assert.equal(await machine.blk.recover(), true);
    assert.equal(machine.blk.driverTransport.state, "live");
    assert.equal(machine.blk.driverTransport.features, features, "the same features (2.2.2/3)");
    assert.equal(machine.blk.transport.needsResetReason, "");
    assert.deepEqual(await driver.read(5, 2), expected);
    await driver.write(9, new Uint8Array(512).fill(0x5a));
    assert.deepEqual(await driver.read(9, 1), new Uint8Array(512).fill(0x5a));
    assert.equal(await machine.blk.recover(), false, "nothing to recover from any more");
    assert.deepEqual(machine.log.entries.map((e) => e.id), []);
  } finally {
    disk.release();
    await machine.close();
  }
});

Deno.test("needs reset: a request made while recovery runs waits for the new bring-up", async () => {
  const machine = await createMachine();
  try {
    const driver = machine.blk.driver!;
    machine.blk.transport.markNeedsReset("broken on purpose");
    await machine.idle();
    const recovery = machine.blk.recover();
    const during = driver.read(2, 1);
    assert.equal(await recovery, true);
    const text = new TextDecoder().decode(await during);
    assert.match(text, /^Hello from sector 2!/);
  } finally {
    await machine.close();
  }
});

Deno.test("needs reset: recover() after FAILED resets first (2.1.1/3); with no reset asked for it touches nothing", async () => {
  const machine = await createMachine();
  try {
    const writes: number[] = [];
    const window = machine.blk.driverTransport.window;
    const write32 = window.write32.bind(window);
    window.write32 = (offset, value) => {
      writes.push(offset);
      write32(offset, value);
    };
    assert.equal(await machine.blk.recover(), false);
    assert.deepEqual(writes, [], "a live device is not touched");
    machine.blk.driverTransport.fail("the test gave up");
    assert.equal(await machine.blk.recover(), true);
    const text = new TextDecoder().decode(await machine.blk.driver!.read(2, 1));
    assert.match(text, /^Hello from sector 2!/);
  } finally {
    await machine.close();
  }
});

Deno.test("needs reset: console writes fail with 'needs-reset' instead of waiting; recover() makes the console carry bytes again", async () => {
  const backend = new MemoryConsoleBackend();
  const machine = await createMachine({ console: backend });
  try {
    const driver = machine.console.driver!;
    await driver.write("before\n");
    machine.console.transport.markNeedsReset("broken on purpose");
    await machine.idle();
    const error = await settled(driver.write("lost\n"));
    assert.ok(error instanceof ConsoleDriverError && error.code === "needs-reset", String(error));
    assert.equal(await machine.console.recover(), true);
    await driver.write("after\n");
    assert.match(new TextDecoder().decode(backend.output), /before\n(.|\n)*after\n$/);
    backend.input("typed\n");
    const reader = driver.readable.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    assert.equal(new TextDecoder().decode(value), "typed\n");
  } finally {
    await machine.close();
  }
});

Deno.test("a driver whose bring-up failed is null on the machine, and its requests settle", async () => {
  const failing = await createMachine({
    parts: {
      transport: {
        driver: {
          setupQueue: () => {
            throw new Error("no queue today");
          },
        },
      },
    },
  });
  try {
    assert.equal(failing.blk.driver, null);
    assert.match(failing.blk.error, /no queue today/);
    assert.equal(failing.blk.driverTransport.state, "failed");
    const driverSeen = failing.blk.driverTransport.driver;
    assert.ok(
      driverSeen instanceof VirtioBlockDriver,
      "the transport remembers the driver it tried",
    );
    const error = await settled(driverSeen.read(0, 1));
    assert.ok(error instanceof BlockDriverError && error.code === "removed", String(error));
    await assert.rejects(failing.blk.recover(), /no driver is bound \(no queue today\)/);
  } finally {
    await failing.close();
  }
});
