/**
 * The Linux machine: a PC emulated by v86 (`linux/v86_adapter.ts`) whose
 * virtio devices are the lab's own: the same `VirtioBlockDevice` and
 * `VirtioConsoleDevice` models, `MmioDeviceTransport` register files and
 * `MmioBus` as the lab machine (`machine.ts`), built from the same parts
 * registry (`parts.ts`), so `--mine` runs a learner's device-side parts
 * under a real kernel. The driver side is Linux's own `virtio_mmio`,
 * `virtio_ring`, `virtio_blk` and `virtio_console`.
 *
 * The windows sit at 0xFEF00000 up, 0x200 bytes each, between the local
 * APIC (0xFEE00000) and the BIOS ROM (0xFFF00000), where neither SeaBIOS nor
 * Linux puts PCI BARs (QEMU's `microvm` uses 0xFEB00000, but v86 shows its
 * VGA card's option ROM there): the block device, the console, and an empty
 * slot, on IOAPIC inputs 20, 21 and 22, level-triggered. The kernel
 * learns of them from an SSDT (`linux/acpi.ts`) that the machine writes,
 * with an RSDP and an RSDT listing SeaBIOS's tables too, into
 * {@linkcode LINUX_ACPI_BASE} once SeaBIOS has built its tables; the command
 * line names that RSDP (`acpi_rsdp=`) and reserves the range (`memmap=`).
 *
 * @module
 */

import { ConformanceLog } from "../conformance/log.ts";
import type { BlockBackend } from "../devices/blk/backends.ts";
import { VirtioBlockDevice } from "../devices/blk/device.ts";
import { type ConsoleBackend, MemoryConsoleBackend } from "../devices/console/backends.ts";
import { VirtioConsoleDevice } from "../devices/console/device.ts";
import type { MachineWindow } from "../machine.ts";
import { builtinDisk } from "../machine.ts";
import { checkMachineParts, type MachineParts, resolveParts } from "../parts.ts";
import { MmioBus, type MmioWindowInfo } from "../transport/mmio_bus.ts";
import { EmptyMmioSlot, MmioDeviceTransport } from "../transport/mmio_device.ts";
import { VIRTIO_MMIO_CONFIG } from "../transport/mmio_registers.ts";
import type { MmioRegion } from "../transport/types.ts";
import type { AccessWidth, VirtioDevice } from "../virtio/device.ts";
import { createSplitQueueDeviceFactory } from "../virtqueue/device_queue.ts";
import { findFirmwareTables, layoutAcpiTables, virtioMmioSsdt } from "./acpi.ts";
import { SNAPSHOT_POINT } from "./assets.ts";
import { type MmioCounters, V86_MMAP_BLOCK, V86_VERSION, V86Engine } from "./v86_adapter.ts";

/** Base of the 128 KiB block of physical address space holding the virtio-mmio windows. */
export const LINUX_MMIO_BASE = 0xfef0_0000;
/** The block device's window and IOAPIC input. */
export const LINUX_BLOCK_WINDOW: MachineWindow = Object.freeze({
  base: LINUX_MMIO_BASE,
  irq: 20,
  name: "virtio_block",
});
/** The console's window and IOAPIC input. */
export const LINUX_CONSOLE_WINDOW: MachineWindow = Object.freeze({
  base: LINUX_MMIO_BASE + 0x200,
  irq: 21,
  name: "virtio_console",
});
/** The empty slot (DeviceID 0) and its IOAPIC input. */
export const LINUX_EMPTY_WINDOW: MachineWindow = Object.freeze({
  base: LINUX_MMIO_BASE + 0x400,
  irq: 22,
  name: "virtio_mmio",
});
/** Guest RAM: 128 MiB (v86 loads the initrd at 64 MiB). */
export const LINUX_RAM_SIZE = 128 * 1024 * 1024;
/**
 * Where the machine writes its RSDP, RSDT and SSDT: 64 KiB at 112 MiB, inside
 * the range SeaBIOS reports reserved (the top 16 MiB of a 128 MiB v86 PC) and
 * reserved again on the command line.
 */
export const LINUX_ACPI_BASE = 0x0700_0000;
/** Size of the ACPI range, in bytes. */
export const LINUX_ACPI_SIZE = 0x1_0000;

