/**
 * The virtio console driver (virtio v1.2 §5.3), in the manner of Linux's
 * `drivers/char/virtio_console.c`: receive buffers kept posted and surfaced
 * as a `ReadableStream`, output copied into guest buffers and posted on the
 * transmitq, emergency write through `emerg_wr`, and the console size from
 * configuration space; with VIRTIO_CONSOLE_F_MULTIPORT, the control queues
 * and every port the device announces, each with its own stream and writes
 * ({@linkcode VirtioConsolePort}).
 *
 * @module
 */

import { type GuestAllocator, GuestOutOfMemoryError } from "../../memory/allocator.ts";
import { VIRTIO_ID_CONSOLE } from "../../virtio/device_ids.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { VirtioDriver, VirtioDriverContext } from "../../virtio/driver.ts";
import { type DriverQueue, VirtqueueFullError } from "../../virtqueue/types.ts";
import { mergeParts } from "../common.ts";
import type { ConsoleResizeListener, ConsoleSize } from "./backends.ts";
import { type DriverConsolePort, type DriverControlState, encodeControl } from "./control.ts";
import { type ConsoleDriverParts, REFERENCE_CONSOLE_DRIVER_PARTS } from "./parts.ts";
import {
  portReceiveq,
  portTransmitq,
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONTROL_RECEIVEQ,
  VIRTIO_CONSOLE_CONTROL_TRANSMITQ,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_PORT_OPEN,
} from "./constants.ts";

/** Most ports the driver sets queues up for (`max_nr_ports`): 2 * 511 + 2 = 1024 queues. */
const MAX_DRIVER_PORTS = 511;

/** Control receive buffers kept posted. */
const CONTROL_BUFFERS = 8;

/** Options for {@linkcode VirtioConsoleDriver}. */
export interface VirtioConsoleDriverOptions {
  /** Receive buffers kept posted on each port's receiveq (default 16). */
  readonly receiveBuffers?: number;
  /** Size of each receive buffer, control receive buffers included, in bytes (default 4096). */
  readonly receiveBufferSize?: number;
  /** Largest transmit chain, in bytes: bigger writes are split (default 4096). */
  readonly transmitChunkSize?: number;
  /** Transmit chains in flight at once, per port (default 16). */
  readonly maxTransmitInFlight?: number;
  /**
   * Bytes a port's readable stream buffers before the driver stops
   * re-posting its receive buffers, which stops the device reading its
   * backend (default 65536).
   */
  readonly readableHighWaterMark?: number;
  /** Replacements for some of the driver-side parts (default: the reference ones). */
  readonly parts?: Partial<ConsoleDriverParts>;
}

/** The console driver cannot do what was asked. */
export class ConsoleDriverError extends Error {
  /** `"not-bound"`, `"closed"`, `"removed"`, `"not-negotiated"`, `"queue-broken"`, `"needs-reset"`, `"reset"` or `"no-port"`. */
  readonly code: string;

  /**
   * Records the reason.
   *
   * @param code A short machine-readable reason.
   * @param message One sentence with the values that matter.
   */
  constructor(code: string, message: string) {
    super(message);
    this.name = "ConsoleDriverError";
    this.code = code;
  }
}

