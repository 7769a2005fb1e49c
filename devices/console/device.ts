/**
 * The virtio console device model (virtio v1.2 §5.3): port 0's receiveq
 * carrying input from a {@linkcode ConsoleBackend} to the driver and its
 * transmitq carrying output back, the console size in configuration space
 * and emergency write; with more ports (QEMU's `virtserialport` and
 * `virtconsole,name=...`), VIRTIO_CONSOLE_F_MULTIPORT, the control queues
 * and each port on its own backend.
 *
 * @module
 */

import { VIRTIO_ID_CONSOLE } from "../../virtio/device_ids.ts";
import {
  features,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
} from "../../virtio/features.ts";
import type { AccessWidth, ConfigField, DeviceHost, VirtioDevice } from "../../virtio/device.ts";
import { ConformanceError, type ConformanceReporter } from "../../conformance/log.ts";
import type { DescriptorChain, DeviceQueue } from "../../virtqueue/types.ts";
import { ConfigSpace, mergeParts, printDeviceError, VIRTIO_LAB_VENDOR_ID } from "../common.ts";
import type { ConsoleBackend, ConsoleSize } from "./backends.ts";
import type { DeviceControlState } from "./control.ts";
import { type ConsoleDeviceParts, REFERENCE_CONSOLE_DEVICE_PARTS } from "./parts.ts";
import type { TransmitCursor } from "./transmit.ts";
import {
  portReceiveq,
  portTransmitq,
  VIRTIO_CONSOLE_CONFIG_COLS,
  VIRTIO_CONSOLE_CONFIG_LAYOUT,
  VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS,
  VIRTIO_CONSOLE_CONFIG_ROWS,
  VIRTIO_CONSOLE_CONFIG_SIZE,
  VIRTIO_CONSOLE_CONTROL_RECEIVEQ,
  VIRTIO_CONSOLE_CONTROL_TRANSMITQ,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_FEATURE_NAMES,
} from "./constants.ts";

/** One more port of a multiport console (ports 1, 2, ...), like QEMU's `virtserialport`. */
export interface ConsolePortOptions {
  /** The byte stream behind the port. The device's owner closes it. */
  readonly backend: ConsoleBackend;
  /** Sent to the driver in PORT_NAME, as QEMU's `name=` (default: none). */
  readonly name?: string;
  /** Nominate the port as a console with CONSOLE_PORT, as QEMU's `virtconsole` (default false). */
  readonly console?: boolean;
}

/** Options for {@linkcode VirtioConsoleDevice}. */
export interface VirtioConsoleDeviceOptions {
  /** `QueueNumMax` of every queue, in descriptors (default 256). */
  readonly queueSize?: number;
  /** Name shown by the transport (default `"virtio-console"`). */
  readonly name?: string;
  /**
   * Ports after port 0, numbered 1, 2, ... in this order. With any, the
   * device offers VIRTIO_CONSOLE_F_MULTIPORT and has the control queues
   * (default none: a one-port console without them).
   */
  readonly ports?: readonly ConsolePortOptions[];
  /** Port 0's name, sent in PORT_NAME when multiport is negotiated (default: none). */
  readonly consoleName?: string;
  /**
   * `max_nr_ports` with VIRTIO_CONSOLE_F_MULTIPORT (default: port 0 plus
   * `ports`); the device has `2 * maxNrPorts + 2` queues.
   */
  readonly maxNrPorts?: number;
  /**
   * Largest piece of a transmit chain the device copies out of guest memory
   * at once, in bytes (default 65536): its memory per chain, whatever the
   * chain's length.
   */
  readonly transmitChunkBytes?: number;
  /** Replacements for some of the device-side parts (default: the reference ones). */
  readonly parts?: Partial<ConsoleDeviceParts>;
  /**
   * Where an error goes that is thrown where no caller can take it: in the
   * input pump run by a backend read's reaction or the receive retry timer,
   * in transmit streaming, in a backend resize event. A strict log's
   * `ConformanceError` included. The device has asked for a reset first
   * (DEVICE_NEEDS_RESET). `where` names the device and the step. Default: one
   * line on stderr. A lab machine passes its error sink.
   */
  readonly onError?: (error: unknown, where: string) => void;
}

/** Most ports a console may have (`max_nr_ports`): 2 * 511 + 2 = 1024 queues. */
export const MAX_CONSOLE_PORTS = 511;

