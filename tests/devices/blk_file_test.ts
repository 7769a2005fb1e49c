import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  BlockBackendError,
  BlockImageError,
  BlockIoError,
  BlockReadOnlyError,
  FileBlockBackend,
  VIRTIO_BLK_F_RO,
  VirtioBlockDevice,
  VirtioBlockDriver,
  type VirtioBlockDriverOptions,
} from "../../devices/mod.ts";
import { features } from "../../virtio/features.ts";
import { buildStack, pattern, registration } from "./_stack.ts";

const CHILD = fileURLToPath(new URL("./_open_image_child.ts", import.meta.url));

interface Snapshot {
  readonly bytes: Uint8Array;
  readonly mtime: number;
}

async function snapshot(path: string): Promise<Snapshot> {
  const info = await Deno.stat(path);
  return { bytes: await Deno.readFile(path), mtime: info.mtime!.getTime() };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-blk-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function expectImageError(
  path: string,
  code: string,
  options: { readOnly?: boolean } = {},
): Promise<BlockImageError> {
  let caught: unknown;
  try {
    const backend = await FileBlockBackend.open(path, options);
    await backend.close();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BlockImageError, `expected a BlockImageError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.path, path);
  assert.ok(caught.message.includes(path), caught.message);
  assert.ok(!caught.message.includes("\n"), "one line");
  return caught;
}

async function fileStack(backend: FileBlockBackend, driverOptions: VirtioBlockDriverOptions = {}) {
  const device = new VirtioBlockDevice(backend);
  const driver = new VirtioBlockDriver(driverOptions);
  const stack = await buildStack<VirtioBlockDriver>(device, registration(driver));
  return { device, ...stack };
}

async function uid(): Promise<number> {
  const { stdout } = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}

async function runChild(
  args: string[],
  path: string,
  mode: "rw" | "ro",
  env: Record<string, string> = {},
): Promise<{ ok: boolean; code?: string; message?: string }> {
  const [command, ...rest] = args;
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args: [...rest, CHILD, path, mode],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, out + new TextDecoder().decode(stderr));
  return JSON.parse(out.trim().split("\n").pop()!);
}

// ------------------------------------------------------------ bad images

Deno.test("file backend: a missing image is not-found, and opening does not create it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing.img");
    const e = await expectImageError(path, "not-found");
    assert.match(e.message, /does not exist/);
    await expectImageError(path, "not-found", { readOnly: true });
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});

Deno.test("file backend: a directory is is-directory", async () => {
  await withTempDir(async (dir) => {
    await expectImageError(dir, "is-directory");
    await expectImageError(dir, "is-directory", { readOnly: true });
  });
});

Deno.test("file backend: an empty image is empty, one under a sector is too-small; both left unchanged", async () => {
  await withTempDir(async (dir) => {
    const empty = join(dir, "empty.img");
    await Deno.writeFile(empty, new Uint8Array(0));
    const small = join(dir, "small.img");
    await Deno.writeFile(small, pattern(100, 4));
    const before = [await snapshot(empty), await snapshot(small)];
    await expectImageError(empty, "empty");
    const e = await expectImageError(small, "too-small");
    assert.match(e.message, /100 bytes/);
    assert.deepEqual([await snapshot(empty), await snapshot(small)], before);
  });
});

Deno.test("file backend: a FIFO and a character device are not-a-file (and opening does not block)", async () => {
  await withTempDir(async (dir) => {
    const fifo = join(dir, "pipe");
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success, "mkfifo");
    await expectImageError(fifo, "not-a-file");
    await expectImageError("/dev/null", "not-a-file", { readOnly: true });
  });
});

Deno.test("file backend: no write permission when opened read-write is permission-denied; file unchanged", async () => {
  await withTempDir(async (dir) => {
    await Deno.chmod(dir, 0o755);
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(4096, 9));
    await Deno.chmod(path, 0o444);
    const before = await snapshot(path);

    // 1. Deno's own sandbox: a child granted --allow-read only.
    const deno = Deno.execPath();
    const sandboxed = await runChild([deno, "run", "--allow-read", "--allow-env"], path, "rw");
    assert.equal(sandboxed.code, "permission-denied", sandboxed.message);
    assert.match(sandboxed.message!, /open it read-only instead/);
    assert.deepEqual(await runChild([deno, "run", "--allow-read"], path, "ro"), {
      ok: true,
      size: 4096,
      readOnly: true,
    });

    // 2. The file system's permission bits (EACCES).
    if ((await uid()) !== 0) {
      await expectImageError(path, "permission-denied");
    } else {
      // Root ignores permission bits: open it as nobody instead.
      const denoDir = join(dir, "deno-dir");
      await Deno.mkdir(denoDir);
      await Deno.chown(denoDir, 65534, 65534);
      const asNobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        deno,
        "run",
        "-A",
      ];
      const env = { DENO_DIR: denoDir, HOME: denoDir };
      const denied = await runChild(asNobody, path, "rw", env);
      assert.equal(denied.code, "permission-denied", denied.message);
      assert.deepEqual(await runChild(asNobody, path, "ro", env), {
        ok: true,
        size: 4096,
        readOnly: true,
      });
    }
    assert.deepEqual(await snapshot(path), before);
  });
});

Deno.test("file backend: opening and closing a good image changes neither its bytes nor its mtime", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(8192, 5));
    const old = new Date(Date.now() - 3600_000);
    await Deno.utime(path, old, old);
    const before = await snapshot(path);
    for (const readOnly of [false, true]) {
      const backend = await FileBlockBackend.open(path, { readOnly });
      assert.equal(backend.size, 8192);
      assert.equal(backend.tailBytes, 0);
      assert.equal(backend.readOnly, readOnly);
      await backend.close();
    }
    assert.deepEqual(await snapshot(path), before);
  });
});

Deno.test("file backend: a size that is not a sector multiple serves whole sectors and never touches the tail", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "odd.img");
    const content = pattern(1000, 6);
    await Deno.writeFile(path, content);
    const backend = await FileBlockBackend.open(path);
    assert.equal(backend.fileSize, 1000);
    assert.equal(backend.size, 512);
    assert.equal(backend.tailBytes, 488);
    await assert.rejects(backend.read(512, new Uint8Array(512)), { code: "out-of-range" });
    const { driver, shutdown } = await fileStack(backend);
    assert.equal(driver.capacity, 1n);
    await driver.write(0, new Uint8Array(512).fill(0x77));
    await driver.flush();
    const after = await Deno.readFile(path);
    assert.equal(after.length, 1000);
    assert.deepEqual([...new Set(after.subarray(0, 512))], [0x77]);
    assert.deepEqual(after.subarray(512), content.subarray(512), "the 488-byte tail is intact");
    shutdown();
    await backend.close();
  });
});

// ------------------------------------------------------------------- I/O

Deno.test("file backend: concurrent reads and writes at different offsets land correctly", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    const original = pattern(1024 * 1024, 12);
    await Deno.writeFile(path, original);
    const backend = await FileBlockBackend.open(path);
    const expected = original.slice();
    const operations: Promise<unknown>[] = [];
    const reads: { offset: number; dest: Uint8Array }[] = [];
    for (let i = 0; i < 64; i++) {
      const offset = i * 16384;
      if (i % 2 === 0) {
        const data = pattern(8192 + 512 * (i % 5), 1000 + i);
        expected.set(data, offset);
        // Half with a signal (bounce buffer), half without (straight I/O).
        operations.push(
          backend.write(offset, data, i % 4 === 0 ? new AbortController().signal : undefined),
        );
      } else {
        const dest = new Uint8Array(16384);
        reads.push({ offset, dest });
        operations.push(
          backend.read(offset, dest, i % 4 === 1 ? new AbortController().signal : undefined),
        );
      }
    }
    await Promise.all(operations);
    for (const { offset, dest } of reads) {
      assert.deepEqual(dest, original.subarray(offset, offset + 16384));
    }
    await backend.flush();
    await backend.close();
    assert.deepEqual(await Deno.readFile(path), expected);
  });
});

Deno.test("file backend: through the whole stack, concurrent driver writes land at their sectors", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, new Uint8Array(2 * 1024 * 1024));
    const backend = await FileBlockBackend.open(path);
    const { device, driver, shutdown, log } = await fileStack(backend, { maxTransferBytes: 8192 });
    const expected = new Uint8Array(2 * 1024 * 1024);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      // Disjoint writes of 1 to 16 sectors: write i owns the 40 sectors from 40 * i.
      const data = pattern(512 * (1 + (i % 16)), i + 1);
      writes.push(driver.write(40 * i, data));
      expected.set(data, 40 * i * 512);
    }
    await Promise.all(writes);
    await driver.flush();
    assert.ok(device.stats.maxInFlight > 1, `max in flight ${device.stats.maxInFlight}`);
    assert.deepEqual(await Deno.readFile(path), expected);
    shutdown();
    await backend.close();
    assert.equal(log.entries.length, 0, log.format());
  });
});

Deno.test("file backend: an aborted read never writes into the caller's buffer", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(65536, 3));
    const backend = await FileBlockBackend.open(path, { readOnly: true });
    const controller = new AbortController();
    const dest = new Uint8Array(65536).fill(0x5a);
    const read = backend.read(0, dest, controller.signal);
    controller.abort(); // a device reset while the pread is in flight
    await assert.rejects(read, { name: "AbortError" });
    assert.deepEqual([...new Set(dest)], [0x5a]);
    await backend.close();
  });
});

Deno.test("file backend: VIRTIO_BLK_T_FLUSH calls fsync and completes only after it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, new Uint8Array(65536));
    // Spy on FileHandle.prototype.sync, the fsync of node:fs/promises.
    const probe = await open(path, "r");
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const original = proto.sync;
    let calls = 0;
    let release = () => {};
    let gate = Promise.resolve();
    proto.sync = function (this: unknown) {
      calls++;
      return gate.then(() => original.call(this));
    };
    try {
      const backend = await FileBlockBackend.open(path);
      const { driver, device, shutdown } = await fileStack(backend);
      await driver.write(0, pattern(4096, 1));
      assert.equal(calls, 0, "with VIRTIO_BLK_F_FLUSH negotiated a write does not sync");
      gate = new Promise((resolve) => (release = resolve));
      let flushed = false;
      const flush = driver.flush().then(() => (flushed = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(calls, 1);
      assert.equal(flushed, false, "the flush waits for fsync");
      release();
      await flush;
      assert.equal(backend.flushes, 1);
      assert.equal(device.stats.requests.flush, 1);
      shutdown();

      // Without VIRTIO_BLK_F_FLUSH the device writes through: fsync per write.
      const second = await fileStack(backend, { flush: false });
      await second.driver.write(8, pattern(1024, 2));
      await second.driver.write(16, pattern(512, 3));
      assert.equal(calls, 3);
      second.shutdown();
      await backend.close();
    } finally {
      proto.sync = original;
    }
    const data = await Deno.readFile(path);
    assert.deepEqual(data.subarray(0, 4096), pattern(4096, 1));
    assert.deepEqual(data.subarray(8 * 512, 8 * 512 + 1024), pattern(1024, 2));
  });
});

Deno.test("file backend: a read-only image offers VIRTIO_BLK_F_RO and refuses writes at every layer", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(8192, 8));
    const before = await snapshot(path);
    const backend = await FileBlockBackend.open(path, { readOnly: true });
    await assert.rejects(backend.write(0, new Uint8Array(512)), (e: unknown) => {
      assert.ok(e instanceof BlockBackendError);
      assert.equal(e.code, "read-only");
      return true;
    });
    const { device, driver, shutdown } = await fileStack(backend);
    assert.ok((device.deviceFeatures & features(VIRTIO_BLK_F_RO)) !== 0n);
    await assert.rejects(driver.write(0, new Uint8Array(512)), BlockReadOnlyError);
    assert.deepEqual(await driver.read(0, 16), before.bytes);
    shutdown();
    await backend.close();
    assert.deepEqual(await snapshot(path), before);
  });
});

Deno.test("file backend: an image that shrinks under the device gives IOERR, not stale data", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(8192, 2));
    const backend = await FileBlockBackend.open(path);
    const { driver, device, shutdown } = await fileStack(backend);
    await Deno.truncate(path, 4096);
    await assert.rejects(driver.read(8, 8), BlockIoError);
    assert.equal(device.stats.backendErrors, 1);
    await assert.rejects(backend.read(4096, new Uint8Array(512)), { code: "short-read" });
    shutdown();
    await backend.close();
  });
});

// ------------------------------------------------------------- locking

Deno.test("file backend: a writer locks the image: a second writer or a reader is refused, then admitted after close", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(8 * 512));
    const before = await snapshot(path);
    const writer = await FileBlockBackend.open(path);
    try {
      for (const readOnly of [false, true]) {
        await assert.rejects(
          () => FileBlockBackend.open(path, { readOnly }),
          (e: unknown) =>
            e instanceof BlockImageError && e.code === "locked" &&
            /in use by another process/.test(e.message) && !e.message.includes("\n"),
        );
      }
      // Another process is refused the same way.
      const child = await runChild([Deno.execPath(), "run", "-A"], path, "rw");
      assert.equal(child.ok, false);
      assert.equal(child.code, "locked");
    } finally {
      await writer.close();
    }
    assert.deepEqual(await snapshot(path), before, "refused opens change nothing");
    const again = await FileBlockBackend.open(path);
    await again.close();
  });
});

Deno.test("file backend: readers share the image, and keep writers out while they read", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "disk.img");
    await Deno.writeFile(path, pattern(8 * 512));
    const a = await FileBlockBackend.open(path, { readOnly: true });
    const b = await FileBlockBackend.open(path, { readOnly: true });
    try {
      const child = await runChild([Deno.execPath(), "run", "-A"], path, "rw");
      assert.equal(child.code, "locked");
      assert.match(child.message!, /open for writing|holds a lock/);
    } finally {
      await a.close();
      await b.close();
    }
    // `lock: false` opts out (for a caller that manages locking itself).
    const w = await FileBlockBackend.open(path);
    const unlocked = await FileBlockBackend.open(path, { readOnly: true, lock: false });
    await unlocked.close();
    await w.close();
  });
});