interface TransmitJob {
  readonly bytes: Uint8Array;
  addr: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Byte counters of a port. */
export interface ConsolePortStats {
  /** Bytes received from the device. */
  readonly bytesReceived: number;
  /** Bytes sent to the device (writes completed). */
  readonly bytesSent: number;
}

/**
 * A console port as the guest uses it: like Linux's `/dev/vportNpM`, opened
 * by name. Port 0 is the console the driver's own `readable` and `write`
 * serve.
 */
export interface VirtioConsolePort {
  /** Port number. */
  readonly id: number;
  /** The name the device gave it (PORT_NAME), or `null`. */
  readonly name: string | null;
  /** Whether the device nominated it as a console (CONSOLE_PORT). */
  readonly console: boolean;
  /** Whether the host side is connected (the device's PORT_OPEN). */
  readonly hostOpen: boolean;
  /** Whether the guest has it open (the driver's PORT_OPEN). */
  readonly guestOpen: boolean;
  /** Whether the device removed it (DEVICE_REMOVE) or the driver went away. */
  readonly removed: boolean;
  /** Bytes received from the device, in order (as {@linkcode VirtioConsoleDriver.readable}). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes received and sent. */
  readonly stats: ConsolePortStats;
  /**
   * Sends bytes on the port's transmitq (as {@linkcode VirtioConsoleDriver.write}).
   *
   * @throws {ConsoleDriverError} `"removed"` once the port is gone, and as the driver's write.
   */
  write(data: Uint8Array | string): Promise<void>;
  /**
   * Tells the device the guest opened (`true`) or closed the port: a
   * PORT_OPEN message; with multiport, the device sends input only to an
   * open port. Resolves once the device has taken the message.
   *
   * @throws {ConsoleDriverError} `"not-negotiated"` without VIRTIO_CONSOLE_F_MULTIPORT.
   */
  setOpen(open: boolean): Promise<void>;
}

/** A receiveq and transmitq pair: a port's, or the control queues. */
class Channel {
  /** Every receive buffer allocated, by address. */
  readonly rxAll: number[] = [];
  /** Receive buffers reaped and not re-posted because the stream is full. */
  readonly rxParked: number[] = [];
  /** Receive buffers reaped and to be re-posted at the end of this reap. */
  readonly rxRepost: number[] = [];
  readonly txPending: TransmitJob[] = [];
  readonly txInFlight = new Set<TransmitJob>();
  readonly writes = new Set<Promise<void>>();
  rxq: DriverQueue<number> | null = null;
  txq: DriverQueue<TransmitJob> | null = null;
  /** The port's stream (the control channel has none: its messages go to the control step). */
  readonly readable: ReadableStream<Uint8Array> | null;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  streamDone = false;
  /** The device announced the port (always, for port 0 without multiport). */
  added = false;
  /** Why writes fail from now on (the port was removed), or `null`. */
  gone: ConsoleDriverError | null = null;
  bytesReceived = 0;
  bytesSent = 0;

  constructor(
    readonly id: number,
    readonly receiveq: number,
    readonly transmitq: number,
    stream: { highWaterMark: number; pull: (channel: Channel) => void } | null,
  ) {
    this.readable = stream
      ? new ReadableStream<Uint8Array>(
        {
          start: (controller) => {
            this.controller = controller;
          },
          pull: () => stream.pull(this),
          cancel: () => {
            this.streamDone = true;
          },
        },
        new ByteLengthQueuingStrategy({ highWaterMark: stream.highWaterMark }),
      )
      : null;
  }

  /** Whether reaped receive buffers go back to the device at once. */
  wantsMore(driverClosed: boolean): boolean {
    if (!this.controller) return !driverClosed; // control: always
    return !driverClosed && !this.streamDone && (this.controller.desiredSize ?? 0) > 0;
  }