/** Bytes the device reads of one control transmitq chain: the header and room for more. */
const CONTROL_READ_BYTES = 64;

const NO_BYTES = new Uint8Array(0);

/** A popped transmit chain waiting for its turn, with what tells whether a reset made it stale. */
interface TransmitWork {
  readonly chain: DescriptorChain;
  readonly queue: DeviceQueue;
  readonly generation: number;
  readonly epoch: number;
}

/** Counters of a {@linkcode VirtioConsoleDevice} (a fresh snapshot on every read). */
export interface ConsoleDeviceStats {
  /** Bytes delivered to the driver through the receiveq. */
  readonly bytesIn: number;
  /** Bytes sent to the backend from the transmitq. */
  readonly bytesOut: number;
  /** Bytes sent to the backend through `emerg_wr`. */
  readonly emergencyBytes: number;
  /** Receive chains used (filled or rejected). */
  readonly receiveChains: number;
  /** Transmit chains used (sent or rejected). */
  readonly transmitChains: number;
  /** Chains that broke 5.3.6.1/1 or 5.3.6.1/2 and were returned unused. */
  readonly rejectedChains: number;
  /** Completions dropped because a reset made them stale. */
  readonly staleCompletions: number;
  /** Backend writes that failed (the bytes are lost). */
  readonly backendErrors: number;
  /** Whether the backend's input has ended. */
  readonly inputEnded: boolean;
}

/** A port as {@linkcode VirtioConsoleDevice.ports} shows it. */
export interface ConsoleDevicePortInfo {
  /** Port number. */
  readonly id: number;
  /** Its name, or `""`. */
  readonly name: string;
  /** Whether it is nominated as a console. */
  readonly console: boolean;
  /** DEVICE_ADD was sent for it. */
  readonly added: boolean;
  /** The driver made it ready (PORT_READY 1). */
  readonly ready: boolean;
  /** The driver has it open (PORT_OPEN 1). */
  readonly guestOpen: boolean;
  /** Its counters (as {@linkcode VirtioConsoleDevice.stats}, for this port alone). */
  readonly stats: ConsoleDeviceStats;
}

/** One port's data path: a receiveq and a transmitq pair on one backend. */
class PortIo {
  readonly receiveq: number;
  readonly transmitq: number;
  /** Input read from the backend and not yet delivered (at most one chunk). */
  pending: Uint8Array | null = null;
  reading = false;
  inputEnded = false;
  /**
   * Set after the receiveq held a refused chain (5.3.6.1/1): the next pump
   * waits for a timer turn instead of the driver's notification, so a driver
   * that reposts the same wrong buffers at once cannot keep the device and
   * itself busy without end inside one turn of the event loop.
   */
  receiveBackoff: ReturnType<typeof setTimeout> | null = null;
  /** Transmit chains popped and not streamed yet, in order. */
  readonly transmitQueue: TransmitWork[] = [];
  transmitting = false;
  /** The buffer the port's transmit chains are streamed through (port 0 uses the device's). */
  chunk: Uint8Array | null = null;
  /** Backend writes run one after another, in order. */
  outputTail: Promise<void> = Promise.resolve();
  bytesIn = 0;
  bytesOut = 0;
  receiveChains = 0;
  transmitChains = 0;
  rejectedChains = 0;
  staleCompletions = 0;
  backendErrors = 0;

  constructor(readonly id: number, readonly backend: ConsoleBackend) {
    this.receiveq = portReceiveq(id);
    this.transmitq = portTransmitq(id);
  }

  /** Queues a backend write after the ones before it; never rejects. */
  output(bytes: Uint8Array): Promise<void> {
    const next = this.outputTail.then(() => this.backend.write(bytes)).catch(() => {
      this.backendErrors++;
    });
    this.outputTail = next;
    return next;
  }
}

