/**
 * Console output through the whole stack: VirtioConsoleDriver → split
 * virtqueue → virtio-mmio register file → VirtioConsoleDevice → an in-memory
 * backend, and back through the used ring and the interrupt line.
 *
 * The baseline, measured in the same run, is port 0 of a one-port console
 * (no VIRTIO_CONSOLE_F_MULTIPORT): the path every console took before ports.
 * Against it, port 0 and port 1 of a console with a second port: the same
 * data path, plus the per-port bookkeeping multiport adds (the queue → port
 * lookup, the open-state gate, a transmit buffer per port).
 *
 * Run: `deno bench --allow-read --allow-write --allow-env bench/console_bench.ts`
 * (or `deno task bench`). Ratios: the "faster than" line of each group's
 * summary.
 *
 * @module
 */

import { createMachine } from "../machine.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";

const single = new MemoryConsoleBackend();
const one = await createMachine({ console: single });
const multi0 = new MemoryConsoleBackend();
const multi1 = new MemoryConsoleBackend();
const two = await createMachine({
  console: multi0,
  consolePorts: [{ name: "org.lab.bench", backend: multi1 }],
});
const port1 = two.console.driver!.port("org.lab.bench")!;
await port1.setOpen(true);

for (const size of [64, 65536]) {
  const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  const group = `write ${size < 1024 ? `${size} bytes` : `${size / 1024} KiB`} to the console`;
  Deno.bench({
    name: "one-port console, port 0 (baseline)",
    group,
    baseline: true,
    async fn() {
      await one.console.driver!.write(data);
      single.clearOutput();
    },
  });
  Deno.bench({
    name: "multiport console, port 0",
    group,
    async fn() {
      await two.console.driver!.write(data);
      multi0.clearOutput();
    },
  });
  Deno.bench({
    name: "multiport console, port 1",
    group,
    async fn() {
      await port1.write(data);
      multi1.clearOutput();
    },
  });
}

globalThis.addEventListener("unload", () => {
  void one.close();
  void two.close();
});