  endStream(): void {
    if (this.streamDone) return;
    this.streamDone = true;
    try {
      this.controller?.close();
    } catch {
      // Already closed or errored.
    }
  }
}

/**
 * Drives a virtio console.
 *
 * Negotiates VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
 * VIRTIO_CONSOLE_F_SIZE, VIRTIO_CONSOLE_F_EMERG_WRITE and
 * VIRTIO_CONSOLE_F_MULTIPORT when offered. Receive buffers are
 * device-writable only (5.3.6.1/1), transmit buffers device-readable only
 * (5.3.6.1/2). Receive buffers posted during probe are announced only after
 * DRIVER_OK (3.1.1/6); a used `len` is never trusted past the buffer posted,
 * and nothing past it is read (2.7.8.3/1).
 *
 * With multiport: probe sets up every queue for `max_nr_ports` ports (the
 * queues cannot be added after DRIVER_OK) and posts control receive
 * buffers; after DRIVER_OK the driver sends DEVICE_READY (5.3.6.2.2/1), and
 * each control message from the device goes through the
 * `handleControlMessage` part, whose answers it sends; a port the device
 * adds gets its receive buffers before its PORT_READY goes out. Port 0's
 * buffers are posted at probe in both modes.
 *
 * Every step goes through {@linkcode parts} (`postReceiveBuffers`,
 * `receivedBytes`, `transmitChunks`, `postTransmitBuffer`, `readConsoleSize`,
 * `deviceReadyMessage`, `handleControlMessage`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VirtioConsoleDriver } from "./driver.ts";
 * import { MemoryConsoleBackend } from "./backends.ts";
 * import { createMachine } from "../../machine.ts";
 * import { VIRTIO_ID_CONSOLE } from "../../virtio/device_ids.ts";
 * const backend = new MemoryConsoleBackend();
 * const machine = await createMachine({ console: backend });
 * const console = machine.virtio.find(VIRTIO_ID_CONSOLE)!.driver as VirtioConsoleDriver;
 * await console.write("hello\n");
 * assert.equal(backend.outputText, "hello\n");
 * backend.input("typed\n"); // what the host side types arrives on the receiveq
 * for await (const chunk of console) {
 *   assert.equal(new TextDecoder().decode(chunk), "typed\n");
 *   break;
 * }
 * await machine.close();
 * ```
 */
export class VirtioConsoleDriver implements VirtioDriver {
  /** `"virtio_console"`, as in Linux. */
  readonly name = "virtio_console";
  /** VIRTIO_ID_CONSOLE (3). */
  readonly deviceId: number = VIRTIO_ID_CONSOLE;
  /** The features this driver understands. */
  readonly supportedFeatures: bigint = features(
    VIRTIO_F_VERSION_1,
    VIRTIO_F_EVENT_IDX,
    VIRTIO_F_INDIRECT_DESC,
    VIRTIO_CONSOLE_F_SIZE,
    VIRTIO_CONSOLE_F_MULTIPORT,
    VIRTIO_CONSOLE_F_EMERG_WRITE,
  );
  /**
   * Bytes received from the device on port 0, in order. Backpressure
   * reaches the device: while the stream holds `readableHighWaterMark` bytes
   * unread, no receive buffer is re-posted.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /** The steps this driver runs: the reference parts, with any replacements given. */
  readonly parts: ConsoleDriverParts;

  readonly #receiveBuffers: number;
  readonly #receiveBufferSize: number;
  readonly #transmitChunkSize: number;
  readonly #maxTransmitInFlight: number;
  readonly #highWaterMark: number;
  #ctx: VirtioDriverContext | null = null;
  /** Port channels by port number (port 0 always). */
  readonly #channels: Channel[] = [];
  /** The control queues' channel, with multiport. */
  #controlChannel: Channel | null = null;
  /** The control conversation's state, with multiport. */
  #control: DriverControlState | null = null;
  readonly #resizeListeners = new Set<ConsoleResizeListener>();
  readonly #portListeners = new Set<() => void>();
  #size: ConsoleSize | null = null;
  #live = false;
  #closed = false;
  /** Why writes fail until the device is recovered (DEVICE_NEEDS_RESET), or `null`. */
  #failure: ConsoleDriverError | null = null;

  /**
   * Creates an unbound driver; the driver core binds it with `probe`.
   *
   * @param options Buffer counts and sizes, parts.
   * @throws {RangeError} If a count or size is not a positive integer.
   * @throws {TypeError} If a replacement part is not a function.
   */
  constructor(options: VirtioConsoleDriverOptions = {}) {
    this.parts = mergeParts(REFERENCE_CONSOLE_DRIVER_PARTS, options.parts);
    this.#receiveBuffers = positive(options.receiveBuffers ?? 16, "receiveBuffers");
    this.#receiveBufferSize = positive(options.receiveBufferSize ?? 4096, "receiveBufferSize");
    this.#transmitChunkSize = positive(options.transmitChunkSize ?? 4096, "transmitChunkSize");
    this.#maxTransmitInFlight = positive(options.maxTransmitInFlight ?? 16, "maxTransmitInFlight");
    this.#highWaterMark = options.readableHighWaterMark ?? 65536;
    const port0 = this.#newChannel(0);
    port0.added = true;
    this.#channels[0] = port0;
    this.readable = port0.readable!;
  }

  /** The negotiated console size, updated on configuration changes; `null` without VIRTIO_CONSOLE_F_SIZE. */
  get size(): ConsoleSize | null {
    return this.#size;
  }

  /** Whether VIRTIO_CONSOLE_F_EMERG_WRITE was negotiated. */
  get canEmergencyWrite(): boolean {
    return this.#ctx !== null && hasFeature(this.#ctx.features, VIRTIO_CONSOLE_F_EMERG_WRITE);
  }