/**
 * The kernel command line: the serial console for the kernel's messages, the
 * machine's RSDP, its range reserved, and what makes an emulated boot quicker
 * (no KASLR, no speculation mitigations, the TSC trusted). `panic=-1` makes a
 * panic end the VM at once instead of waiting.
 */
export function linuxCommandLine(extra = ""): string {
  const acpi = `0x${LINUX_ACPI_BASE.toString(16)}`;
  return [
    "console=ttyS0",
    `acpi_rsdp=${acpi}`,
    `memmap=${LINUX_ACPI_SIZE / 1024}K$${acpi}`,
    "nokaslr",
    "mitigations=off",
    "tsc=reliable",
    "random.trust_cpu=on",
    "panic=-1",
    extra,
  ].filter(Boolean).join(" ");
}

/** The guest software ({@linkcode createLinuxMachine} reads the files). */
export interface LinuxImages {
  /** SeaBIOS `bios.bin`. */
  readonly bios: Uint8Array;
  /** The bzImage. */
  readonly kernel: Uint8Array;
  /** The initramfs. */
  readonly initramfs: Uint8Array;
}

/** Options for {@linkcode createLinuxMachine}. */
export interface LinuxMachineOptions {
  /** The BIOS, kernel and initramfs. */
  readonly images: LinuxImages;
  /** The disk behind virtio-blk (default: the lab's built-in disk). The machine closes it. */
  readonly disk?: BlockBackend;
  /** The console's byte stream (default: in memory). The machine closes it. */
  readonly console?: ConsoleBackend;
  /** Replacements for registry parts (only the device side runs: Linux is the driver). */
  readonly parts?: MachineParts;
  /** Feature bits the devices may offer (default: all). */
  readonly featureMask?: bigint;
  /** The conformance log (default: a new, lenient one). */
  readonly log?: ConformanceLog;
  /** Extra kernel command line words. */
  readonly cmdline?: string;
  /** Every byte of the kernel's serial console, as text. */
  readonly onSerial?: (text: string) => void;
  /** Errors thrown where no caller could take them (default: one line on stderr). */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * A file for the guest's saved state (see {@linkcode LinuxMachine.resumed}):
   * when it holds a state made from the same images, command line and
   * tables, the machine resumes from it; otherwise it boots from the BIOS and
   * saves one there when the init is about to load the virtio modules.
   * Default: none (always boot from the BIOS, save nothing).
   */
  readonly snapshotFile?: string;
}

/** How a Linux machine's run ended. */
export type LinuxExit =
  | { readonly kind: "poweroff" }
  | { readonly kind: "panic"; readonly line: string };

/** One device of the Linux machine (the device side only: Linux drives it). */
export interface LinuxMachineDevice<D extends VirtioDevice = VirtioDevice> {
  /** Its window on the bus. */
  readonly window: MmioWindowInfo;
  /** The device model. */
  readonly device: D;
  /** The register file in the window. */
  readonly transport: MmioDeviceTransport;
}

/** How many serial lines {@linkcode LinuxMachine.serialTail} keeps. */
export const SERIAL_LINES_KEPT = 40;

/** The last lines of a text stream. */
class SerialTail {
  readonly #lines: string[] = [""];