/**
 * A virtio console (§5.3): port 0, and more ports with
 * VIRTIO_CONSOLE_F_MULTIPORT.
 *
 * - Features offered: VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX,
 *   VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_RESET, VIRTIO_CONSOLE_F_EMERG_WRITE,
 *   VIRTIO_CONSOLE_F_SIZE when the backend reports a size at construction,
 *   and VIRTIO_CONSOLE_F_MULTIPORT when the device has more than one port.
 * - Input: bytes are pulled from a port's backend only while its receiveq
 *   has buffers; at most one chunk waits inside the device per port. Each
 *   receive chain is filled with as many bytes as it holds; `len` is the
 *   byte count. With multiport negotiated, a port takes input only once the
 *   driver has made it ready and opened it (PORT_READY 1, PORT_OPEN 1), as
 *   QEMU holds input for a port the guest has not opened.
 * - Output: transmit chains are written to the port's backend in order,
 *   streamed out of guest memory a bounded piece at a time
 *   (`transmitChunkBytes`), so a chain that claims gigabytes costs only what
 *   the backend takes; a chain is used (len 0) once the backend has taken
 *   all its bytes, which gives the driver backpressure.
 * - Control (multiport): the driver's messages on the control transmitq go
 *   through the `handleDriverMessage` part, and its answers (DEVICE_ADD for
 *   every port after DEVICE_READY; CONSOLE_PORT, PORT_NAME and PORT_OPEN
 *   after PORT_READY) wait in order for control receive buffers. Port 0 is a
 *   console port; every port's host side counts as connected.
 * - `emerg_wr`: the low byte of a write goes to port 0's backend at any
 *   time, even before the device is configured (5.3.5.1).
 * - Reset (device or queue): completions of backend work started before it
 *   are dropped and never touch guest memory; a device reset forgets the
 *   control conversation (ports are announced again after the next
 *   DEVICE_READY).
 *
 * Every step goes through {@linkcode parts} (`fillReceiveChain`,
 * `takeTransmitChain`, `emergencyWriteByte`, `consoleConfigSpace`,
 * `handleDriverMessage`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtioConsoleDevice } from "./device.ts";
 * import { MemoryConsoleBackend } from "./backends.ts";
 * import { createMachine } from "../../machine.ts";
 * const backend = new MemoryConsoleBackend();
 * const machine = await createMachine({ consoleDevice: new VirtioConsoleDevice(backend) });
 * await machine.console.driver!.write("hello\n"); // through the transmitq
 * assert.equal(backend.outputText, "hello\n");
 * await machine.close();
 * ```
 */
export class VirtioConsoleDevice implements VirtioDevice {
  /** Name shown by the transport. */
  readonly name: string;
  /** VIRTIO_ID_CONSOLE (3). */
  readonly deviceId: number = VIRTIO_ID_CONSOLE;
  /** "VLAB". */
  readonly vendorId: number = VIRTIO_LAB_VENDOR_ID;
  /** The features offered. */
  readonly deviceFeatures: bigint;
  /** VIRTIO_CONSOLE_F_* names. */
  readonly featureNames: Readonly<Record<number, string>> = VIRTIO_CONSOLE_FEATURE_NAMES;
  /**
   * receiveq and transmitq of port 0; with more ports, then the control
   * receiveq and transmitq and each further port's pair (§5.3.2).
   */
  readonly queueMaxSizes: readonly number[];
  /** struct virtio_console_config. */
  readonly configLayout: readonly ConfigField[] = VIRTIO_CONSOLE_CONFIG_LAYOUT;
  /** 12 bytes. */
  readonly configSize: number = VIRTIO_CONSOLE_CONFIG_SIZE;
  /** Port 0's backend. */
  readonly backend: ConsoleBackend;
  /** The steps this device runs: the reference parts, with any replacements given. */
  readonly parts: ConsoleDeviceParts;
  /**
   * The control conversation's state, as the `handleDriverMessage` part
   * keeps it (every port, port 0 included); `null` for a one-port console.
   */
  readonly control: DeviceControlState | null;

  readonly #config = new ConfigSpace(VIRTIO_CONSOLE_CONFIG_SIZE);
  readonly #maxNrPorts: number;
  #host: DeviceHost | null = null;
  #reporter: ConformanceReporter | null = null;
  /** Bumped by every device reset. */
  #generation = 0;
  /** Bumped by every reset of that queue, by queue index. */
  readonly #queueEpoch: number[];
  /** The ports' data paths, by port number. */
  readonly #ports: PortIo[];
  /** Encoded control messages waiting for control receive buffers, in order. */
  readonly #controlOut: Uint8Array[] = [];
  /** The one buffer transmit chains are streamed through. */
  readonly #chunk: Uint8Array;
  #unsubscribeResize: (() => void) | null = null;
  #closed = false;
  readonly #onError: (error: unknown, where: string) => void;
  #emergencyBytes = 0;

