/**
 * The one module that touches the v86 emulator (npm `v86`, pinned in
 * `deno.json`: see {@linkcode V86_VERSION}): it boots a PC with SeaBIOS, a
 * bzImage kernel and an initrd, and gives the lab what a virtual machine
 * monitor needs of it:
 *
 * - MMIO: guest loads and stores in a 128 KiB block of physical address
 *   space reach a handler at the width the guest used (v86 splits 16-bit
 *   loads in two; {@linkcode WidthReassembler} pairs them again);
 * - interrupts: the level of an IOAPIC input (`device_raise_irq` /
 *   `device_lower_irq`);
 * - guest RAM as a {@linkcode GuestMemory} over the emulator's WebAssembly
 *   memory, zero-copy, that follows the memory when it grows (growing
 *   detaches the old buffer);
 * - the serial port's output, power-off (the ACPI PM1a control register's
 *   SLP_EN), and a hook after every run of the CPU.
 *
 * Everything here beyond `new V86(...)`, `add_listener`, `run` and `destroy`
 * is v86's private API (`emulator.v86.cpu`, `cpu.io.mmap_register`,
 * `cpu.wasm_memory`, ...): a new v86 version may change it, which is why the
 * version is pinned exactly and the unit tests of this module check each
 * piece against the running emulator.
 *
 * @module
 */

import { V86 } from "v86";
import { GuestMemory } from "../memory/guest_memory.ts";
import { type FieldWidthAt, WidthReassembler, type WidthTarget } from "./access_width.ts";

/** The v86 version this adapter is written for (the `npm:v86@...` pin in `deno.json`). */
export const V86_VERSION = "0.5.462";

/** How long {@linkcode V86Engine.create} waits for v86 to load, in milliseconds. */
export const V86_LOAD_TIMEOUT_MS = 60_000;

/** v86 maps physical address space in blocks of this many bytes (128 KiB). */
export const V86_MMAP_BLOCK = 0x2_0000;

/** The ACPI PM1a control port v86 emulates (`PM1a_CNT_BLK` in SeaBIOS's FADT). */
export const V86_PM1A_CNT_PORT = 0xb004;
/** `SLP_EN` in PM1 control (ACPI 6.4 §4.8.3.2.1): the guest asks to enter the sleep state `SLP_TYP`. */
export const ACPI_SLP_EN = 1 << 13;

/** Why an emulator could not be started or stopped. */
export class EmulatorError extends Error {
  /** What failed, e.g. `"load"`, `"mmio"`. */
  readonly stage: string;
  /**
   * @param message What happened.
   * @param stage What failed.
   * @param options The cause.
   */
  constructor(message: string, stage: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EmulatorError";
    this.stage = stage;
  }
}

/** What to boot. */
export interface V86BootImages {
  /** The BIOS image (SeaBIOS's `bios.bin`). */
  readonly bios: Uint8Array;
  /** A bzImage kernel (none: the BIOS boots alone). */
  readonly kernel?: Uint8Array;
  /** The initrd (loaded at 64 MiB by v86, so RAM must be larger). */
  readonly initrd?: Uint8Array;
  /** The kernel command line. */
  readonly cmdline?: string;
}

/** Options for {@linkcode V86Engine.create}. */
export interface V86EngineOptions extends V86BootImages {
  /** Guest RAM in bytes (a multiple of 128 KiB, more than 64 MiB plus the initrd). */
  readonly memorySize: number;
  /** Called with every byte the guest writes to its first serial port. */
  readonly onSerialByte?: (byte: number) => void;
  /** Called once when the guest powers off through ACPI (`SLP_EN`). */
  readonly onPowerOff?: () => void;
  /**
   * Called with every error thrown by a handler the emulator calls (an MMIO
   * handler, a tick hook): the emulator's loop must not see it. Default: stderr.
   */
  readonly onError?: (error: unknown, where: string) => void;
}

/** Counters of the MMIO traffic handled in TypeScript. */
export interface MmioCounters {
  /** Loads the guest made, at their real width. */
  reads: number;
  /** Stores the guest made. */
  writes: number;
  /** 16-bit loads put back together from two 8-bit ones. */
  paired16: number;
}

/** Shape of the v86 internals this adapter uses (private API of {@linkcode V86_VERSION}). */
interface V86Cpu {
  io: {
    mmap_register(
      addr: number,
      size: number,
      read8: (addr: number) => number,
      write8: (addr: number, value: number) => void,
      read32: (addr: number) => number,
      write32: (addr: number, value: number) => void,
    ): void;
    ports: { write16: (this: unknown, value: number) => void; device: unknown }[];
  };
  mmap_write16: (addr: number, value: number) => void;
  memory_map_write8: ((addr: number, value: number) => void)[];
  device_raise_irq(irq: number): void;
  device_lower_irq(irq: number): void;
  wasm_memory: WebAssembly.Memory;
  mem8: Uint8Array;
  read8(addr: number): number;
  read16(addr: number): number;
  read32s(addr: number): number;
  write8(addr: number, value: number): void;
  write16(addr: number, value: number): void;
  write32(addr: number, value: number): void;
  memory_size: Int32Array | Uint32Array;
  main_loop: () => number;
  codegen_finalize_finished: (...args: number[]) => void;
}