  add(text: string): void {
    const lines = text.split("\n");
    this.#lines[this.#lines.length - 1] += lines[0];
    for (let i = 1; i < lines.length; i++) this.#lines.push(lines[i]);
    while (this.#lines.length > SERIAL_LINES_KEPT + 1) this.#lines.shift();
  }

  lines(): string[] {
    const lines = this.#lines.map((l) => l.replace(/\r/g, ""));
    if (lines[lines.length - 1] === "") lines.pop();
    return lines;
  }
}

/** A Linux machine built by {@linkcode createLinuxMachine}; {@linkcode start} boots it. */
export class LinuxMachine {
  /** The emulator. */
  readonly engine: V86Engine;
  /** Where the devices report the rules the driver broke. */
  readonly log: ConformanceLog;
  /** The lab's MMIO bus the windows are mapped on. */
  readonly bus: MmioBus;
  /** virtio-blk. */
  readonly blk: LinuxMachineDevice<VirtioBlockDevice>;
  /** virtio-console. */
  readonly console: LinuxMachineDevice<VirtioConsoleDevice>;
  /** Errors caught where no caller could take them, oldest first. */
  readonly errors: { readonly error: unknown; readonly where: string }[];
  /** Resolves when the guest powers off or panics. */
  readonly exited: Promise<LinuxExit>;
  /** When {@linkcode start} was called (`performance.now()`), or -1. */
  startedAt = -1;
  /**
   * Whether the machine resumed from a saved state instead of booting from
   * the BIOS. The state is the guest's when its init had started and had
   * not loaded a virtio module: the kernel had never touched a virtio-mmio
   * window, so the lab's devices, fresh in every run, are exactly what it
   * meets either way.
   */
  readonly resumed: boolean;
  /** Resolves once the state is saved (or at once when none is to be saved); never rejects. */
  readonly snapshotSaved: Promise<void>;
  readonly #timing: { readonly acpiWrittenAt: number };
  readonly #backends: { close(): Promise<void> }[];
  readonly #serial: SerialTail;
  #closed = false;

  /** Use {@linkcode createLinuxMachine}. */
  constructor(init: {
    engine: V86Engine;
    serial: SerialTail;
    timing: { readonly acpiWrittenAt: number };
    log: ConformanceLog;
    bus: MmioBus;
    blk: LinuxMachineDevice<VirtioBlockDevice>;
    console: LinuxMachineDevice<VirtioConsoleDevice>;
    errors: { readonly error: unknown; readonly where: string }[];
    exited: Promise<LinuxExit>;
    backends: { close(): Promise<void> }[];
    resumed: boolean;
    snapshotSaved: Promise<void>;
  }) {
    this.resumed = init.resumed;
    this.snapshotSaved = init.snapshotSaved;
    this.engine = init.engine;
    this.#serial = init.serial;
    this.#timing = init.timing;
    this.log = init.log;
    this.bus = init.bus;
    this.blk = init.blk;
    this.console = init.console;
    this.errors = init.errors;
    this.exited = init.exited;
    this.#backends = init.backends;
  }

  /** The last {@linkcode SERIAL_LINES_KEPT} lines of the serial console (kernel messages), oldest first. */
  serialTail(): string[] {
    return this.#serial.lines();
  }

  /** When the ACPI tables were written (`performance.now()`), or -1 while SeaBIOS has not built its own. */
  get acpiWrittenAt(): number {
    return this.#timing.acpiWrittenAt;
  }

  /** MMIO traffic handled in TypeScript so far. */
  get mmio(): MmioCounters {
    return this.engine.counters;
  }

  /** Boots: SeaBIOS, then the kernel, then the init. */
  start(): void {
    this.startedAt = performance.now();
    this.engine.run();
  }