  /** Whether VIRTIO_CONSOLE_F_MULTIPORT was negotiated. */
  get multiport(): boolean {
    return this.#control !== null;
  }

  /** `max_nr_ports` with multiport, else 1. */
  get maxNrPorts(): number {
    return this.#control?.maxNrPorts ?? 1;
  }

  /**
   * The control conversation's state as the `handleControlMessage` part
   * keeps it, or `null` without multiport. For displays; do not change it.
   */
  get control(): Readonly<DriverControlState> | null {
    return this.#control;
  }

  /** Port 0's bytes received and bytes sent so far. */
  get stats(): ConsolePortStats {
    const port0 = this.#channels[0];
    return { bytesReceived: port0.bytesReceived, bytesSent: port0.bytesSent };
  }

  /**
   * The ports in use: port 0 alone without multiport; with it, the ports
   * the device added and has not removed, by port number.
   */
  get ports(): VirtioConsolePort[] {
    const ids = this.#control ? this.#control.ports.map((p) => p.id) : [0];
    return ids.filter((id) => this.#channels[id]?.added).sort((a, b) => a - b).map((id) =>
      this.#portHandle(id)
    );
  }

  /**
   * A port by name (PORT_NAME) or number.
   *
   * @returns The port, or `undefined` if no port in use has that name or number.
   */
  port(nameOrId: string | number): VirtioConsolePort | undefined {
    return this.ports.find((p) =>
      typeof nameOrId === "number" ? p.id === nameOrId : p.name === nameOrId
    );
  }

  /**
   * Subscribes to changes of the port list or a port's name or open state
   * (a control message arrived).
   *
   * @returns A function that unsubscribes.
   */
  onPortsChanged(listener: () => void): () => void {
    this.#portListeners.add(listener);
    return () => this.#portListeners.delete(listener);
  }

  /**
   * Sets up the queues, reads the size and posts the receive buffers
   * (published, not notified: notifications wait for DRIVER_OK, 3.1.1/6).
   * With multiport, every port's queues and the control queues.
   *
   * @throws {GuestOutOfMemoryError} If the buffers do not fit in guest memory.
   * @throws {ConsoleDriverError} `"queue-broken"` if `max_nr_ports` is not from 1 to 511.
   */
  probe(ctx: VirtioDriverContext): void {
    this.#ctx = ctx;
    const multiport = hasFeature(ctx.features, VIRTIO_CONSOLE_F_MULTIPORT);
    const maxNrPorts = multiport ? ctx.readConfig(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, 4) : 1;
    if (maxNrPorts < 1 || maxNrPorts > MAX_DRIVER_PORTS) {
      throw new ConsoleDriverError(
        "queue-broken",
        `Console max_nr_ports ${maxNrPorts} is not from 1 to ${MAX_DRIVER_PORTS}`,
      );
    }
    const setup = (channel: Channel) => {
      channel.rxq = ctx.setupQueue<number>(channel.receiveq, {
        onUsed: () => this.#reapReceive(channel),
      });
      channel.txq = ctx.setupQueue<TransmitJob>(channel.transmitq, {
        onUsed: () => this.#reapTransmit(channel),
      });
    };
    const port0 = this.#channels[0];
    setup(port0);
    this.#control = null;
    this.#controlChannel = null;
    if (multiport) {
      this.#control = { maxNrPorts, deviceReadySent: false, ports: [] };
      this.#controlChannel = new Channel(
        -1,
        VIRTIO_CONSOLE_CONTROL_RECEIVEQ,
        VIRTIO_CONSOLE_CONTROL_TRANSMITQ,
        null,
      );
      setup(this.#controlChannel);
      for (let id = 1; id < maxNrPorts; id++) {
        const channel = this.#channels[id] ??= this.#newChannel(id);
        setup(channel);
      }
    }
    if (hasFeature(ctx.features, VIRTIO_CONSOLE_F_SIZE)) {
      this.#size = this.parts.readConsoleSize(ctx);
    }
    this.#fill(port0, Math.min(this.#receiveBuffers, port0.rxq!.size));
    if (this.#controlChannel) {
      const control = this.#controlChannel;
      this.#fill(control, Math.min(CONTROL_BUFFERS, control.rxq!.size));
    }
  }

