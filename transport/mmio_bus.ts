/**
 * The MMIO bus of a lab machine: address windows mapped to register files,
 * 8/16/32-bit loads and stores routed to them the way a CPU's bus does, and
 * level-triggered interrupt lines delivered to handlers. It can describe its
 * windows as device-tree nodes (`compatible = "virtio,mmio"`, `reg`,
 * `interrupts`), as virtio v1.2 §4.2.1 suggests.
 *
 * Interrupts are delivered asynchronously (in a microtask), never inside the
 * register access that raised them: like a CPU taking the interrupt after the
 * current instruction, this keeps a driver's handler from running re-entrantly
 * in the middle of its own notification write.
 *
 * @module
 */

import type { ConformanceLog, ConformanceReporter } from "../conformance/log.ts";
import type { AccessWidth, InterruptLine, MmioRegion, RegisterWindow } from "./types.ts";

const INSPECT = Symbol.for("Deno.customInspect");

/** `[0x0001e000, 0x0001e200)`: a window's addresses, end excluded. */
function hexRange(base: number, size: number): string {
  const h = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
  return `[${h(base)}, ${h(base + size)})`;
}

/** A load or store that no window decodes (a bus fault), or of a width a CPU cannot make. */
export class MmioBusError extends RangeError {
  /** Guest-physical address of the access. */
  readonly address: number;
  /** Width of the access, in bytes. */
  readonly width: number;
  /** `"read"` or `"write"`. */
  readonly kind: "read" | "write";

  /**
   * Records the faulting access.
   *
   * @param message What went wrong.
   * @param address Guest-physical address.
   * @param width Width in bytes.
   * @param kind `"read"` or `"write"`.
   */
  constructor(message: string, address: number, width: number, kind: "read" | "write") {
    super(message);
    this.name = "MmioBusError";
    this.address = address;
    this.width = width;
    this.kind = kind;
  }
}

/** One mapped window. */
export interface MmioWindowInfo {
  /** Device-tree node name, e.g. `"virtio_block"`. */
  readonly name: string;
  /** Guest-physical base address. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
  /** Interrupt line number. */
  readonly irq: number;
  /** The register file behind the window. */
  readonly region: MmioRegion;
}

/** A device-tree node describing one window (§4.2.1). */
export interface DeviceTreeNode {
  /** Node name with unit address, e.g. `"virtio_block@1e000"`. */
  readonly node: string;
  /** Always `"virtio,mmio"`. */
  readonly compatible: "virtio,mmio";
  /** `[base, size]`. */
  readonly reg: readonly [number, number];
  /** `[irq]`. */
  readonly interrupts: readonly [number];
}

/** An interrupt handler; runs in a microtask after the line goes high. */
export type InterruptHandler = () => void;

interface IrqState {
  level: boolean;
  scheduled: boolean;
  masked: boolean;
  storm: number;
  deliveries: number;
  readonly handlers: Set<InterruptHandler>;
  /**
   * The handlers as a list, replaced (never changed) when one is added or
   * removed: a delivery runs the list it started with.
   */
  list: readonly InterruptHandler[];
  readonly reporter: ConformanceReporter | null;
  /** Runs a delivery of this line; queued as the microtask, made once. */
  deliver: () => void;
}

/** Options for {@linkcode MmioBus}. */
export interface MmioBusOptions {
  /** Where a line that is never acknowledged is reported (4.2.3.4.1/3). */
  readonly log?: ConformanceLog;
  /**
   * Deliveries in a row with the line never dropping before the line is
   * masked as an interrupt storm (default 10 000).
   */
  readonly stormLimit?: number;
  /**
   * Called with every error thrown in an interrupt delivery, where no caller
   * can take it: a handler's, or a strict log's `ConformanceError` for a storm
   * (the line is masked first). `where` says which line and step, e.g.
   * `"IRQ 42 handler"`. Default: `console.error`. A lab machine passes its
   * error sink.
   */
  readonly onError?: (error: unknown, where: string) => void;
  /** Called when a handler throws, instead of {@linkcode onError}. */
  readonly onHandlerError?: (error: unknown, irq: number) => void;
}