  /** Stops the emulator and closes the backends. Calling it twice does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.engine.destroy().catch(() => {});
    for (const backend of this.#backends) await backend.close().catch(() => {});
  }
}

/**
 * Builds the Linux machine (not started: call {@linkcode LinuxMachine.start}).
 *
 * @throws {PartError} If `parts` names a part the registry does not have.
 * @throws {EmulatorError} If v86 cannot be loaded.
 */
export async function createLinuxMachine(options: LinuxMachineOptions): Promise<LinuxMachine> {
  checkMachineParts(options.parts);
  const errors: { error: unknown; where: string }[] = [];
  const onError = (error: unknown, where: string) => {
    errors.push({ error, where });
    if (errors.length > 100) errors.shift();
    (options.onError ?? ((e, w) => console.error(`virtio-lab: ${w}: ${e}`)))(error, where);
  };
  const serial = new SerialTail();
  const timing = { acpiWrittenAt: -1 };
  let atSnapshotPoint = false;
  let exit!: (how: LinuxExit) => void;
  const exited = new Promise<LinuxExit>((resolve) => (exit = resolve));
  const decoder = new TextDecoder();
  let pendingLine = "";
  const engine = await V86Engine.create({
    bios: options.images.bios,
    kernel: options.images.kernel,
    initrd: options.images.initramfs,
    cmdline: linuxCommandLine(options.cmdline),
    memorySize: LINUX_RAM_SIZE,
    onSerialByte: (byte) => {
      const text = decoder.decode(new Uint8Array([byte]), { stream: true });
      serial.add(text);
      options.onSerial?.(text);
      pendingLine += text;
      if (text === "\n") {
        if (pendingLine.includes("Kernel panic")) exit({ kind: "panic", line: pendingLine.trim() });
        if (pendingLine.includes(`virtio-lab: ${SNAPSHOT_POINT}`)) atSnapshotPoint = true;
        pendingLine = "";
      }
    },
    onPowerOff: () => exit({ kind: "poweroff" }),
    onError,
  });
  const memory = engine.memory;
  const log = options.log ?? new ConformanceLog();
  const bus = new MmioBus({ log, onError });
  const parts = options.parts;
  const disk = options.disk ?? builtinDisk();
  const consoleBackend = options.console ?? new MemoryConsoleBackend();
  const blockDevice = new VirtioBlockDevice(disk, {
    parts: resolveParts(parts, "blk", "device"),
    onError,
  });
  const consoleDevice = new VirtioConsoleDevice(consoleBackend, {
    parts: resolveParts(parts, "console", "device"),
    onError,
  });
  const transportParts = resolveParts(parts, "transport", "device");
  const queueFactory = createSplitQueueDeviceFactory(resolveParts(parts, "virtqueue", "device"));
  const placed: { base: number; device: VirtioDevice }[] = [];
  const place = <D extends VirtioDevice>(device: D, at: MachineWindow): LinuxMachineDevice<D> => {
    const transport = new MmioDeviceTransport(device, {
      memory,
      log,
      name: `${device.name}@0x${at.base.toString(16)}`,
      parts: transportParts,
      queueFactory,
      featureMask: options.featureMask,
    });
    placed.push({ base: at.base, device });
    const window = bus.map(at.base, toIoapic(transport, at.irq, engine), {
      irq: at.irq,
      name: at.name,
    });
    return { window, device, transport };
  };
  const blk = place(blockDevice, LINUX_BLOCK_WINDOW);
  const con = place(consoleDevice, LINUX_CONSOLE_WINDOW);
  const slot = new EmptyMmioSlot(log, `virtio_mmio@0x${LINUX_EMPTY_WINDOW.base.toString(16)}`);
  bus.map(LINUX_EMPTY_WINDOW.base, slot, {
    irq: LINUX_EMPTY_WINDOW.irq,
    name: LINUX_EMPTY_WINDOW.name,
  });
  engine.mapMmio(LINUX_MMIO_BASE, V86_MMAP_BLOCK, bus, configFieldWidth(placed));

  const ssdt = virtioMmioSsdt(
    [LINUX_BLOCK_WINDOW, LINUX_CONSOLE_WINDOW, LINUX_EMPTY_WINDOW].map((w) => ({
      base: w.base,
      size: 0x200,
      gsi: w.irq,
    })),
  );
  const key = await snapshotKey(options.images, linuxCommandLine(options.cmdline), ssdt);
  const saved = options.snapshotFile ? await readSnapshot(options.snapshotFile, key) : null;
  let resumed = false;
  if (saved) {
    try {
      await engine.restoreState(saved);
      resumed = true;
    } catch (error) {
      onError(error, "resuming the saved state (booting from the BIOS instead)");
    }
  }
  let snapshotDone!: () => void;
  const snapshotSaved = new Promise<void>((resolve) => (snapshotDone = resolve));
  if (resumed) {
    // The init waits for a line on the serial port before loading modules.
    engine.sendSerial("go\n");
    snapshotDone();
  } else {
    const stopAcpi = engine.onTick(() => {
      const firmware = findFirmwareTables((address, length) => memory.bytes(address, length));
      if (!firmware) return;
      const layout = layoutAcpiTables(LINUX_ACPI_BASE, LINUX_ACPI_SIZE, firmware.entries, ssdt);
      for (const [address, bytes] of layout.blobs) memory.write(address, bytes);
      timing.acpiWrittenAt = performance.now();
      stopAcpi();
    });
    const stopSnapshot = engine.onTick(() => {
      if (!atSnapshotPoint) return;
      stopSnapshot();
      const file = options.snapshotFile;
      if (!file) {
        engine.sendSerial("go\n");
        snapshotDone();
        return;
      }
      // At the end of this run of the CPU: stop, save, go on.
      (async () => {
        try {
          await engine.stop();
          const state = await engine.saveState();
          engine.run();
          engine.sendSerial("go\n");
          await writeSnapshot(file, key, state);
        } catch (error) {
          onError(error, `saving the guest's state in ${file}`);
          if (!engine.running) engine.run();
          engine.sendSerial("go\n");
        } finally {
          snapshotDone();
        }
      })();
    });
  }

  return new LinuxMachine({
    engine,
    serial,
    timing,
    log,
    bus,
    blk,
    console: con,
    errors,
    exited,
    backends: [consoleBackend, disk],
    resumed,
    snapshotSaved,
  });
}

/** The identity of a saved state: what made it (a state is only good for the same). */
async function snapshotKey(
  images: LinuxImages,
  cmdline: string,
  ssdt: Uint8Array,
): Promise<string> {
  const encoder = new TextEncoder();
  const parts = [
    encoder.encode(`v86 ${V86_VERSION}\0ram ${LINUX_RAM_SIZE}\0${cmdline}\0`),
    images.bios,
    images.kernel,
    images.initramfs,
    ssdt,
  ];
  const hashes = await Promise.all(parts.map((p) => crypto.subtle.digest("SHA-256", p.slice())));
  const all = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => all.set(new Uint8Array(h), i * 32));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Magic of a saved-state file: `VLABSNAP`, then the 64-character key, then the gzipped state. */
const SNAPSHOT_MAGIC = "VLABSNAP";

async function readSnapshot(file: string, key: string): Promise<Uint8Array | null> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    return null;
  }
  const head = new TextDecoder().decode(bytes.subarray(0, SNAPSHOT_MAGIC.length + 64));
  if (head !== SNAPSHOT_MAGIC + key) return null;
  const stream = new Blob([bytes.slice(SNAPSHOT_MAGIC.length + 64)]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return null;
  }
}

