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
import { type MmioCounters, V86_MMAP_BLOCK, V86Engine } from "./v86_adapter.ts";

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
  }) {
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
  const stopAcpi = engine.onTick(() => {
    const firmware = findFirmwareTables((address, length) => memory.bytes(address, length));
    if (!firmware) return;
    const layout = layoutAcpiTables(LINUX_ACPI_BASE, LINUX_ACPI_SIZE, firmware.entries, ssdt);
    for (const [address, bytes] of layout.blobs) memory.write(address, bytes);
    timing.acpiWrittenAt = performance.now();
    stopAcpi();
  });

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
  });
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