/**
 * Address decoding for MMIO windows plus an interrupt controller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MmioBus } from "./mmio_bus.ts";
 * import { MmioDeviceTransport } from "./mmio_device.ts";
 * import { ConformanceLog } from "../conformance/log.ts";
 * import { GuestMemory } from "../memory/guest_memory.ts";
 * import { MemoryBlockBackend, VirtioBlockDevice } from "../devices/mod.ts";
 * const log = new ConformanceLog();
 * const memory = new GuestMemory(1 << 20);
 * const device = new VirtioBlockDevice(new MemoryBlockBackend(64 * 512));
 * const bus = new MmioBus({ log });
 * bus.map(0x1e000, new MmioDeviceTransport(device, { memory, log }), {
 *   irq: 42,
 *   name: "virtio_block",
 * });
 * assert.equal(bus.read(0x1e000, 4), 0x74726976); // MagicValue: "virt"
 * assert.equal(bus.window(0x1e000).read32(0x008), 2); // DeviceID: block
 * ```
 */
export class MmioBus {
  readonly #windows: MmioWindowInfo[] = [];
  readonly #irqs = new Map<number, IrqState>();
  readonly #log: ConformanceLog | undefined;
  readonly #stormLimit: number;
  readonly #onHandlerError: (error: unknown, irq: number) => void;
  readonly #onError: (error: unknown, where: string) => void;
  #pending = 0;
  #idleWaiters: (() => void)[] = [];

  /**
   * Creates a bus with no windows mapped.
   *
   * @param options Log, storm limit, error hooks.
   */
  constructor(options: MmioBusOptions = {}) {
    this.#log = options.log;
    this.#stormLimit = options.stormLimit ?? 10_000;
    const onError = options.onError ??
      ((error: unknown, where: string) => console.error(`${where} threw:`, error));
    this.#onError = onError;
    this.#onHandlerError = options.onHandlerError ??
      ((error, irq) => onError(error, `IRQ ${irq} handler`));
  }

  /** The mapped windows, in address order. */
  get windows(): readonly MmioWindowInfo[] {
    return this.#windows;
  }