  /**
   * Creates the device; VIRTIO_CONSOLE_F_SIZE is offered if `backend.size()` reports a size now.
   *
   * @param backend The byte stream behind port 0.
   * @param options Queue size, name, more ports, transmit chunk size, parts and error hook.
   * @throws {RangeError} If `queueSize` is not a power of two from 1 to 32768,
   *   `transmitChunkBytes` is not a positive integer, or `maxNrPorts` is not
   *   an integer from the number of ports to {@linkcode MAX_CONSOLE_PORTS}.
   * @throws {TypeError} If a replacement part is not a function, or
   *   `consoleConfigSpace` does not return the 12 configuration bytes.
   */
  constructor(backend: ConsoleBackend, options: VirtioConsoleDeviceOptions = {}) {
    const queueSize = options.queueSize ?? 256;
    if (
      !Number.isInteger(queueSize) || queueSize < 1 || queueSize > 32768 ||
      (queueSize & (queueSize - 1)) !== 0
    ) {
      throw new RangeError(`Console queue size ${queueSize} is not a power of two from 1 to 32768`);
    }
    const chunk = options.transmitChunkBytes ?? 65536;
    if (!Number.isSafeInteger(chunk) || chunk < 1) {
      throw new RangeError(`Console transmitChunkBytes ${chunk} is not a positive integer`);
    }
    const extra = options.ports ?? [];
    const multiport = extra.length > 0 || options.maxNrPorts !== undefined;
    const maxNrPorts = options.maxNrPorts ?? 1 + extra.length;
    if (
      !Number.isInteger(maxNrPorts) || maxNrPorts < 1 + extra.length ||
      maxNrPorts > MAX_CONSOLE_PORTS
    ) {
      throw new RangeError(
        `Console maxNrPorts ${maxNrPorts} is not an integer from ${
          1 + extra.length
        } (the ports given) to ${MAX_CONSOLE_PORTS}`,
      );
    }
    this.#maxNrPorts = maxNrPorts;
    this.#chunk = new Uint8Array(chunk);
    this.parts = mergeParts(REFERENCE_CONSOLE_DEVICE_PARTS, options.parts);
    this.name = options.name ?? "virtio-console";
    this.backend = backend;
    this.#onError = options.onError ?? printDeviceError;
    this.#ports = [backend, ...extra.map((p) => p.backend)].map((b, id) => new PortIo(id, b));
    const queues = multiport ? 2 * maxNrPorts + 2 : 2;
    this.queueMaxSizes = Object.freeze(new Array<number>(queues).fill(queueSize));
    this.#queueEpoch = new Array<number>(queues).fill(0);
    this.control = multiport
      ? {
        maxNrPorts,
        deviceReady: false,
        ports: [
          { name: options.consoleName ?? "", console: true },
          ...extra.map((p) => ({ name: p.name ?? "", console: p.console ?? false })),
        ].map((p, id) => ({
          id,
          name: p.name,
          console: p.console,
          hostOpen: true,
          added: false,
          ready: false,
          guestOpen: null,
        })),
      }
      : null;
    const size = backend.size?.() ?? null;
    // VIRTIO_F_VERSION_1 always (6.2/1); no bit depends on a missing one (2.2.2/1).
    const bits = [
      VIRTIO_F_VERSION_1,
      VIRTIO_F_EVENT_IDX,
      VIRTIO_F_INDIRECT_DESC,
      VIRTIO_F_RING_RESET,
      VIRTIO_CONSOLE_F_EMERG_WRITE,
    ];
    if (size) bits.push(VIRTIO_CONSOLE_F_SIZE);
    if (multiport) bits.push(VIRTIO_CONSOLE_F_MULTIPORT);
    this.deviceFeatures = features(...bits);
    this.#setSize(size);
    if (size) this.#unsubscribeResize = backend.onResize?.((s) => this.#resized(s)) ?? null;
  }

  /** The size in configuration space, or `null` without VIRTIO_CONSOLE_F_SIZE. */
  get size(): ConsoleSize | null {
    if ((this.deviceFeatures & (1n << BigInt(VIRTIO_CONSOLE_F_SIZE))) === 0n) return null;
    return {
      cols: this.#config.getU16(VIRTIO_CONSOLE_CONFIG_COLS),
      rows: this.#config.getU16(VIRTIO_CONSOLE_CONFIG_ROWS),
    };
  }