  /**
   * DRIVER_OK is set: tell the device about the receive buffers, start
   * sending, and with multiport send DEVICE_READY (5.3.6.2.2/1).
   */
  ready(): void {
    this.#live = true;
    this.#ctx!.notify(this.#channels[0].receiveq);
    if (this.#controlChannel && this.#control) {
      this.#ctx!.notify(VIRTIO_CONSOLE_CONTROL_RECEIVEQ);
      this.#sendControl(this.parts.deviceReadyMessage(this.#control));
    }
    for (const channel of this.#channels) if (channel) this.#pumpTransmit(channel);
  }

  /**
   * A configuration change. If the device set DEVICE_NEEDS_RESET, nothing
   * sent will be used (2.1.1/4): every write in flight or waiting fails now
   * with a `"needs-reset"` {@linkcode ConsoleDriverError}, and so does every
   * write until the device is recovered. Otherwise read `cols` and `rows`
   * again (§5.3.6) and tell the listeners.
   */
  configChanged(): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    if (ctx.needsReset) {
      this.#live = false;
      this.#failure ??= new ConsoleDriverError(
        "needs-reset",
        "Console device set DEVICE_NEEDS_RESET; its transmit buffers will not be used",
      );
      for (const channel of this.#allChannels()) this.#failTransmit(channel, this.#failure);
      return;
    }
    if (!hasFeature(ctx.features, VIRTIO_CONSOLE_F_SIZE)) return;
    const size = this.parts.readConsoleSize(ctx);
    const old = this.#size;
    this.#size = size;
    if (!old || old.cols !== size.cols || old.rows !== size.rows) {
      for (const listener of this.#resizeListeners) listener(size);
    }
  }

  /**
   * Subscribes to console size changes.
   *
   * @returns A function that unsubscribes.
   */
  onResize(listener: ConsoleResizeListener): () => void {
    this.#resizeListeners.add(listener);
    return () => this.#resizeListeners.delete(listener);
  }

  /** Iterates over port 0's received chunks (locks {@linkcode readable}). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.readable[Symbol.asyncIterator]();
  }

  /**
   * Sends bytes to port 0: copies them into guest buffers of at most
   * `transmitChunkSize` bytes, posts each as a device-readable chain
   * (5.3.6.1/2), and resolves when the device has used all of them. Writes
   * go out in call order.
   *
   * @param data Bytes, or text sent as UTF-8.
   * @throws {ConsoleDriverError} `"closed"` after {@linkcode close},
   *   `"removed"` if the device goes away first, `"queue-broken"` if the
   *   device broke the transmitq.
   * @throws {GuestOutOfMemoryError} If a chunk cannot be placed in guest memory at all.
   */
  write(data: Uint8Array | string): Promise<void> {
    return this.#write(this.#channels[0], data);
  }

  /**
   * Writes one byte through `emerg_wr` (§5.3.4), which works even when the
   * queues do not.
   *
   * @param byte A byte value, 0 to 255.
   * @throws {RangeError} If `byte` is not an integer from 0 to 255.
   * @throws {ConsoleDriverError} `"not-negotiated"` without VIRTIO_CONSOLE_F_EMERG_WRITE.
   */
  emergencyWrite(byte: number): void {
    if (!Number.isInteger(byte) || byte < 0 || byte > 0xff) {
      throw new RangeError(`Emergency write byte ${byte} is not an integer from 0 to 255`);
    }
    if (!this.#ctx || !hasFeature(this.#ctx.features, VIRTIO_CONSOLE_F_EMERG_WRITE)) {
      throw new ConsoleDriverError(
        "not-negotiated",
        "Emergency write needs VIRTIO_CONSOLE_F_EMERG_WRITE, which was not negotiated",
      );
    }
    this.#ctx.writeConfig(VIRTIO_CONSOLE_CONFIG_EMERG_WR, 4, byte);
  }

  /**
   * Stops the driver cleanly: refuses new writes, waits for the ones in
   * flight, then ends every port's stream. Receive buffers stay with the
   * device until the driver core unbinds it ({@linkcode remove}).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#allChannels().flatMap((c) => [...c.writes]));
    for (const channel of this.#channels) channel?.endStream();
  }

  /**
   * The driver core is unbinding the device and resets it right after: fail
   * pending writes, end every stream, and free every guest buffer.
   */
  remove(): void {
    this.#closed = true;
    this.#live = false;
    const error = new ConsoleDriverError("removed", "Console device was removed");
    for (const channel of this.#allChannels()) {
      this.#failTransmit(channel, error);
      channel.endStream();
    }
    this.#releaseBuffers();
  }

  /**
   * The driver core has reset the device to recover it and will probe this
   * driver again: writes in flight or waiting fail now (`"needs-reset"` when
   * the device asked for the reset, else `"reset"`: the device dropped them,
   * and some of their bytes may have reached the terminal); receive buffers
   * are freed. Every port's stream stays open, and writes made from now on
   * wait for the new bring-up (a port other than 0 waits for the device to
   * announce it again).
   */
  resetPrepare(): void {
    this.#live = false;
    const error = this.#failure ??
      new ConsoleDriverError(
        "reset",
        "Console device was reset to recover; the write was not completed",
      );
    for (const channel of this.#allChannels()) this.#failTransmit(channel, error);
    this.#releaseBuffers();
    this.#failure = null;
  }

  /** Takes back every queue's chains and frees the receive buffers (the device was reset). */
  #releaseBuffers(): void {
    const allocator = this.#ctx?.allocator;
    for (const channel of this.#allChannels()) {
      detach(channel.rxq);
      detach(channel.txq);
      if (allocator) { for (const addr of channel.rxAll.splice(0)) allocator.free(addr); }
      channel.rxAll.length = 0;
      channel.rxParked.length = 0;
      channel.rxq = null;
      channel.txq = null;
      if (channel.id > 0) channel.added = false;
    }
    this.#controlChannel = null;
    this.#control = null;
  }

  #allChannels(): Channel[] {
    const all = this.#channels.filter((c) => c !== undefined);
    if (this.#controlChannel) all.push(this.#controlChannel);
    return all;
  }

  #newChannel(id: number): Channel {
    return new Channel(id, portReceiveq(id), portTransmitq(id), {
      highWaterMark: this.#highWaterMark,
      pull: (channel) => this.#repostParked(channel),
    });
  }