  /**
   * Maps a register file at `base`.
   *
   * @param base Guest-physical base address, aligned to the window size.
   * @param region The register file.
   * @param options Interrupt line and node name.
   * @returns The window.
   * @throws {RangeError} If the window overlaps another or is misaligned.
   */
  map(
    base: number,
    region: MmioRegion,
    options: { readonly irq: number; readonly name: string },
  ): MmioWindowInfo {
    if (!Number.isSafeInteger(base) || base < 0 || base % 4 !== 0) {
      throw new RangeError(`Window base 0x${base.toString(16)} is not a 4-byte aligned address`);
    }
    const clash = this.#windows.find((w) => base < w.base + w.size && w.base < base + region.size);
    if (clash) {
      throw new RangeError(
        `Window ${options.name}@0x${base.toString(16)} overlaps ${clash.name}@0x${
          clash.base.toString(16)
        }`,
      );
    }
    const window: MmioWindowInfo = Object.freeze(Object.defineProperty(
      {
        name: options.name,
        base,
        size: region.size,
        irq: options.irq,
        region,
      },
      INSPECT,
      {
        // The REPL's view: the window in hex, not the register file's dump.
        value: () =>
          `${options.name} window ${hexRange(base, region.size)} irq ${options.irq} ` +
          `(.region: its register file)`,
      },
    ));
    this.#windows.push(window);
    this.#windows.sort((a, b) => a.base - b.base);
    const irq = this.#irq(options.irq, `${options.name}@0x${base.toString(16)}`);
    region.connectInterrupt?.(this.#line(options.irq, irq));
    return window;
  }

  /**
   * The window that decodes an address.
   *
   * @param address Guest-physical address.
   */
  find(address: number): MmioWindowInfo | undefined {
    const windows = this.#windows;
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i];
      if (address >= w.base && address < w.base + w.size) return w;
    }
    return undefined;
  }

  #decode(address: number, width: number, kind: "read" | "write"): MmioWindowInfo {
    if (width !== 1 && width !== 2 && width !== 4) {
      throw new MmioBusError(
        `A ${width}-byte ${kind} is not an access this bus carries`,
        address,
        width,
        kind,
      );
    }
    const window = this.find(address);
    if (!window || address + width > window.base + window.size) {
      throw new MmioBusError(
        `Bus fault: ${width * 8}-bit ${kind} at 0x${address.toString(16)} ` +
          (window ? `crosses the end of ${window.name}` : "hits no mapped window"),
        address,
        width,
        kind,
      );
    }
    return window;
  }

  /**
   * A load of `width` bytes.
   *
   * @param address Guest-physical address.
   * @param width 1, 2 or 4.
   * @returns The unsigned value.
   * @throws {MmioBusError} On a bus fault.
   */
  read(address: number, width: AccessWidth): number {
    const window = this.#decode(address, width, "read");
    return window.region.read(address - window.base, width);
  }

  /**
   * A store of `width` bytes (the value is truncated to the width).
   *
   * @param address Guest-physical address.
   * @param width 1, 2 or 4.
   * @param value The value.
   * @throws {MmioBusError} On a bus fault.
   */
  write(address: number, width: AccessWidth, value: number): void {
    const window = this.#decode(address, width, "write");
    const masked = width === 4 ? value >>> 0 : value & ((1 << (8 * width)) - 1);
    window.region.write(address - window.base, width, masked);
  }

  /** 32-bit load. @throws {MmioBusError} On a bus fault. */
  read32(address: number): number {
    return this.read(address, 4);
  }
  /** 16-bit load. @throws {MmioBusError} On a bus fault. */
  read16(address: number): number {
    return this.read(address, 2);
  }
  /** 8-bit load. @throws {MmioBusError} On a bus fault. */
  read8(address: number): number {
    return this.read(address, 1);
  }
  /** 32-bit store. @throws {MmioBusError} On a bus fault. */
  write32(address: number, value: number): void {
    this.write(address, 4, value);
  }
  /** 16-bit store. @throws {MmioBusError} On a bus fault. */
  write16(address: number, value: number): void {
    this.write(address, 2, value);
  }
  /** 8-bit store. @throws {MmioBusError} On a bus fault. */
  write8(address: number, value: number): void {
    this.write(address, 1, value);
  }

  /**
   * The driver's view of a window: accesses at offsets from its base.
   *
   * @param base The window's base address.
   * @throws {RangeError} If no window starts there.
   */
  window(base: number): RegisterWindow {
    const info = this.#windows.find((w) => w.base === base);
    if (!info) throw new RangeError(`No window is mapped at 0x${base.toString(16)}`);
    const window: RegisterWindow = {
      base,
      size: info.size,
      read32: (offset) => this.read(base + offset, 4),
      write32: (offset, value) => this.write(base + offset, 4, value),
      read16: (offset) => this.read(base + offset, 2),
      write16: (offset, value) => this.write(base + offset, 2, value),
      read8: (offset) => this.read(base + offset, 1),
      write8: (offset, value) => this.write(base + offset, 1, value),
    };
    return Object.defineProperty(window, INSPECT, {
      value: () =>
        `RegisterWindow ${info.name} ${hexRange(base, info.size)}: read32/16/8(offset), ` +
        `write32/16/8(offset, value)`,
    });
  }

  // ------------------------------------------------------------ interrupts

  /**
   * Registers a handler for an interrupt line.
   *
   * @param irq Line number.
   * @param handler Runs in a microtask whenever the line is high.
   * @returns A function that removes the handler.
   */
  onInterrupt(irq: number, handler: InterruptHandler): () => void {
    const state = this.#irq(irq, `irq ${irq}`);
    state.handlers.add(handler);
    state.list = [...state.handlers];
    if (state.level) this.#schedule(state);
    return () => {
      const removed = state.handlers.delete(handler);
      state.list = [...state.handlers];
      return removed;
    };
  }

  /**
   * Interrupt deliveries so far.
   *
   * @param irq Line number.
   */
  interruptCount(irq: number): number {
    return this.#irqs.get(irq)?.deliveries ?? 0;
  }

  /** Whether a line is high now. */
  interruptLevel(irq: number): boolean {
    return this.#irqs.get(irq)?.level ?? false;
  }

  /** Whether a line was masked as a storm. */
  interruptMasked(irq: number): boolean {
    return this.#irqs.get(irq)?.masked ?? false;
  }

  /**
   * Resolves once no interrupt delivery is pending (handlers may have started
   * new work; call again to wait for that too).
   */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #irq(irq: number, source: string): IrqState {
    let state = this.#irqs.get(irq);
    if (!state) {
      const created: IrqState = {
        level: false,
        scheduled: false,
        masked: false,
        storm: 0,
        deliveries: 0,
        handlers: new Set(),
        list: [],
        reporter: this.#log?.scoped(source) ?? null,
        deliver: () => this.#deliver(irq, created),
      };
      state = created;
      this.#irqs.set(irq, state);
    }
    return state;
  }

  #line(irq: number, state: IrqState): InterruptLine {
    return {
      irq,
      set: (level: boolean) => {
        if (!level) {
          state.storm = 0;
          state.masked = false;
        }
        state.level = level;
        if (level) this.#schedule(state);
      },
    };
  }

  #schedule(state: IrqState): void {
    if (state.scheduled || state.masked || state.handlers.size === 0) return;
    state.scheduled = true;
    this.#pending++;
    queueMicrotask(state.deliver);
  }

  #deliver(irq: number, state: IrqState): void {
    state.scheduled = false;
    try {
      if (!state.level || state.masked) return;
      state.deliveries++;
      const handlers = state.list;
      for (let i = 0; i < handlers.length; i++) {
        try {
          handlers[i]();
        } catch (error) {
          this.#onHandlerError(error, irq);
        }
      }
      if (state.level) {
        // Level-triggered: still high after the handlers, so deliver again.
        if (++state.storm >= this.#stormLimit) {
          state.masked = true;
          try {
            state.reporter?.report(
              "4.2.3.4.1/3",
              `Interrupt line ${irq} stayed high through ${state.storm} deliveries: the handler never acknowledged`,
              { irq, deliveries: state.storm },
              "line masked until it drops",
            );
          } catch (error) {
            // A strict log throws here, in the delivery microtask: nothing
            // can take it but the error hook. The line is masked already.
            this.#onError(error, `IRQ ${irq} storm detection`);
          }
        } else {
          this.#schedule(state);
        }
      }
    } finally {
      if (--this.#pending === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    }
  }

  /** Text form for the REPL: the windows, in hex, and their interrupt lines. */
  [INSPECT](): string {
    const lines = [`MmioBus: ${this.#windows.length} window(s)`];
    for (const w of this.#windows) {
      lines.push(
        `  ${w.name.padEnd(16)} ${hexRange(w.base, w.size)} irq ${w.irq} ` +
          `(${this.interruptCount(w.irq)} interrupt(s) delivered)`,
      );
    }
    return lines.join("\n");
  }

  // ------------------------------------------------------------- device tree

  /** Every window as a device-tree node (§4.2.1). */
  deviceTree(): DeviceTreeNode[] {
    return this.#windows.map((w) => ({
      node: `${w.name}@${w.base.toString(16)}`,
      compatible: "virtio,mmio",
      reg: [w.base, w.size],
      interrupts: [w.irq],
    }));
  }

  /** The device tree as DTS source text, one node per window. */
  dts(): string {
    return this.deviceTree().map((n) =>
      `${n.node} {\n\tcompatible = "${n.compatible}";\n` +
      `\treg = <0x${n.reg[0].toString(16)} 0x${n.reg[1].toString(16)}>;\n` +
      `\tinterrupts = <${n.interrupts[0]}>;\n};`
    ).join("\n\n");
  }
}
