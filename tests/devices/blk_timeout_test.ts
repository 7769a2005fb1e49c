// The block driver's request timeout: a device that stops silently (never
// completes a request, never sets DEVICE_NEEDS_RESET) is given up after the
// timeout, every request settles with a BlockTimeoutError, and the watchdog
// timer does not outlive the requests it watches.

import assert from "node:assert/strict";
import {
  type BlockBackend,
  BlockTimeoutError,
  DEFAULT_BLOCK_REQUEST_TIMEOUT_MS,
  MemoryBlockBackend,
  VirtioBlockDevice,
  VirtioBlockDriver,
  type VirtioBlockDriverOptions,
} from "../../devices/mod.ts";
import { createMachine } from "../../machine.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { runShell } from "../../guest/shell.ts";
import { diskError } from "../../cli/disk.ts";
import { UserError } from "../../cli/errors.ts";
import { buildStack, registration } from "./_stack.ts";

/** A disk that answers until `stop()`, then takes requests and never finishes them. */
class StoppingBackend implements BlockBackend {
  readonly inner = new MemoryBlockBackend(64 * 1024);
  stopped = false;
  /** Operations taken after the stop, to finish later if a test wants. */
  readonly parked: (() => void)[] = [];
  /** Delay of each operation before the stop, in milliseconds (0: at once). */
  delayMs = 0;

  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return false;
  }
  stop(): void {
    this.stopped = true;
  }
  #op(run: () => Promise<void>): Promise<void> {
    if (this.stopped) {
      return new Promise((resolve, reject) => this.parked.push(() => run().then(resolve, reject)));
    }
    if (this.delayMs === 0) return run();
    return new Promise((resolve) => setTimeout(resolve, this.delayMs)).then(run);
  }
  read(offset: number, dest: Uint8Array): Promise<void> {
    return this.#op(() => this.inner.read(offset, dest));
  }
  write(offset: number, src: Uint8Array): Promise<void> {
    return this.#op(() => this.inner.write(offset, src));
  }
  flush(): Promise<void> {
    return this.#op(() => this.inner.flush());
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Counts the timers of one delay (the watchdog's period) that are pending:
 * started and neither fired nor cleared. Restores the globals on `restore()`.
 */
function watchTimers(delay: number) {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const pending = new Set<unknown>();
  let started = 0;
  const watched = (fn: () => void, ms?: number) => {
    if (ms !== delay) return realSet(fn, ms);
    started++;
    const id = realSet(() => {
      pending.delete(id);
      fn();
    }, ms);
    pending.add(id);
    return id;
  };
  globalThis.setTimeout = watched as typeof setTimeout;
  globalThis.clearTimeout = ((id?: Parameters<typeof clearTimeout>[0]) => {
    pending.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  return {
    get pending() {
      return pending.size;
    },
    get started() {
      return started;
    },
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

async function stack(backend: BlockBackend, options: VirtioBlockDriverOptions) {
  const device = new VirtioBlockDevice(backend, { queueSize: 8 });
  return await buildStack<VirtioBlockDriver>(
    device,
    registration(new VirtioBlockDriver(options)),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a device that stops answering: every request settles with BlockTimeoutError after the timeout", async () => {
  const backend = new StoppingBackend();
  const { driver, shutdown } = await stack(backend, { requestTimeoutMs: 120 });
  const timers = watchTimers(30);
  try {
    await driver.write(3, new Uint8Array(512).fill(7)); // the device works
    backend.stop();
    const started = performance.now();
    const requests = [
      driver.read(0, 4),
      driver.write(8, new Uint8Array(1024)),
      driver.flush(),
      // More than the 8 descriptors of the queue: some wait for a slot or for ring space.
      ...Array.from({ length: 12 }, (_, i) => driver.read(16 + i, 1)),
    ];
    const outcomes = await Promise.allSettled(requests);
    const elapsed = performance.now() - started;
    for (const [i, o] of outcomes.entries()) {
      assert.equal(o.status, "rejected", `request ${i} settled ${o.status}`);
      const error = (o as PromiseRejectedResult).reason;
      assert.ok(error instanceof BlockTimeoutError, `request ${i}: ${error}`);
      assert.equal(error.code, "timeout");
      assert.equal(error.timeoutMs, 120);
    }
    const first = (outcomes[0] as PromiseRejectedResult).reason as BlockTimeoutError;
    assert.equal(first.request, "read");
    assert.equal(first.sector, 0n);
    assert.equal(first.bytes, 2048);
    assert.match(
      first.message,
      /^Block device stopped answering: a read of 4 sector\(s\) at sector 0 was not completed within 120 ms; no request on it will complete until it is reset$/,
    );
    // One to 1.25 timeouts (and the timer's lateness on a busy machine).
    assert.ok(elapsed >= 119, `settled after ${elapsed} ms`);
    assert.ok(elapsed < 120 * 1.25 + 400, `settled after ${elapsed} ms`);
    // Later requests fail at once, with the same reason.
    await assert.rejects(driver.read(0, 1), (e) => e === first);
    assert.equal(driver.stats.inFlight, 0);
    assert.equal(timers.pending, 0, "the watchdog stopped when it gave up");
    // The device finishing its old requests later changes nothing and throws nothing.
    for (const run of backend.parked.splice(0)) run();
    await sleep(20);
  } finally {
    timers.restore();
    shutdown();
  }
});

Deno.test("a slow but working device is not given up: the timeout is per request, not per burst", async () => {
  const backend = new StoppingBackend();
  backend.delayMs = 15;
  const { driver, shutdown } = await stack(backend, { requestTimeoutMs: 80 });
  try {
    const until = performance.now() + 300; // several timeouts of back-to-back requests
    let n = 0;
    while (performance.now() < until) {
      await driver.write(n % 64, new Uint8Array(512).fill(n & 0xff));
      n++;
    }
    const data = await driver.read(0, 1);
    assert.ok(n > 4);
    assert.equal(data[0], (n - (n % 64 === 0 ? 64 : n % 64)) & 0xff);
  } finally {
    shutdown();
  }
});

Deno.test("the watchdog runs only while requests are in flight and is stopped by remove", async () => {
  const backend = new StoppingBackend();
  backend.delayMs = 5;
  const { driver, shutdown } = await stack(backend, { requestTimeoutMs: 200 });
  const timers = watchTimers(50);
  try {
    await driver.read(0, 1);
    assert.equal(timers.started, 1, "one watchdog round for the first request");
    await driver.read(1, 1);
    assert.equal(timers.started, 1, "the round still pending covers the next request");
    // A round with nothing in flight ends the watchdog.
    await sleep(80);
    assert.equal(timers.pending, 0);
    // remove() (shutdown) stops a pending round.
    backend.stop();
    const pending = driver.read(2, 1);
    assert.equal(timers.pending, 1);
    shutdown();
    assert.equal(timers.pending, 0);
    await assert.rejects(pending, { name: "BlockDriverError", code: "removed" });
  } finally {
    timers.restore();
  }
});

Deno.test("requestTimeoutMs: 30 s by default, Infinity waits forever, nonsense is a RangeError", async () => {
  assert.equal(DEFAULT_BLOCK_REQUEST_TIMEOUT_MS, 30_000);
  for (const bad of [0, -1, 0.5, NaN, 2 ** 31, -Infinity]) {
    assert.throws(() => new VirtioBlockDriver({ requestTimeoutMs: bad }), RangeError, String(bad));
    await assert.rejects(createMachine({ blockRequestTimeoutMs: bad }), RangeError);
  }
  const backend = new StoppingBackend();
  const { driver, shutdown } = await stack(backend, { requestTimeoutMs: Infinity });
  const timers = watchTimers(Infinity);
  try {
    backend.stop();
    const pending = driver.read(0, 1);
    await sleep(30);
    assert.equal(timers.started, 0, "no watchdog without a timeout");
    shutdown();
    await assert.rejects(pending, { code: "removed" });
  } finally {
    timers.restore();
  }
});

Deno.test("the machine's blockRequestTimeoutMs reaches the driver; the guest shell reports a timeout in one line", async () => {
  const disk = new StoppingBackend();
  const consoleBackend = new MemoryConsoleBackend({ size: { cols: 80, rows: 24 } });
  const machine = await createMachine({
    disk,
    console: consoleBackend,
    blockRequestTimeoutMs: 100,
  });
  try {
    const con = machine.console.driver!;
    const done = runShell(machine, { input: con.readable, write: (t) => con.write(t) });
    for (let i = 0; i < 400 && !consoleBackend.outputText.includes("guest$ "); i++) await sleep(5);
    disk.stop();
    const before = consoleBackend.outputText.length;
    consoleBackend.input("disk read 0\r");
    let out = "";
    for (let i = 0; i < 400 && !out.includes("\r\nguest$ "); i++) {
      await sleep(5);
      out = consoleBackend.outputText.slice(before);
    }
    const lines = out.split("\r\n").filter((l) => l.startsWith("error:"));
    assert.deepEqual(lines, [
      "error: Block device stopped answering: a read of 1 sector(s) at sector 0 was not " +
      "completed within 100 ms; no request on it will complete until it is reset",
    ], out);
    consoleBackend.input("exit\r");
    await done;
  } finally {
    await machine.close();
  }
});

Deno.test("lab disk turns a block driver's error into one line and exit status 1", () => {
  const error = new BlockTimeoutError(30_000, "write", 8n, 512);
  const mapped = diskError("disk.img", error);
  assert.ok(mapped instanceof UserError);
  assert.equal(mapped.exitCode, 1);
  assert.equal(
    mapped.message,
    "disk.img: Block device stopped answering: a write of 1 sector(s) at sector 8 was not " +
      "completed within 30 s; no request on it will complete until it is reset",
  );
  const other = new TypeError("not a block error");
  assert.equal(diskError("disk.img", other), other);
});
