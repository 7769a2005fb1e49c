import assert from "node:assert/strict";
import { createMachine } from "../../machine.ts";
import { MemoryConsoleBackend } from "../../devices/console/backends.ts";
import type { VirtioConsoleDevice } from "../../devices/console/device.ts";
import { columns, formatSize, runShell, shortStatus } from "../../guest/shell.ts";

/** Boots a machine on a memory console and runs the shell; returns a way to type and read. */
async function boot(cols = 80) {
  const backend = new MemoryConsoleBackend({ size: { cols, rows: 24 } });
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
  assert.match(
    backend.outputText,
    /^ {2}virtio_block@1e000 +irq 42 +live +virtio-blk \(built-in\)\r$/m,
  );
  assert.match(
    backend.outputText,
    /^ {2}virtio_console@1e200 +irq 43 +live +virtio-console \(this console\)\r$/m,
  );
  assert.match(backend.outputText, /^ {2}virtio_mmio@1e400 +irq 44 +empty +empty slot\r$/m);
  for (const line of backend.outputText.split("\r\n")) assert.ok(line.length <= 80, line);
  await run("exit");
  assert.equal(await done, "exit");
  await machine.close();
});

Deno.test("help, devices, disk info, disk read, stats, log, dt and console answer through the console", async () => {
  const { machine, run, done } = await boot();
  const help = await run("help");
  for (const line of help.split("\r\n")) assert.ok(line.length <= 80, line);
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
  // One row per window: base, irq, DeviceID and name, driver, status, queue sizes.
  assert.match(devices, /^window +irq +ver +device +driver +status +queues\r$/m);
  assert.match(devices, /^0x1e000 +42 +2 +2 virtio-blk +virtio_blk +0x0f DRIVER_OK +0:256\r$/m);
  assert.match(
    devices,
    /^0x1e200 +43 +2 +3 virtio-console +virtio_console +0x0f DRIVER_OK +0:256 1:256\r$/m,
  );
  assert.match(devices, /^0x1e400 +44 +- +0 \(empty slot\) +- +empty +-\r$/m);
  assert.match(devices, /virtio_console@1e200: VIRTIO_CONSOLE_F_SIZE/);
  // Everything fits the 80-column console the config space reports.
  for (const line of devices.split("\r\n")) assert.ok(line.length <= 80, line);
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
  assert.match(stats, /^0x1e000 +0 requestq +[1-9]\d* +\d+ +\d+ +\d+ +\d+\r$/m);
  for (const line of stats.split("\r\n")) assert.ok(line.length <= 80, line);
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

Deno.test("shortStatus names the last init step reached, or every bit when steps were skipped", () => {
  assert.equal(shortStatus(0x01), "0x01 ACKNOWLEDGE");
  assert.equal(shortStatus(0x0b), "0x0b FEATURES_OK");
  assert.equal(shortStatus(0x0f), "0x0f DRIVER_OK");
  assert.equal(shortStatus(0x8f), "0x8f DRIVER_OK FAILED");
  assert.equal(shortStatus(0x4f), "0x4f DRIVER_OK DEVICE_NEEDS_RESET");
  // DRIVER_OK without FEATURES_OK is a broken bring-up: every bit is named.
  assert.equal(shortStatus(0x07), "0x07 ACKNOWLEDGE DRIVER DRIVER_OK");
  assert.equal(shortStatus(0x80), "0x80 FAILED");
});

Deno.test("columns: the last column wraps at spaces to fit, the others keep their width", () => {
  const rows = [["0x1e200", "0:256 1:256 2:256 3:256 4:256 5:256"]];
  assert.equal(
    columns(["window", "queues"], rows, 26),
    "window   queues\n0x1e200  0:256 1:256 2:256\n         3:256 4:256 5:256",
  );
});

Deno.test("Tab completes command names and Up recalls the last command", async () => {
  const { machine, backend, done, run, waitFor } = await boot();
  backend.input("sta\t");
  await waitFor("guest$ stats ");
  backend.input("\r");
  await waitFor("notifications");
  const before = backend.outputText.length;
  backend.input("\x1b[A\r");
  await waitFor("\r\nguest$ ");
  for (let i = 0; i < 200 && !backend.outputText.slice(before).includes("notifications"); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.match(backend.outputText.slice(before), /^stats \r\nwindow +queue/, "Up ran stats again");
  // The second Tab lists every "disk ..." command the shell has, as help names them.
  const help = await run("help");
  const disk = [...help.matchAll(/^ {2}(disk \w+)/gm)].map((m) => m[1]);
  assert.ok(disk.length >= 2, help);
  backend.input("di\t\t");
  await waitFor(`${disk.join("  ")}\r\nguest$ disk `);
  backend.input("\x15exit\r");
  assert.equal(await done, "exit");
  await machine.close();
});

Deno.test("ports, port send and port recv talk to a second console port on its own backend", async () => {
  const backend = new MemoryConsoleBackend();
  const peer = new MemoryConsoleBackend();
  const machine = await createMachine({
    console: backend,
    consolePorts: [{ name: "org.lab.peer", backend: peer }],
  });
  const driver = machine.console.driver!;
  const done = runShell(machine, { input: driver.readable, write: (t) => driver.write(t) });
  const run = async (line: string) => {
    const before = backend.outputText.length;
    backend.input(`${line}\r`);
    for (let i = 0; i < 500; i++) {
      if (backend.outputText.slice(before).includes("\r\nguest$ ") || line === "exit") break;
      await new Promise((r) => setTimeout(r, 5));
    }
    return backend.outputText.slice(before);
  };
  try {
    const ports = await run("ports");
    assert.match(ports, /^port +name +console +host +guest +received +sent\r?$/m);
    assert.match(ports, /^0 +- +yes +open +open +\d+ +\d+\r?$/m);
    assert.match(ports, /^1 +org\.lab\.peer +no +open +closed +0 +0\r?$/m);
    assert.match(
      await run("port recv org.lab.peer 0"),
      /nothing from port 1 \(org\.lab\.peer\) in 0 ms/,
    );
    assert.equal(
      (machine.console.device as VirtioConsoleDevice).ports[1].guestOpen,
      true,
      "the first port command opens it",
    );
    peer.input("from the host\n");
    assert.match(
      await run("port recv 1 2000"),
      /14 bytes from port 1 \(org\.lab\.peer\):\r\nfrom the host\r\n/,
    );
    assert.match(await run("port send org.lab.peer to the host"), /sent 12 bytes to port 1/);
    await peer.waitForOutput(12);
    assert.equal(peer.outputText, "to the host\n");
    assert.equal(backend.outputText.includes("to the host\n"), false, "port 0 got none of it");
    assert.match(
      await run("port send nowhere x"),
      /error: no console port 'nowhere' \(ports: 0, org\.lab\.peer\)/,
    );
    assert.match(await run("port recv 0"), /error: port 0 is this console/);
    assert.match(await run("port send org.lab.peer"), /usage: port send PORT TEXT/);
    assert.match(await run("help"), /port recv PORT \[MS\]/);
    await run("exit");
    assert.equal(await done, "exit");
  } finally {
    await machine.close();
  }
});

Deno.test("ports on a one-port machine says how to add ports", async () => {
  const backend = new MemoryConsoleBackend();
  const machine = await createMachine({ console: backend });
  const driver = machine.console.driver!;
  const done = runShell(machine, { input: driver.readable, write: (t) => driver.write(t) });
  backend.input("ports\rexit\r");
  assert.equal(await done, "exit");
  assert.match(backend.outputText, /VIRTIO_CONSOLE_F_MULTIPORT not negotiated: port 0 alone/);
  await machine.close();
});

Deno.test("on a 60-column console, devices leaves out the driver's name and still fits", async () => {
  const { machine, backend, run, done } = await boot(60);
  const devices = await run("devices");
  await run("help");
  const stats = await run("stats");
  for (const line of backend.outputText.split("\r\n")) {
    assert.ok(line.length <= 60, line);
  }
  const header = devices.split("\r\n").find((line) => line.startsWith("window"))!;
  assert.match(header, /^window +irq +.*device +status +queues$/);
  assert.doesNotMatch(header, /driver/);
  assert.match(devices, /^0x1e000 +42 +.*2 virtio-blk +0x0f DRIVER_OK +0:256\r$/m);
  for (const line of devices.split("\r\n")) assert.ok(line.length <= 60, line);
  assert.match(stats, /^window +queue +reqs +in +out +notif +irqs\r$/m);
  await run("exit");
  await done;
  await machine.close();
});
