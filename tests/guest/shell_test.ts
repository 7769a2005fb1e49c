import assert from "node:assert/strict";
import { createMachine } from "../../machine.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import { formatSize, runShell } from "../../guest/shell.ts";

/** Boots a machine on a memory console and runs the shell; returns a way to type and read. */
async function boot() {
  const backend = new MemoryConsoleBackend({ size: { cols: 80, rows: 24 } });
  const machine = await createMachine({ console: backend });
  const driver = machine.console.driver!;
  const done = runShell(machine, { input: driver.readable, write: (t) => driver.write(t) }, {
    diskLabel: "built-in",
  });
  const waitFor = async (text: string) => {
    for (let i = 0; i < 500 && !backend.outputText.includes(text); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(
      backend.outputText.includes(text),
      `waited for ${JSON.stringify(text)}; got:\n${backend.outputText}`,
    );
  };
  /** Types a line and returns what the shell printed up to the next prompt. */
  const run = async (line: string) => {
    const before = backend.outputText.length;
    backend.input(`${line}\r`);
    for (let i = 0; i < 500; i++) {
      const out = backend.outputText.slice(before);
      if (out.includes("\r\nguest$ ") || line === "exit") break;
      await new Promise((r) => setTimeout(r, 5));
    }
    return backend.outputText.slice(before);
  };
  await waitFor("guest$ ");
  return { machine, backend, done, run, waitFor };
}

Deno.test("the shell boots with a banner listing every window", async () => {
  const { machine, backend, run, done } = await boot();
  assert.match(backend.outputText, /virtio_block@1e000 +irq 42 +virtio-blk \(built-in\)/);
  assert.match(backend.outputText, /virtio_console@1e200 +irq 43 +virtio-console .*this console/);
  assert.match(backend.outputText, /virtio_mmio@1e400 +irq 44 +empty slot/);
  await run("exit");
  assert.equal(await done, "exit");
  await machine.close();
});

Deno.test("help, devices, disk info, disk read, stats, log, dt and console answer through the console", async () => {
  const { machine, run, done } = await boot();
  const help = await run("help");
  for (
    const c of [
      "devices",
      "disk info",
      "disk read SECTOR [COUNT]",
      "stats",
      "log",
      "dt",
      "console",
      "exit",
    ]
  ) {
    assert.ok(help.includes(c), c);
  }
  const devices = await run("devices");
  assert.match(devices, /virtio_block@1e000 .* 2 virtio-blk .* virtio_blk .*DRIVER_OK/);
  assert.match(devices, /virtio_mmio@1e400 .* 0 \(empty slot\)/);
  assert.match(devices, /virtio_console@1e200: VIRTIO_CONSOLE_F_SIZE/);
  const info = await run("disk info");
  assert.match(info, /capacity: +8192 sectors of 512 bytes \(4194304 bytes, 4 MiB\)/);
  assert.match(info, /id: +virtio-lab-builtin/);
  const dump = await run("disk read 2");
  assert.match(
    dump,
    /00000400 {2}48 65 6c 6c 6f 20 66 72 {2}6f 6d 20 73 65 63 74 6f {2}\|Hello from secto\|/,
  );
  assert.match(dump, /\r\n\*\r\n00000600/);
  const two = await run("disk read 0x1 2");
  assert.match(two, /00000200 .*\|Sector 1: each s\|/);
  const stats = await run("stats");
  assert.match(stats, /virtio_block@1e000 +│ 0 requestq +│ [1-9]/);
  assert.match(stats, /1 transmitq/);
  assert.match(await run("log"), /no violations/);
  assert.match(
    await run("dt"),
    /virtio_block@1e000 \{\r\n\tcompatible = "virtio,mmio";\r\n\treg = <0x1e000 0x200>;\r\n\tinterrupts = <42>;/,
  );
  assert.match(await run("console"), /80 columns x 24 rows/);
  await run("exit");
  await done;
  assert.equal(machine.log.entries.length, 0);
  await machine.close();
});

Deno.test("disk discard and disk zero send their commands, and the sectors read back as zeroes", async () => {
  const { machine, run, done } = await boot();
  assert.match(
    await run("disk info"),
    /discard: +up to 16 segment\(s\), 4194303 sectors per request, cut on 8/,
  );
  assert.match(
    await run("disk discard 2 1"),
    /discarded 1 sector\(s\) at sector 2 in 1 request\(s\)/,
  );
  assert.match(await run("disk read 2"), /00000400 {2}00 00 00 00 00 00 00 00 {2}00 00/);
  assert.match(
    await run("disk zero 1 1 unmap"),
    /zeroed 1 sector\(s\) at sector 1 in 1 request\(s\)/,
  );
  assert.match(await run("disk read 1"), /00000200 {2}00 00 00 00/);
  assert.match(await run("disk zero 1"), /error: usage: disk zero SECTOR N \[unmap\]/);
  assert.match(await run("disk discard 8190 3"), /error: sectors 8190\.\.8192 are past the end/);
  const blk = machine.blk.device as unknown as { stats: { requests: Record<string, number> } };
  assert.equal(blk.stats.requests.discard, 1);
  assert.equal(blk.stats.requests.writeZeroes, 1);
  await run("exit");
  await done;
  assert.equal(machine.log.entries.length, 0);
  await machine.close();
});

Deno.test("bad commands and arguments get one line each and the shell carries on", async () => {
  const { machine, run, done } = await boot();
  assert.match(await run("frobnicate"), /frobnicate: unknown command \(try 'help'\)/);
  assert.match(await run("disk read"), /error: usage: disk read SECTOR \[COUNT\]/);
  assert.match(await run("disk read x"), /error: 'x' is not a sector number/);
  assert.match(await run("disk read 0 65"), /error: COUNT must be 1 to 64/);
  assert.match(
    await run("disk read 8192"),
    /error: sectors 8192\.\.8192 are past the end \(capacity 8192\)/,
  );
  assert.match(await run(""), /^\r\nguest\$ $/);
  await run("exit");
  await done;
  await machine.close();
});

Deno.test("the guest echoes, erases and ends on Ctrl-D like a tty", async () => {
  const { machine, backend, done, waitFor } = await boot();
  backend.input("hepl\x7f\x7flp\r");
  await waitFor("hepl\b \b\b \blp\r\n");
  await waitFor("list the commands");
  backend.input("\x04");
  assert.equal(await done, "eof");
  await machine.close();
});

Deno.test("formatSize uses binary units", () => {
  assert.equal(formatSize(512), "512 bytes");
  assert.equal(formatSize(4 * 1024 * 1024), "4 MiB");
  assert.equal(formatSize(1536), "1.5 KiB");
  assert.equal(formatSize(64n * 1024n * 1024n), "64 MiB");
});