async function writeSnapshot(file: string, key: string, state: Uint8Array): Promise<void> {
  const stream = new Blob([state.slice()]).stream().pipeThrough(new CompressionStream("gzip"));
  const packed = new Uint8Array(await new Response(stream).arrayBuffer());
  const head = new TextEncoder().encode(SNAPSHOT_MAGIC + key);
  const out = new Uint8Array(head.length + packed.length);
  out.set(head);
  out.set(packed, head.length);
  const temporary = `${file}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, out);
  await Deno.rename(temporary, file);
}

/**
 * The natural width at an address of the windows: 2 where a 16-bit field of
 * a device's configuration space begins, else 1 (the registers below 0x100
 * are 32-bit, and 32-bit loads arrive whole).
 */
export function configFieldWidth(
  placed: readonly { readonly base: number; readonly device: VirtioDevice }[],
): (address: number) => AccessWidth {
  return (address) => {
    for (const { base, device } of placed) {
      const offset = address - base - VIRTIO_MMIO_CONFIG;
      if (offset >= 0 && offset < 0x200 - VIRTIO_MMIO_CONFIG) {
        const field = device.configLayout.find((f) => f.offset === offset);
        return field?.size === 2 ? 2 : 1;
      }
    }
    return 1;
  };
}

/**
 * The register file as the bus maps it, with its interrupt line wired to an
 * IOAPIC input: the line's level goes to the emulator at once (the guest's
 * interrupt controller does the delivering) and to the bus's line too, so
 * the bus still shows the level.
 */
function toIoapic(transport: MmioDeviceTransport, irq: number, engine: V86Engine): MmioRegion {
  return {
    size: transport.size,
    read: (offset, width) => transport.read(offset, width),
    write: (offset, width, value) => transport.write(offset, width, value),
    connectInterrupt: (line) =>
      transport.connectInterrupt({
        irq: line.irq,
        set: (level) => {
          line.set(level);
          engine.setIrq(irq, level);
        },
      }),
  };
}