interface V86Emulator {
  v86: { cpu: V86Cpu };
  add_listener(event: string, listener: (value: unknown) => void): void;
  run(): Promise<void> | void;
  stop(): Promise<void> | void;
  destroy(): Promise<void> | void;
  is_running(): boolean;
  save_state(): Promise<ArrayBuffer>;
  restore_state(state: ArrayBuffer): Promise<void>;
  serial0_send(data: string): void;
}

/** The emulator's WebAssembly module (`build/v86.wasm` of the pinned package). */
export async function loadV86Wasm(): Promise<Uint8Array> {
  const url = new URL("v86.wasm", import.meta.resolve("v86"));
  try {
    return await Deno.readFile(url);
  } catch (error) {
    throw new EmulatorError(
      `Cannot read v86's WebAssembly module at ${url.pathname}: run \`deno install\``,
      "load",
      { cause: error },
    );
  }
}

/**
 * A running v86 PC.
 *
 * @example
 * ```ts ignore
 * const engine = await V86Engine.create({ bios, kernel, initrd, cmdline, memorySize: 128 << 20 });
 * engine.mapMmio(0xfef00000, V86_MMAP_BLOCK, bus, widthAt);
 * engine.run();
 * ```
 */
export class V86Engine {
  readonly #emulator: V86Emulator;
  readonly #cpu: V86Cpu;
  readonly #memory: GuestMemory;
  readonly #onError: (error: unknown, where: string) => void;
  readonly #tickHooks: (() => void)[] = [];
  readonly #mmio: { base: number; end: number; bus: WidthReassembler }[] = [];
  #destroyed = false;
  readonly #counts = { reads: 0, writes: 0 };

  private constructor(
    emulator: V86Emulator,
    onError: (error: unknown, where: string) => void,
  ) {
    this.#emulator = emulator;
    this.#cpu = emulator.v86.cpu;
    this.#onError = onError;
    const { buffer, byteOffset, size } = this.#ramLocation();
    this.#memory = GuestMemory.wrap(buffer, { byteOffset, byteLength: size });
    this.#hookRuns();
  }

