/**
 * MMIO accesses handled in TypeScript on the Linux machine's path: a 32-bit
 * load of MagicValue and a 16-bit load of a configuration field made through
 * v86's own physical-memory path (WebAssembly → the adapter's handler → the
 * width reassembly → the lab's MmioBus → MmioDeviceTransport), beside the
 * same load of guest RAM through the same path (the emulator's floor).
 *
 *   deno bench --allow-read --allow-env bench/linux_mmio_bench.ts
 */

import { V86_MMAP_BLOCK, V86Engine } from "../linux/v86_adapter.ts";
import { configFieldWidth } from "../linux/machine.ts";
import { ConformanceLog } from "../conformance/log.ts";
import { MmioBus } from "../transport/mmio_bus.ts";
import { MmioDeviceTransport } from "../transport/mmio_device.ts";
import { VirtioConsoleDevice } from "../devices/console/device.ts";
import { MemoryConsoleBackend } from "../devices/console/backends.ts";

const BASE = 0xfef0_0000;
const engine = await V86Engine.create({
  bios: new Uint8Array(65536).fill(0xf4),
  memorySize: 16 * 1024 * 1024,
});
const log = new ConformanceLog();
const bus = new MmioBus({ log });
const device = new VirtioConsoleDevice(
  new MemoryConsoleBackend({ size: { cols: 80, rows: 25 } }),
);
const transport = new MmioDeviceTransport(device, { memory: engine.memory, log });
bus.map(BASE, transport, { irq: 21, name: "virtio_console" });
engine.mapMmio(BASE, V86_MMAP_BLOCK, bus, configFieldWidth([{ base: BASE, device }]));

if (engine.physicalRead(BASE, 4) !== 0x7472_6976) throw new Error("MagicValue did not read back");
if (engine.physicalRead(BASE + 0x100, 2) !== 80) throw new Error("cols did not read back");

let sink = 0;
Deno.bench(
  { name: "32-bit load of guest RAM through v86 (floor)", group: "mmio", baseline: true },
  () => {
    sink ^= engine.physicalRead(0x1000, 4);
  },
);
Deno.bench({
  name: "32-bit load of MagicValue: v86 → adapter → MmioBus → register file",
  group: "mmio",
}, () => {
  sink ^= engine.physicalRead(BASE, 4);
});
Deno.bench({ name: "16-bit load of cols (two 8-bit loads paired again)", group: "mmio" }, () => {
  sink ^= engine.physicalRead(BASE + 0x100, 2);
});
Deno.bench({ name: "32-bit store of InterruptACK (nothing pending)", group: "mmio" }, () => {
  engine.physicalWrite(BASE + 0x64, 4, 0);
});
globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
  if (log.entries.length > 0) {
    console.error(`${log.entries.length} violation(s): ${log.entries[0].message}`);
  }
});