  // ------------------------------------------------------------- ports

  #portHandle(id: number): VirtioConsolePort {
    const channel = this.#channels[id];
    const record = (): DriverConsolePort | undefined =>
      this.#control?.ports.find((p) => p.id === id);
    const channels = this.#channels;
    return {
      id,
      get name() {
        return record()?.name ?? null;
      },
      get console() {
        return record()?.console ?? id === 0;
      },
      get hostOpen() {
        return record()?.hostOpen ?? true;
      },
      get guestOpen() {
        return record()?.guestOpen ?? true;
      },
      get removed() {
        return channels[id] !== channel || channel.gone !== null || !channel.added;
      },
      readable: channel.readable!,
      get stats() {
        return { bytesReceived: channel.bytesReceived, bytesSent: channel.bytesSent };
      },
      write: (data) => this.#write(channel, data),
      setOpen: (open) => this.#setOpen(id, open),
    };
  }

  /** Sends PORT_OPEN for a port the guest opened or closed. */
  #setOpen(id: number, open: boolean): Promise<void> {
    const port = this.#control?.ports.find((p) => p.id === id);
    if (!this.#control) {
      return Promise.reject(
        new ConsoleDriverError(
          "not-negotiated",
          "Opening a port needs VIRTIO_CONSOLE_F_MULTIPORT, which was not negotiated",
        ),
      );
    }
    if (!port) {
      return Promise.reject(
        new ConsoleDriverError("no-port", `Console port ${id} is not in use`),
      );
    }
    port.guestOpen = open;
    return this.#sendControl(encodeControl(id, VIRTIO_CONSOLE_PORT_OPEN, open ? 1 : 0));
  }

  /** Sends one control message on the control transmitq. */
  #sendControl(message: Uint8Array): Promise<void> {
    const channel = this.#controlChannel;
    if (!channel) {
      return Promise.reject(
        new ConsoleDriverError("not-negotiated", "The control queues are not set up"),
      );
    }
    const sent = this.#write(channel, message);
    // A control message that fails has no writer waiting for it: the device
    // is being reset or removed, which settles everything else too.
    sent.catch(() => {});
    return sent;
  }

  /**
   * One control message from the device: the `handleControlMessage` part
   * takes it; ports it added get receive buffers before its answers (their
   * PORT_READY) go out, ports it removed end.
   */
  #onControl(message: Uint8Array): void {
    const state = this.#control;
    const ctx = this.#ctx;
    if (!state || !ctx) return;
    const before = new Set(state.ports.map((p) => p.id));
    const answers = this.parts.handleControlMessage(state, message, ctx.reporter);
    const now = new Set(state.ports.map((p) => p.id));
    for (const id of now) if (!before.has(id)) this.#portAdded(id);
    for (const id of before) if (!now.has(id)) this.#portRemoved(id);
    for (const answer of answers) void this.#sendControl(answer);
    for (const listener of this.#portListeners) listener();
  }

  #portAdded(id: number): void {
    let channel = this.#channels[id];
    if (!channel) return; // beyond max_nr_ports: no queues (the part reported it)
    let parked: number[] = [];
    if (channel.gone) {
      // Added again after a removal: a fresh stream on the same queues and
      // buffers. The queues' reap callbacks name the old channel and find
      // this one through #current; buffers reaped while the port was gone
      // were parked, and go back to the device now.
      const fresh = this.#newChannel(id);
      fresh.rxq = channel.rxq;
      fresh.txq = channel.txq;
      fresh.rxAll.push(...channel.rxAll);
      parked = channel.rxParked.splice(0);
      this.#channels[id] = channel = fresh;
    }
    channel.added = true;
    if (channel.rxAll.length === 0 && channel.rxq) {
      this.#fill(channel, Math.min(this.#receiveBuffers, channel.rxq.size));
    } else {
      this.#post(channel, parked);
    }
  }

  #portRemoved(id: number): void {
    const channel = this.#channels[id];
    if (!channel || id === 0) return;
    channel.gone = new ConsoleDriverError("removed", `Console port ${id} was removed`);
    this.#failTransmit(channel, channel.gone);
    channel.endStream();
  }

  // ------------------------------------------------------------ receive

  /** Allocates `count` receive buffers for a channel and posts them. */
  #fill(channel: Channel, count: number): void {
    const ctx = this.#ctx!;
    const fresh: number[] = [];
    for (let i = 0; i < count; i++) fresh.push(ctx.allocator.alloc(this.#receiveBufferSize, 16));
    channel.rxAll.push(...fresh);
    // Before DRIVER_OK: posted and published, not notified (3.1.1/6); ready()
    // tells the device. After it (a port added later): notified if asked.
    this.#post(channel, fresh);
  }

  #reapReceive(channel: Channel): void {
    const live = this.#current(channel);
    const rxq = live.rxq;
    const ctx = this.#ctx;
    if (!rxq || !ctx) return;
    const repost = live.rxRepost;
    const messages: Uint8Array[] = [];
    rxq.drainUsed((used) => {
      const addr = used.token;
      if (used.len > 0 && (!live.controller || !live.streamDone)) {
        const bytes = this.parts.receivedBytes(
          ctx.memory,
          addr,
          this.#receiveBufferSize,
          used.len,
          ctx.reporter,
        );
        live.bytesReceived += bytes.length;
        if (!live.controller) messages.push(bytes);
        else if (bytes.length > 0) live.controller.enqueue(bytes);
      } else if (!live.controller) {
        messages.push(new Uint8Array(0));
      }
      if (live.wantsMore(this.#closed)) repost.push(addr);
      else live.rxParked.push(addr);
    });
    if (rxq.broken) {
      repost.length = 0;
      live.controller?.error(
        new ConsoleDriverError("queue-broken", `Receive queue broken: ${rxq.broken.message}`),
      );
      live.streamDone = true;
      return;
    }
    // Refill at once, so input never waits for buffers the driver holds
    // (a device with input pending resumes on this notification).
    this.#post(live, repost);
    for (const message of messages) this.#onControl(message);
  }

  /** The channel now serving a channel's queues (a port added again has a fresh one). */
  #current(channel: Channel): Channel {
    return channel.id >= 0 ? this.#channels[channel.id] ?? channel : channel;
  }

  #repostParked(channel: Channel): void {
    if (!channel.rxq || channel.rxParked.length === 0 || this.#closed) return;
    this.#post(channel, channel.rxParked);
  }

  /** Posts receive buffers (the list is emptied) and notifies if the device is live. */
  #post(channel: Channel, buffers: number[]): void {
    const rxq = channel.rxq;
    if (!rxq || buffers.length === 0) return;
    const notify = this.parts.postReceiveBuffers(rxq, buffers, this.#receiveBufferSize, this.#live);
    buffers.length = 0;
    if (notify) this.#ctx!.notify(channel.receiveq);
  }

  // ------------------------------------------------------------ transmit

  #write(channel: Channel, data: Uint8Array | string): Promise<void> {
    if (this.#closed && channel.id >= 0) {
      return Promise.reject(
        new ConsoleDriverError("closed", "Console driver is closed; write refused"),
      );
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (channel.gone) return Promise.reject(channel.gone);
    if (!this.#ctx) {
      return Promise.reject(
        new ConsoleDriverError("not-bound", "Console driver is not bound to a device"),
      );
    }
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return Promise.resolve();
    const chunks = this.parts.transmitChunks(bytes, this.#transmitChunkSize).map((chunk) =>
      new Promise<void>((resolve, reject) => {
        channel.txPending.push({ bytes: chunk, addr: -1, resolve, reject });
      })
    );
    const done = Promise.all(chunks).then(() => {
      channel.bytesSent += bytes.length;
    });
    channel.writes.add(done);
    const forget = () => channel.writes.delete(done);
    done.then(forget, forget);
    this.#pumpTransmit(channel);
    return done;
  }

  #pumpTransmit(channel: Channel): void {
    const txq = channel.txq;
    const ctx = this.#ctx;
    if (!txq || !ctx || !this.#live || (channel.id > 0 && !channel.added)) return;
    const allocator: GuestAllocator = ctx.allocator;
    let added = false;
    while (channel.txPending.length > 0 && channel.txInFlight.size < this.#maxTransmitInFlight) {
      const job = channel.txPending[0];
      let addr: number;
      try {
        addr = allocator.alloc(job.bytes.length, 16);
      } catch (e) {
        if (e instanceof GuestOutOfMemoryError && channel.txInFlight.size > 0) break;
        channel.txPending.shift();
        job.reject(e as Error);
        continue;
      }
      ctx.memory.write(addr, job.bytes);
      try {
        this.parts.postTransmitBuffer(txq, addr, job.bytes.length, job);
      } catch (e) {
        allocator.free(addr);
        if (e instanceof VirtqueueFullError && channel.txInFlight.size > 0) break;
        channel.txPending.shift();
        job.reject(e as Error);
        continue;
      }
      job.addr = addr;
      channel.txPending.shift();
      channel.txInFlight.add(job);
      added = true;
    }
    if (added && txq.kickPrepare() && this.#live) ctx.notify(channel.transmitq);
  }

  #reapTransmit(channel: Channel): void {
    const live = this.#current(channel);
    const txq = live.txq;
    const ctx = this.#ctx;
    if (!txq || !ctx) return;
    txq.drainUsed((used) => {
      const job = used.token;
      // A write failed already (DEVICE_NEEDS_RESET, a broken queue) had its
      // buffer freed and its promise rejected then; a completion the device
      // wrote before it broke changes nothing.
      if (job.addr < 0) return;
      channel.txInFlight.delete(job);
      live.txInFlight.delete(job);
      ctx.allocator.free(job.addr);
      job.addr = -1;
      job.resolve();
    });
    if (txq.broken) {
      this.#failTransmit(
        live,
        new ConsoleDriverError("queue-broken", `Transmit queue broken: ${txq.broken.message}`),
      );
      return;
    }
    this.#pumpTransmit(live);
  }

  #failTransmit(channel: Channel, error: ConsoleDriverError): void {
    const allocator = this.#ctx?.allocator;
    for (const job of channel.txInFlight) {
      if (allocator && job.addr >= 0) allocator.free(job.addr);
      job.addr = -1;
      job.reject(error);
    }
    channel.txInFlight.clear();
    for (const job of channel.txPending.splice(0)) job.reject(error);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Console driver option ${name} is ${value}, not a positive integer`);
  }
  return value;
}

/** Takes back unreaped chains (and frees their indirect tables) when the queue supports it. */
function detach(queue: DriverQueue<unknown> | null): void {
  if (!queue) return;
  const withDetach = queue as DriverQueue<unknown> & { detach?: () => unknown[] };
  if (typeof withDetach.detach === "function") withDetach.detach();
}