  /**
   * Loads the emulator with the images (it does not run yet: map MMIO first,
   * then {@linkcode run}).
   *
   * @throws {EmulatorError} If the WebAssembly module cannot be read or v86 fails to start.
   */
  static async create(options: V86EngineOptions): Promise<V86Engine> {
    const module = await WebAssembly.compile(await loadV86Wasm() as Uint8Array<ArrayBuffer>);
    const onError = options.onError ??
      ((error: unknown, where: string) => console.error(`virtio-lab: ${where}:`, error));
    const copy = (bytes: Uint8Array) => bytes.slice().buffer;
    let emulator: V86Emulator;
    try {
      emulator = new V86(
        {
          wasm_fn: async (imports: WebAssembly.Imports) =>
            (await WebAssembly.instantiate(module, imports)).exports,
          bios: { buffer: copy(options.bios) },
          bzimage: options.kernel ? { buffer: copy(options.kernel) } : undefined,
          initrd: options.initrd ? { buffer: copy(options.initrd) } : undefined,
          cmdline: options.cmdline,
          memory_size: options.memorySize,
          vga_memory_size: 2 * 1024 * 1024,
          autostart: false,
          disable_keyboard: true,
          disable_mouse: true,
          disable_speaker: true,
          acpi: true,
          fastboot: true,
        } as unknown as ConstructorParameters<typeof V86>[0],
      ) as unknown as V86Emulator;
      // v86 reports a failure to load only on the console: give it a minute.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve, reject) => {
        emulator.add_listener("emulator-loaded", () => resolve());
        timer = setTimeout(
          () => reject(new Error("it did not finish loading in 60 s")),
          V86_LOAD_TIMEOUT_MS,
        );
      }).finally(() => clearTimeout(timer));
    } catch (error) {
      throw new EmulatorError(`v86 ${V86_VERSION} failed to start: ${error}`, "load", {
        cause: error,
      });
    }
    const engine = new V86Engine(emulator, onError);
    if (options.onSerialByte) {
      const onByte = options.onSerialByte;
      emulator.add_listener("serial0-output-byte", (byte) => onByte(byte as number));
    }
    if (options.onPowerOff) engine.#hookPowerOff(options.onPowerOff);
    return engine;
  }

  /** MMIO traffic handled in TypeScript so far. */
  get counters(): MmioCounters {
    return {
      reads: this.#counts.reads,
      writes: this.#counts.writes,
      paired16: this.#mmio.reduce((n, m) => n + m.bus.paired, 0),
    };
  }

  /** Guest RAM (physical address 0 up), following the emulator's memory when it grows. */
  get memory(): GuestMemory {
    return this.#memory;
  }

  /** The emulator's WebAssembly memory (guest RAM is a slice of it; see {@linkcode memory}). */
  get wasmMemory(): WebAssembly.Memory {
    return this.#cpu.wasm_memory;
  }

  /**
   * A physical load as the emulated CPU makes it, through the emulator's own
   * memory path (RAM, or a block {@linkcode mapMmio} mapped): for tests and
   * tools that check what the guest would see.
   *
   * @param address Guest-physical address.
   * @param width 1, 2 or 4 bytes.
   * @returns The unsigned value.
   */
  physicalRead(address: number, width: 1 | 2 | 4): number {
    const cpu = this.#cpu;
    if (width === 1) return cpu.read8(address | 0) & 0xff;
    if (width === 2) return cpu.read16(address | 0) & 0xffff;
    return cpu.read32s(address | 0) >>> 0;
  }

  /**
   * A physical store as the emulated CPU makes it (see {@linkcode physicalRead}).
   *
   * @param address Guest-physical address.
   * @param width 1, 2 or 4 bytes.
   * @param value The value (truncated to the width).
   */
  physicalWrite(address: number, width: 1 | 2 | 4, value: number): void {
    const cpu = this.#cpu;
    if (width === 1) cpu.write8(address | 0, value & 0xff);
    else if (width === 2) cpu.write16(address | 0, value & 0xffff);
    else cpu.write32(address | 0, value | 0);
  }

  /** Size of guest RAM, in bytes. */
  get memorySize(): number {
    return this.#memory.size;
  }

  /**
   * Where guest RAM is in the WebAssembly memory now. `cpu.mem8` is a view
   * v86 re-creates on every use (it too follows growth), so its offset and
   * length are RAM's.
   */
  #ramLocation(): { buffer: ArrayBufferLike; byteOffset: number; size: number } {
    const mem8 = this.#cpu.mem8;
    const buffer = this.#cpu.wasm_memory.buffer;
    return { buffer, byteOffset: mem8.byteOffset, size: mem8.length };
  }

  /**
   * Points {@linkcode memory} at the WebAssembly memory's buffer if it was
   * replaced (the memory grew). Called after every run of the CPU and every
   * JIT completion (the only calls into the module that allocate), and at the
   * start of every MMIO access.
   */
  followMemory(): void {
    const buffer = this.#cpu.wasm_memory.buffer;
    if (buffer !== this.#memory.buffer) {
      this.#memory.follow(buffer, this.#cpu.mem8.byteOffset);
    }
  }

  #hookRuns(): void {
    const cpu = this.#cpu;
    const mainLoop = cpu.main_loop;
    cpu.main_loop = () => {
      const next = mainLoop();
      this.followMemory();
      for (const hook of this.#tickHooks) {
        try {
          hook();
        } catch (error) {
          this.#onError(error, "a tick hook");
        }
      }
      return next;
    };
    const finalize = cpu.codegen_finalize_finished;
    cpu.codegen_finalize_finished = (...args: number[]) => {
      finalize(...args);
      this.followMemory();
    };
  }

  #hookPowerOff(onPowerOff: () => void): void {
    const port = this.#cpu.io.ports[V86_PM1A_CNT_PORT];
    const write16 = port.write16;
    let done = false;
    port.write16 = function (this: unknown, value: number) {
      write16.call(this, value);
      if ((value & ACPI_SLP_EN) !== 0 && !done) {
        done = true;
        queueMicrotask(onPowerOff);
      }
    };
  }

  /**
   * Runs `hook` after every run of the CPU (v86 runs it in slices of about a
   * millisecond between event-loop turns).
   *
   * @returns A function that removes the hook.
   */
  onTick(hook: () => void): () => void {
    this.#tickHooks.push(hook);
    return () => {
      const at = this.#tickHooks.indexOf(hook);
      if (at >= 0) this.#tickHooks.splice(at, 1);
    };
  }

  /**
   * Maps `[base, base + size)` of physical address space to `target`: every
   * load and store there reaches it at the guest's width. An access the
   * target throws on is reported to `onError` and reads as all ones (a
   * store is dropped), as a PC bus answers an access nothing decodes.
   *
   * @param base A multiple of {@linkcode V86_MMAP_BLOCK}, above RAM.
   * @param size A multiple of {@linkcode V86_MMAP_BLOCK}.
   * @param target The lab's MMIO bus (or anything with its `read`/`write`).
   * @param widthAt The natural width at an address (for pairing 16-bit loads).
   * @throws {RangeError} If the block is misaligned or overlaps RAM or another block.
   */
  mapMmio(base: number, size: number, target: WidthTarget, widthAt: FieldWidthAt): void {
    if (base % V86_MMAP_BLOCK !== 0 || size <= 0 || size % V86_MMAP_BLOCK !== 0) {
      throw new RangeError(
        `MMIO block 0x${base.toString(16)}+0x${
          size.toString(16)
        } is not made of aligned 128 KiB blocks`,
      );
    }
    if (base < this.memorySize) {
      throw new RangeError(`MMIO block 0x${base.toString(16)} overlaps guest RAM`);
    }
    if (this.#mmio.some((m) => base < m.end && m.base < base + size)) {
      throw new RangeError(`MMIO block 0x${base.toString(16)} overlaps one already mapped`);
    }
    const counters = this.#counts;
    const onError = this.#onError;
    const guarded: WidthTarget = {
      read: (address, width) => {
        this.followMemory();
        counters.reads++;
        try {
          return target.read(address, width);
        } catch (error) {
          onError(error, `${width * 8}-bit MMIO load at 0x${address.toString(16)}`);
          return width === 4 ? 0xffff_ffff : width === 2 ? 0xffff : 0xff;
        }
      },
      write: (address, width, value) => {
        this.followMemory();
        counters.writes++;
        try {
          target.write(address, width, value);
        } catch (error) {
          onError(error, `${width * 8}-bit MMIO store at 0x${address.toString(16)}`);
        }
      },
    };
    const bus = new WidthReassembler(guarded, widthAt);
    this.#mmio.push({ base, end: base + size, bus });
    this.#cpu.io.mmap_register(
      base,
      size,
      // v86 passes addresses as signed 32-bit integers: 0xfef00000 is negative.
      (address) => bus.read8(address >>> 0),
      (address, value) => bus.write8(address >>> 0, value),
      (address) => bus.read32(address >>> 0),
      (address, value) => bus.write32(address >>> 0, value),
    );
    if (this.#mmio.length === 1) this.#hookWrite16();
  }

  /**
   * v86 passes 16-bit stores to `cpu.mmap_write16`, which splits them into
   * two 8-bit stores; inside a mapped block they go to the block's
   * {@linkcode WidthReassembler} whole.
   */
  #hookWrite16(): void {
    const cpu = this.#cpu;
    const original = cpu.mmap_write16;
    const blocks = this.#mmio;
    cpu.mmap_write16 = (signed: number, value: number) => {
      const address = signed >>> 0;
      for (let i = 0; i < blocks.length; i++) {
        const block = blocks[i];
        if (address >= block.base && address + 1 < block.end) {
          block.bus.write16(address, value);
          return;
        }
      }
      original.call(cpu, signed, value);
    };
  }

  /**
   * Sets the level of an IOAPIC input (level-triggered: the guest sees an
   * interrupt while it is high and after each EOI while it stays high).
   *
   * @param irq The input (0-23).
   * @param level The new level.
   */
  setIrq(irq: number, level: boolean): void {
    if (this.#destroyed) return;
    if (level) this.#cpu.device_raise_irq(irq);
    else this.#cpu.device_lower_irq(irq);
  }

  /** Stops the CPU at the end of its current run (resume with {@linkcode run}). */
  async stop(): Promise<void> {
    await this.#emulator.stop();
  }

  /**
   * The whole machine's state (CPU, RAM, v86's own devices), as v86 saves
   * it; the CPU must be stopped. The lab's devices are not in it: a state is
   * only good to restore while the guest has not touched them.
   */
  async saveState(): Promise<Uint8Array> {
    return new Uint8Array(await this.#emulator.save_state());
  }

  /**
   * Puts the machine back in a state {@linkcode saveState} made (with the
   * same images and RAM size), before {@linkcode run}.
   *
   * @throws {EmulatorError} If v86 refuses the state.
   */
  async restoreState(state: Uint8Array): Promise<void> {
    try {
      await this.#emulator.restore_state(state.slice().buffer);
    } catch (error) {
      throw new EmulatorError(`v86 could not restore the saved state: ${error}`, "restore", {
        cause: error,
      });
    }
    this.followMemory();
  }

  /** Sends text to the guest's first serial port (its receive line). */
  sendSerial(text: string): void {
    this.#emulator.serial0_send(text);
  }

  /** Starts (or resumes) the CPU. */
  run(): void {
    void this.#emulator.run();
  }

  /** Whether the CPU is running. */
  get running(): boolean {
    return !this.#destroyed && this.#emulator.is_running();
  }

  /** Stops the CPU and releases the emulator. Calling it twice does nothing. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#emulator.stop();
    await this.#emulator.destroy();
  }
}
