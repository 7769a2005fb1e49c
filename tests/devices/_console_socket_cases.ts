import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConsoleBackendError,
  UnixSocketConsoleBackend,
  VirtioConsoleDevice,
  VirtioConsoleDriver,
} from "../../devices/mod.ts";
import { buildStack, readBytes, registration, until } from "./_stack.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function readExactly(conn: Deno.Conn, bytes: number): Promise<string> {
  const out = new Uint8Array(bytes);
  let at = 0;
  while (at < bytes) {
    const n = await conn.read(out.subarray(at));
    if (n === null) throw new Error(`Connection closed after ${at} of ${bytes} bytes`);
    at += n;
  }
  return decoder.decode(out);
}

async function withSocketConsole(
  fn: (ctx: {
    path: string;
    backend: UnixSocketConsoleBackend;
    driver: VirtioConsoleDriver;
    reader: ReadableStreamDefaultReader<Uint8Array>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-console-" });
  try {
    const path = join(dir, "console.sock");
    const backend = await UnixSocketConsoleBackend.listen(path);
    const device = new VirtioConsoleDevice(backend);
    const driver = new VirtioConsoleDriver();
    const stack = await buildStack<VirtioConsoleDriver>(device, registration(driver));
    const reader = driver.readable.getReader();
    try {
      await fn({ path, backend, driver, reader });
      assert.equal(stack.log.entries.length, 0, stack.log.format());
    } finally {
      reader.releaseLock();
      stack.shutdown();
      await backend.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("console socket: a client's bytes reach the driver and the driver's writes reach the client", async () => {
  await withSocketConsole(async ({ path, backend, driver, reader }) => {
    const client = await Deno.connect({ transport: "unix", path });
    await backend.waitForClient();
    await client.write(encoder.encode("uname -a\n"));
    assert.equal(decoder.decode(await readBytes(reader, 9)), "uname -a\n");
    await driver.write("Linux lab 6.1\n");
    assert.equal(await readExactly(client, 14), "Linux lab 6.1\n");
    client.close();
  });
});

Deno.test("console socket: output without a client is dropped; a new client replaces a gone one", async () => {
  await withSocketConsole(async ({ path, backend, driver, reader }) => {
    await driver.write("nobody hears this");
    assert.equal(backend.droppedBytes, 17);

    const first = await Deno.connect({ transport: "unix", path });
    await backend.waitForClient();
    await first.write(encoder.encode("one"));
    assert.equal(decoder.decode(await readBytes(reader, 3)), "one");
    first.close();
    // The device has a read outstanding, so the backend sees the hang-up.
    await until(() => !backend.connected, "the backend to notice the disconnect");

    const second = await Deno.connect({ transport: "unix", path });
    await backend.waitForClient();
    assert.equal(backend.connections, 2);
    await second.write(encoder.encode("two"));
    assert.equal(decoder.decode(await readBytes(reader, 3)), "two");
    await driver.write("back");
    assert.equal(await readExactly(second, 4), "back");
    second.close();
  });
});

Deno.test("console socket: refuses to replace a regular file, replaces a stale socket, detects a live one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-console-" });
  try {
    const file = join(dir, "not-a-socket");
    await Deno.writeTextFile(file, "keep me");
    await assert.rejects(UnixSocketConsoleBackend.listen(file), (e: unknown) => {
      assert.ok(e instanceof ConsoleBackendError);
      assert.equal(e.code, "exists-not-socket");
      assert.match(e.message, /not-a-socket/);
      return true;
    });
    assert.equal(await Deno.readTextFile(file), "keep me");

    // A stale socket: its listener is gone (killed), the file is still there.
    const stale = join(dir, "stale.sock");
    const child = new Deno.Command("python3", {
      args: [
        "-c",
        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)",
        stale,
      ],
    });
    const made = await child.output().catch(() => null);
    if (made?.success) {
      assert.equal((await Deno.lstat(stale)).isSocket, true);
      const backend = await UnixSocketConsoleBackend.listen(stale);
      await backend.close();
      await assert.rejects(Deno.lstat(stale), Deno.errors.NotFound);
    } else {
      console.log("python3 not available: stale-socket case not exercised");
    }

    const live = join(dir, "live.sock");
    const owner = await UnixSocketConsoleBackend.listen(live);
    await assert.rejects(UnixSocketConsoleBackend.listen(live), { code: "address-in-use" });
    await owner.close();
    await assert.rejects(Deno.lstat(live), Deno.errors.NotFound, "close removes the socket file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