  /** Counters since construction, over every port (`inputEnded`: port 0's). */
  get stats(): ConsoleDeviceStats {
    const sum = (f: (p: PortIo) => number) => this.#ports.reduce((n, p) => n + f(p), 0);
    return {
      bytesIn: sum((p) => p.bytesIn),
      bytesOut: sum((p) => p.bytesOut),
      emergencyBytes: this.#emergencyBytes,
      receiveChains: sum((p) => p.receiveChains),
      transmitChains: sum((p) => p.transmitChains),
      rejectedChains: sum((p) => p.rejectedChains),
      staleCompletions: sum((p) => p.staleCompletions),
      backendErrors: sum((p) => p.backendErrors),
      inputEnded: this.#ports[0].inputEnded,
    };
  }

  /** Every port with its control state and counters, by port number. */
  get ports(): ConsoleDevicePortInfo[] {
    return this.#ports.map((io) => {
      const c = this.control?.ports.find((p) => p.id === io.id);
      return {
        id: io.id,
        name: c?.name ?? "",
        console: c?.console ?? io.id === 0,
        added: c?.added ?? false,
        ready: c?.ready ?? false,
        guestOpen: c?.guestOpen ?? false,
        stats: {
          bytesIn: io.bytesIn,
          bytesOut: io.bytesOut,
          emergencyBytes: io.id === 0 ? this.#emergencyBytes : 0,
          receiveChains: io.receiveChains,
          transmitChains: io.transmitChains,
          rejectedChains: io.rejectedChains,
          staleCompletions: io.staleCompletions,
          backendErrors: io.backendErrors,
          inputEnded: io.inputEnded,
        },
      };
    });
  }

  /** Called once by the transport. */
  attach(host: DeviceHost): void {
    this.#host = host;
    this.#reporter = host.reporter;
  }

  /** Reads struct virtio_console_config (little-endian); `emerg_wr` reads 0. */
  readConfig(offset: number, width: AccessWidth): number {
    return this.#config.read(offset, width);
  }

  /**
   * A write to configuration space: only `emerg_wr` is writable. Its low byte
   * goes to port 0's backend at once, in any device state (5.3.5.1/1 and
   * 5.3.5.1/2), in order with transmitted output.
   */
  writeConfig(offset: number, _width: AccessWidth, value: number): void {
    const byte = this.parts.emergencyWriteByte(offset, value);
    if (byte < 0 || this.#closed) return;
    this.#emergencyBytes++;
    void this.#ports[0].output(new Uint8Array([byte & 0xff]));
  }

  /** DRIVER_OK: start moving data in both directions. */
  activate(): void {
    for (const port of this.#ports) {
      this.#pumpInput(port);
      this.#drainTransmit(port);
    }
    if (this.#multiport) {
      this.#drainControl();
      this.#pumpControl();
    }
  }

  /** An available buffer notification. */
  queueNotify(index: number): void {
    if (index === VIRTIO_CONSOLE_CONTROL_RECEIVEQ || index === VIRTIO_CONSOLE_CONTROL_TRANSMITQ) {
      if (!this.#multiport) return;
      if (index === VIRTIO_CONSOLE_CONTROL_RECEIVEQ) this.#pumpControl();
      else this.#drainControl();
      return;
    }
    const port = this.#portOfQueue(index);
    if (!port) return;
    if (index === port.receiveq) {
      if (port.receiveBackoff === null) this.#pumpInput(port);
    } else this.#drainTransmit(port);
  }

  /**
   * Device reset (§2.4): output in flight is still written to the backend but
   * its chains are never returned, and nothing touches guest memory. Input
   * already read from a backend stays in the device for the next driver.
   * The control conversation starts over: messages not delivered are
   * dropped and every port waits for the next DEVICE_READY.
   */
  reset(): void {
    this.#generation++;
    this.#controlOut.length = 0;
    if (this.control) {
      this.control.deviceReady = false;
      for (const port of this.control.ports) {
        port.added = false;
        port.ready = false;
        port.guestOpen = null;
      }
    }
  }

  /** `QueueReset` of one queue (§2.6.1): like {@linkcode reset}, for that queue only. */
  queueReset(index: number): void {
    if (index >= 0 && index < this.#queueEpoch.length) this.#queueEpoch[index]++;
  }

  /**
   * Detaches from the backend's resize events and stops taking input; the
   * backends themselves are left open (their owner closes them).
   */
  close(): void {
    this.#closed = true;
    for (const port of this.#ports) {
      if (port.receiveBackoff !== null) clearTimeout(port.receiveBackoff);
      port.receiveBackoff = null;
    }
    this.#generation++;
    this.#unsubscribeResize?.();
    this.#unsubscribeResize = null;
  }

  /** Whether the driver negotiated VIRTIO_CONSOLE_F_MULTIPORT (and the device has the queues). */
  get #multiport(): boolean {
    return this.control !== null && this.#host !== null &&
      hasFeature(this.#host.features, VIRTIO_CONSOLE_F_MULTIPORT);
  }

  /** The port whose receiveq or transmitq `index` is, if the device has it in use. */
  #portOfQueue(index: number): PortIo | undefined {
    if (index < 2) return this.#ports[0];
    if (!this.#multiport || index < 4) return undefined;
    return this.#ports[(index - 2) >> 1];
  }

  /**
   * Whether a port takes input: port 0 alone without multiport; with it, a
   * port the driver has made ready and opened.
   */
  #takesInput(port: PortIo): boolean {
    if (!this.#multiport) return port.id === 0;
    const c = this.control!.ports[port.id];
    return c.ready && c.guestOpen === true;
  }

  // ------------------------------------------------------------ receive

  /**
   * Moves input into receive buffers while both exist, then asks the
   * backend for more only if a buffer is still waiting.
   */
  #pumpInput(port: PortIo): void {
    const host = this.#host;
    if (!host || this.#closed || !this.#takesInput(port)) return;
    const queue = host.queue(port.receiveq);
    if (!queue) return;
    let used = false;
    let refused = false;
    while (port.pending) {
      const chain = queue.pop();
      if (!chain) break;
      used = true;
      port.receiveChains++;
      const n = this.parts.fillReceiveChain(
        host.memory,
        chain,
        port.pending,
        this.#reporter!,
        queue.streams.writeChain,
      );
      if (n < 0) {
        port.rejectedChains++;
        queue.push(chain.head, 0);
        refused = true;
        continue;
      }
      queue.push(chain.head, n);
      port.bytesIn += n;
      port.pending = n < port.pending.length ? port.pending.subarray(n) : null;
    }
    if (refused && port.pending && port.receiveBackoff === null) {
      port.receiveBackoff = setTimeout(() => {
        port.receiveBackoff = null;
        try {
          this.#pumpInput(port);
        } catch (e) {
          // No caller to throw to, as in a backend read's reaction below.
          this.#failedOffStack(host, e, "receive (retry timer)", "Receiving input");
        }
      }, 1);
    }
    if (used) host.usedBuffers(port.receiveq);
    if (!port.pending && !port.reading && !port.inputEnded && queue.hasAvailable()) {
      port.reading = true;
      port.backend.read().then(
        (chunk) => {
          port.reading = false;
          if (chunk === null) port.inputEnded = true;
          else if (chunk.length > 0) port.pending = chunk;
          try {
            this.#pumpInput(port);
          } catch (e) {
            // A promise reaction has no caller to throw to: a part that
            // throws here (a strict log, a broken replacement) stops the
            // device and goes to the error hook instead of escaping as an
            // unhandled rejection.
            this.#failedOffStack(host, e, "receive (backend input)", "Receiving input");
          }
        },
        () => {
          port.reading = false;
          port.inputEnded = true;
          port.backendErrors++;
        },
      );
    }
  }

  // ------------------------------------------------------------ transmit

  /**
   * An available buffer notification on a transmitq: takes every available
   * chain and starts streaming them, unless the device is streaming already
   * (then the streaming loop takes them when it runs dry).
   */
  #drainTransmit(port: PortIo): void {
    const host = this.#host;
    if (!host) return;
    const queue = host.queue(port.transmitq);
    if (!queue) return;
    this.#takeTransmitChains(host, port, queue);
    if (!port.transmitting && port.transmitQueue.length > 0) void this.#transmit(host, port);
  }

  /**
   * Takes every available transmit chain, in order, into the port's transmit
   * queue. A chain's shape is checked as it is popped (a zero-byte take: a
   * device-writable buffer is 5.3.6.1/2), so a refused chain is reported
   * and returned at once, and a strict log throws here, to the caller.
   *
   * @returns How many chains were queued for streaming.
   */
  #takeTransmitChains(host: DeviceHost, port: PortIo, queue: DeviceQueue): number {
    let refused = false;
    let queued = 0;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      port.transmitChains++;
      const probe: TransmitCursor = { segment: 0, offset: 0 };
      if (
        this.parts.takeTransmitChain(
          host.memory,
          chain,
          probe,
          NO_BYTES,
          this.#reporter!,
          queue.streams.readChain,
        ) < 0
      ) {
        port.rejectedChains++;
        queue.push(chain.head, 0);
        refused = true;
        continue;
      }
      port.transmitQueue.push({
        chain,
        queue,
        generation: this.#generation,
        epoch: this.#queueEpoch[port.transmitq],
      });
      queued++;
    }
    if (refused) host.usedBuffers(port.transmitq);
    return queued;
  }

  /**
   * Streams the port's queued transmit chains to its backend one after
   * another, each a chunk at a time, returning each (len 0: the device wrote
   * nothing into it) once the backend has taken all of it. A reset stops a
   * chain where it is: nothing more is read from guest memory and it is not
   * returned. Never rejects: a part that throws here (a strict log, or a
   * broken replacement) has no caller to throw to, so the device stops using
   * the queue and asks for a reset.
   *
   * While it streams, the device is busy and looks at the ring itself, so it
   * suppresses available buffer notifications (§2.7.10): the driver's chains
   * published meanwhile are taken when the queue runs dry. Before going
   * idle it turns notifications back on and looks at the ring once more
   * (2.7.10/D1): a chain published after the last look, by a driver that
   * still saw notifications off, would otherwise wait for a notification
   * that never comes. A re-check that says "more" twice with nothing to take
   * ends the loop, with notifications on.
   */
  async #transmit(host: DeviceHost, port: PortIo): Promise<void> {
    port.transmitting = true;
    const cursor: TransmitCursor = { segment: 0, offset: 0 };
    // Ports stream at the same time; each streams through a buffer of its own.
    const chunk = port.id === 0 ? this.#chunk : (port.chunk ??= new Uint8Array(this.#chunk.length));
    try {
      host.queue(port.transmitq)?.disableNotifications();
      for (let idle = 0;;) {
        for (let work = port.transmitQueue.shift(); work; work = port.transmitQueue.shift()) {
          const { chain, queue } = work;
          cursor.segment = 0;
          cursor.offset = 0;
          let stale = false;
          for (;;) {
            if (this.#isStale(host, port, work)) {
              stale = true;
              break;
            }
            const n = this.parts.takeTransmitChain(
              host.memory,
              chain,
              cursor,
              chunk,
              this.#reporter!,
              queue.streams.readChain,
            );
            if (n < 0) {
              port.rejectedChains++;
              break;
            }
            if (n === 0) break;
            port.bytesOut += n;
            await port.output(chunk.subarray(0, n));
          }
          if (stale) {
            port.staleCompletions++;
            continue;
          }
          queue.push(chain.head, 0);
          host.usedBuffers(port.transmitq);
        }
        const queue = host.queue(port.transmitq);
        if (!queue) break;
        if (this.#takeTransmitChains(host, port, queue) > 0) {
          idle = 0;
          continue;
        }
        if (!queue.enableNotifications() || ++idle > 1) break;
        queue.disableNotifications();
      }
    } catch (e) {
      port.transmitQueue.length = 0;
      this.#failedOffStack(
        host,
        e,
        port.id === 0 ? "transmit" : `port ${port.id} transmit`,
        "Transmit",
      );
    } finally {
      port.transmitting = false;
    }
  }

  #isStale(host: DeviceHost, port: PortIo, work: TransmitWork): boolean {
    return work.generation !== this.#generation ||
      work.epoch !== this.#queueEpoch[port.transmitq] ||
      host.queue(port.transmitq) !== work.queue;
  }

  // ------------------------------------------------------------ control

  /**
   * Takes every chain on the control transmitq: reads the driver's message
   * (a device-writable buffer there is 5.3.6.1/2), hands it to the
   * `handleDriverMessage` part, returns the chain (len 0), queues the
   * answers on the control receiveq, and lets input flow on ports the
   * driver has just opened.
   */
  #drainControl(): void {
    const host = this.#host;
    const state = this.control;
    if (!host || !state || this.#closed) return;
    const queue = host.queue(VIRTIO_CONSOLE_CONTROL_TRANSMITQ);
    if (!queue) return;
    let used = false;
    const message = new Uint8Array(CONTROL_READ_BYTES);
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      used = true;
      const cursor: TransmitCursor = { segment: 0, offset: 0 };
      let length = 0;
      for (;;) {
        const n = this.parts.takeTransmitChain(
          host.memory,
          chain,
          cursor,
          message.subarray(length),
          this.#reporter!,
          queue.streams.readChain,
        );
        if (n < 0) {
          length = -1;
          break;
        }
        length += n;
        if (n === 0 || length === message.length) break;
      }
      queue.push(chain.head, 0);
      if (length < 0) continue;
      const answers = this.parts.handleDriverMessage(
        state,
        message.slice(0, length),
        this.#reporter!,
      );
      for (const answer of answers) this.#controlOut.push(answer);
    }
    if (used) host.usedBuffers(VIRTIO_CONSOLE_CONTROL_TRANSMITQ);
    this.#pumpControl();
    for (const port of this.#ports) this.#pumpInput(port);
  }

  /**
   * Moves waiting control messages into control receive buffers, one
   * message per chain, through the `fillReceiveChain` part (which refuses a
   * device-readable buffer, 5.3.6.1/1). A chain too small for a message gets
   * what fits, as QEMU does: the driver then meets a short message.
   */
  #pumpControl(): void {
    const host = this.#host;
    if (!host || this.#closed || this.#controlOut.length === 0) return;
    const queue = host.queue(VIRTIO_CONSOLE_CONTROL_RECEIVEQ);
    if (!queue) return;
    let used = false;
    while (this.#controlOut.length > 0) {
      const chain = queue.pop();
      if (!chain) break;
      used = true;
      const n = this.parts.fillReceiveChain(
        host.memory,
        chain,
        this.#controlOut[0],
        this.#reporter!,
        queue.streams.writeChain,
      );
      queue.push(chain.head, Math.max(0, n));
      if (n >= 0) this.#controlOut.shift();
    }
    if (used) host.usedBuffers(VIRTIO_CONSOLE_CONTROL_RECEIVEQ);
  }

  // -------------------------------------------------------------- size

  #setSize(size: ConsoleSize | null): void {
    const bytes = this.parts.consoleConfigSpace(
      size ? { cols: size.cols & 0xffff, rows: size.rows & 0xffff } : null,
    );
    if (!(bytes instanceof Uint8Array) || bytes.length !== VIRTIO_CONSOLE_CONFIG_SIZE) {
      throw new TypeError(
        `consoleConfigSpace returned ${
          bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes
        }, not the ${VIRTIO_CONSOLE_CONFIG_SIZE} bytes of struct virtio_console_config`,
      );
    }
    this.#config.bytes.set(bytes);
    // consoleConfigSpace lays out a one-port console; a multiport device
    // has max_nr_ports of its own.
    if (this.control) {
      this.#config.setU32(VIRTIO_CONSOLE_CONFIG_MAX_NR_PORTS, this.#maxNrPorts);
    }
  }

  /** A backend resize event: runs in the backend's callback, where nothing takes an error. */
  #resized(size: ConsoleSize): void {
    try {
      this.#setSize(size);
      // §5.3.6: a configuration change notification tells the driver to read
      // cols and rows again; the transport bumps ConfigGeneration too.
      this.#host?.configChanged();
    } catch (e) {
      this.#onError(e, `${this.name} resize`);
    }
  }

  // ------------------------------------------------------------ errors

  /**
   * An error thrown where no caller can take it (a promise reaction, a
   * timer): the device asks for a reset first, as the spec has a device do
   * when it cannot go on (§2.1.2), then hands the error to the error hook,
   * with a reset that itself threw after it.
   */
  #failedOffStack(host: DeviceHost, error: unknown, step: string, doing: string): void {
    let resetError: unknown = null;
    try {
      host.needsReset(
        error instanceof ConformanceError
          ? error.violation
          : `${doing} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    } catch (e) {
      resetError = e;
    }
    const where = `${this.name} ${step}`;
    this.#onError(error, where);
    if (resetError !== null) this.#onError(resetError, `${where}, asking for a reset`);
  }
}
