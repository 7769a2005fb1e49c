/**
 * Measures the figures of `lab boot --linux` the README gives, from one run
 * each:
 *
 * - the time from the start of `lab boot --linux` to the shell prompt on
 *   `hvc0` (warm: the guest software cached and the guest state saved; and
 *   cold, with `--cold`, from the BIOS), the command run as a user runs it;
 * - MMIO accesses handled in TypeScript while the guest reads its disk;
 * - the read throughput of `dd if=/dev/vda of=/dev/null bs=1M` in the guest
 *   beside `lab disk read --sha256` of the same image.
 *
 * Usage: `deno run -A tools/linux_figures.ts [--cold] [--size-mib N]`.
 * The guest's `dd` is timed with busybox's `time` (its `dd` prints no rate).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ensureLinuxAssets } from "../linux/assets.ts";
import { createLinuxMachine } from "../linux/machine.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";
import { FileBlockBackend } from "../devices/blk/backends.ts";
import { GUEST_STATE_FILE } from "../cli/boot_linux.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cold: { type: "boolean", default: false },
    "size-mib": { type: "string", default: "64" },
  },
});
const sizeMiB = Number(values["size-mib"]);
const REPO = new URL("../", import.meta.url).pathname;

const assets = await ensureLinuxAssets();
const dir = await Deno.makeTempDir({ prefix: "virtio-lab-figures-" });
const image = `${dir}/random.img`;
const data = new Uint8Array(sizeMiB * 1024 * 1024);
for (let at = 0; at < data.length; at += 65536) {
  crypto.getRandomValues(data.subarray(at, at + 65536));
}
await Deno.writeFile(image, data);

// 1. Time to the prompt, as a user runs the command (a pipe for stdin: the
// guest's input ends with it, so the command powers off after `poweroff`).
async function timeToPrompt(cold: boolean): Promise<number> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "cli/main.ts",
      "boot",
      "--linux",
      "--disk",
      image,
      "--console-socket",
      `${dir}/console.sock`,
      ...(cold ? ["--cold"] : []),
    ],
    cwd: REPO,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let conn: Deno.UnixConn | undefined;
  while (!conn) {
    try {
      conn = await Deno.connect({ transport: "unix", path: `${dir}/console.sock` });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  let text = "";
  const buffer = new Uint8Array(4096);
  let seconds = NaN;
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
    if (/virtio-lab:[^\n]*# /.test(text)) {
      seconds = (performance.now() - start) / 1000;
      await conn.write(new TextEncoder().encode("poweroff\r"));
      break;
    }
  }
  const out = await child.output();
  conn.close();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return seconds;
}

const warmup = await timeToPrompt(false); // makes sure the saved state exists
const warm = await timeToPrompt(false);
const cold = values.cold ? await timeToPrompt(true) : NaN;

// 2 and 3. dd in the guest, with the MMIO counters around it.
const console = new MemoryConsoleBackend();
let screen = "";
const write = console.write.bind(console);
console.write = (bytes: Uint8Array) => {
  screen += new TextDecoder().decode(bytes);
  return write(bytes);
};
const machine = await createLinuxMachine({
  images: {
    bios: await Deno.readFile(assets.bios),
    kernel: await Deno.readFile(assets.kernel),
    initramfs: await Deno.readFile(assets.initramfs),
  },
  disk: await FileBlockBackend.open(image, { readOnly: true }),
  console,
  snapshotFile: `${assets.dir}/${GUEST_STATE_FILE}`,
});
machine.start();
const waitFor = async (pattern: RegExp, from: number) => {
  for (;;) {
    const match = pattern.exec(screen.slice(from));
    if (match) return from + match.index + match[0].length;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
let at = await waitFor(/virtio-lab:[^\n]*# /, 0);
const before = machine.mmio;
const ddStart = performance.now();
const ddStartAt = at;
console.input("time dd if=/dev/vda of=/dev/null bs=1M\n");
at = await waitFor(/virtio-lab:[^\n]*# /, at);
const ddSeconds = (performance.now() - ddStart) / 1000;
const after = machine.mmio;
// busybox's dd prints no rate; its `time` prints "real 0m 16.82s".
const real = /real\s+(\d+)m\s*([\d.]+)s/.exec(screen.slice(ddStartAt));
const guestSeconds = real ? Number(real[1]) * 60 + Number(real[2]) : NaN;
console.input("poweroff\n");
await machine.exited;
await machine.close();

const host = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "cli/main.ts", "disk", "read", image, "--sha256"],
  cwd: REPO,
  stdout: "piped",
  stderr: "piped",
}).output();
const hostLine = (new TextDecoder().decode(host.stdout) + new TextDecoder().decode(host.stderr))
  .split("\n").find((l) => /MiB\/s/.test(l)) ?? "(no figure)";

const accesses = after.reads + after.writes - before.reads - before.writes;
globalThis.console.log(`image: ${sizeMiB} MiB of random bytes`);
globalThis.console.log(
  `time to the shell prompt, warm: ${warm.toFixed(1)} s (first run ${warmup.toFixed(1)} s)`,
);
if (values.cold) {
  globalThis.console.log(`time to the shell prompt, cold (--cold): ${cold.toFixed(1)} s`);
}
globalThis.console.log(
  `guest: dd if=/dev/vda of=/dev/null bs=1M: ${sizeMiB} MiB in ${guestSeconds.toFixed(2)} s by ` +
    `the guest's clock (${(sizeMiB / guestSeconds).toFixed(1)} MiB/s), ${
      ddSeconds.toFixed(2)
    } s on the host's`,
);
globalThis.console.log(
  `MMIO during dd: ${accesses} accesses in ${ddSeconds.toFixed(2)} s (${
    Math.round(accesses / ddSeconds)
  }/s), ${after.reads - before.reads} loads, ${after.writes - before.writes} stores`,
);
globalThis.console.log(`host: lab disk read --sha256: ${hostLine}`);
await Deno.remove(dir, { recursive: true });
