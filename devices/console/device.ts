/**
 * The virtio console device model (virtio v1.2 §5.3), port 0 only: a
 * receiveq carrying input from a {@linkcode ConsoleBackend} to the driver and
 * a transmitq carrying output back, the console size in configuration space
 * and emergency write.
 *
 * @module
 */

import { VIRTIO_ID_CONSOLE } from "../../virtio/device_ids.ts";
import {
  features,
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
import { type ConsoleDeviceParts, REFERENCE_CONSOLE_DEVICE_PARTS } from "./parts.ts";
import type { TransmitCursor } from "./transmit.ts";
import {
  VIRTIO_CONSOLE_CONFIG_COLS,
  VIRTIO_CONSOLE_CONFIG_LAYOUT,
  VIRTIO_CONSOLE_CONFIG_ROWS,
  VIRTIO_CONSOLE_CONFIG_SIZE,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_FEATURE_NAMES,
  VIRTIO_CONSOLE_RECEIVEQ,
  VIRTIO_CONSOLE_TRANSMITQ,
} from "./constants.ts";

/** Options for {@linkcode VirtioConsoleDevice}. */
export interface VirtioConsoleDeviceOptions {
  /** `QueueNumMax` of both queues, in descriptors (default 256). */
  readonly queueSize?: number;
  /** Name shown by the transport (default `"virtio-console"`). */
  readonly name?: string;
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

/**
 * A virtio console (§5.3) with one port.
 *
 * - Features offered: VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX,
 *   VIRTIO_F_INDIRECT_DESC, VIRTIO_F_RING_RESET, VIRTIO_CONSOLE_F_EMERG_WRITE,
 *   and VIRTIO_CONSOLE_F_SIZE when the backend reports a size at construction.
 *   Never VIRTIO_CONSOLE_F_MULTIPORT.
 * - Input: bytes are pulled from the backend only while the receiveq has
 *   buffers; at most one chunk waits inside the device. Each receive chain is
 *   filled with as many bytes as it holds; `len` is the byte count.
 * - Output: transmit chains are written to the backend in order, streamed
 *   out of guest memory a bounded piece at a time (`transmitChunkBytes`), so
 *   a chain that claims gigabytes costs only what the backend takes; a chain
 *   is used (len 0) once the backend has taken all its bytes, which gives
 *   the driver backpressure.
 * - `emerg_wr`: the low byte of a write goes to the backend at any time, even
 *   before the device is configured (5.3.5.1).
 * - Reset (device or queue): completions of backend work started before it
 *   are dropped and never touch guest memory.
 *
 * Every step goes through {@linkcode parts} (`fillReceiveChain`,
 * `takeTransmitChain`, `emergencyWriteByte`, `consoleConfigSpace`).
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
  /** receiveq and transmitq of port 0. */
  readonly queueMaxSizes: readonly number[];
  /** struct virtio_console_config. */
  readonly configLayout: readonly ConfigField[] = VIRTIO_CONSOLE_CONFIG_LAYOUT;
  /** 12 bytes. */
  readonly configSize: number = VIRTIO_CONSOLE_CONFIG_SIZE;
  /** The backend. */
  readonly backend: ConsoleBackend;
  /** The steps this device runs: the reference parts, with any replacements given. */
  readonly parts: ConsoleDeviceParts;

  readonly #config = new ConfigSpace(VIRTIO_CONSOLE_CONFIG_SIZE);
  #host: DeviceHost | null = null;
  #reporter: ConformanceReporter | null = null;
  /** Bumped by every device reset. */
  #generation = 0;
  /** Bumped by every reset of that queue. */
  readonly #queueEpoch = [0, 0];
  /** Input read from the backend and not yet delivered (at most one chunk). */
  #pending: Uint8Array | null = null;
  #reading = false;
  #inputEnded = false;
  /**
   * Set after the receiveq held a refused chain (5.3.6.1/1): the next pump
   * waits for a timer turn instead of the driver's notification, so a driver
   * that reposts the same wrong buffers at once cannot keep the device and
   * itself busy without end inside one turn of the event loop.
   */
  #receiveBackoff: ReturnType<typeof setTimeout> | null = null;
  /** Transmit chains popped and not streamed yet, in order. */
  readonly #transmitQueue: TransmitWork[] = [];
  #transmitting = false;
  /** The one buffer transmit chains are streamed through. */
  readonly #chunk: Uint8Array;
  /** Backend writes run one after another, in order. */
  #outputTail: Promise<void> = Promise.resolve();
  #unsubscribeResize: (() => void) | null = null;
  #closed = false;
  readonly #onError: (error: unknown, where: string) => void;

  #bytesIn = 0;
  #bytesOut = 0;
  #emergencyBytes = 0;
  #receiveChains = 0;
  #transmitChains = 0;
  #rejectedChains = 0;
  #staleCompletions = 0;
  #backendErrors = 0;

  /**
   * Creates the device; VIRTIO_CONSOLE_F_SIZE is offered if `backend.size()` reports a size now.
   *
   * @param backend The byte stream behind port 0.
   * @param options Queue size, name, transmit chunk size, parts and error hook.
   * @throws {RangeError} If `queueSize` is not a power of two from 1 to 32768,
   *   or `transmitChunkBytes` is not a positive integer.
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
    this.#chunk = new Uint8Array(chunk);
    this.parts = mergeParts(REFERENCE_CONSOLE_DEVICE_PARTS, options.parts);
    this.name = options.name ?? "virtio-console";
    this.backend = backend;
    this.#onError = options.onError ?? printDeviceError;
    this.queueMaxSizes = Object.freeze([queueSize, queueSize]);
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

  /** Counters since construction. */
  get stats(): ConsoleDeviceStats {
    return {
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      emergencyBytes: this.#emergencyBytes,
      receiveChains: this.#receiveChains,
      transmitChains: this.#transmitChains,
      rejectedChains: this.#rejectedChains,
      staleCompletions: this.#staleCompletions,
      backendErrors: this.#backendErrors,
      inputEnded: this.#inputEnded,
    };
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
   * goes to the backend at once, in any device state (5.3.5.1/1 and
   * 5.3.5.1/2), in order with transmitted output.
   */
  writeConfig(offset: number, _width: AccessWidth, value: number): void {
    const byte = this.parts.emergencyWriteByte(offset, value);
    if (byte < 0 || this.#closed) return;
    this.#emergencyBytes++;
    void this.#output(new Uint8Array([byte & 0xff]));
  }

  /** DRIVER_OK: start moving data in both directions. */
  activate(): void {
    this.#pumpInput();
    this.#drainTransmit();
  }

  /** An available buffer notification. */
  queueNotify(index: number): void {
    if (index === VIRTIO_CONSOLE_RECEIVEQ) {
      if (this.#receiveBackoff === null) this.#pumpInput();
    } else if (index === VIRTIO_CONSOLE_TRANSMITQ) this.#drainTransmit();
  }

  /**
   * Device reset (§2.4): output in flight is still written to the backend but
   * its chains are never returned, and nothing touches guest memory. Input
   * already read from the backend stays in the device for the next driver.
   */
  reset(): void {
    this.#generation++;
  }

  /** `QueueReset` of one queue (§2.6.1): like {@linkcode reset}, for that queue only. */
  queueReset(index: number): void {
    if (index === VIRTIO_CONSOLE_RECEIVEQ || index === VIRTIO_CONSOLE_TRANSMITQ) {
      this.#queueEpoch[index]++;
    }
  }

  /**
   * Detaches from the backend's resize events and stops taking input; the
   * backend itself is left open (its owner closes it).
   */
  close(): void {
    this.#closed = true;
    if (this.#receiveBackoff !== null) clearTimeout(this.#receiveBackoff);
    this.#receiveBackoff = null;
    this.#generation++;
    this.#unsubscribeResize?.();
    this.#unsubscribeResize = null;
  }

  // ------------------------------------------------------------ receive

  /**
   * Moves input into receive buffers while both exist, then asks the
   * backend for more only if a buffer is still waiting.
   */
  #pumpInput(): void {
    const host = this.#host;
    if (!host || this.#closed) return;
    const queue = host.queue(VIRTIO_CONSOLE_RECEIVEQ);
    if (!queue) return;
    let used = false;
    let refused = false;
    while (this.#pending) {
      const chain = queue.pop();
      if (!chain) break;
      used = true;
      this.#receiveChains++;
      const n = this.parts.fillReceiveChain(
        host.memory,
        chain,
        this.#pending,
        this.#reporter!,
        queue.streams.writeChain,
      );
      if (n < 0) {
        this.#rejectedChains++;
        queue.push(chain.head, 0);
        refused = true;
        continue;
      }
      queue.push(chain.head, n);
      this.#bytesIn += n;
      this.#pending = n < this.#pending.length ? this.#pending.subarray(n) : null;
    }
    if (refused && this.#pending && this.#receiveBackoff === null) {
      this.#receiveBackoff = setTimeout(() => {
        this.#receiveBackoff = null;
        try {
          this.#pumpInput();
        } catch (e) {
          // No caller to throw to, as in a backend read's reaction below.
          this.#failedOffStack(host, e, "receive (retry timer)", "Receiving input");
        }
      }, 1);
    }
    if (used) host.usedBuffers(VIRTIO_CONSOLE_RECEIVEQ);
    if (!this.#pending && !this.#reading && !this.#inputEnded && queue.hasAvailable()) {
      this.#reading = true;
      this.backend.read().then(
        (chunk) => {
          this.#reading = false;
          if (chunk === null) this.#inputEnded = true;
          else if (chunk.length > 0) this.#pending = chunk;
          try {
            this.#pumpInput();
          } catch (e) {
            // A promise reaction has no caller to throw to: a part that
            // throws here (a strict log, a broken replacement) stops the
            // device and goes to the error hook instead of escaping as an
            // unhandled rejection.
            this.#failedOffStack(host, e, "receive (backend input)", "Receiving input");
          }
        },
        () => {
          this.#reading = false;
          this.#inputEnded = true;
          this.#backendErrors++;
        },
      );
    }
  }

  // ------------------------------------------------------------ transmit

  /**
   * An available buffer notification on the transmitq: takes every available
   * chain and starts streaming them, unless the device is streaming already
   * (then the streaming loop takes them when it runs dry).
   */
  #drainTransmit(): void {
    const host = this.#host;
    if (!host) return;
    const queue = host.queue(VIRTIO_CONSOLE_TRANSMITQ);
    if (!queue) return;
    this.#takeTransmitChains(host, queue);
    if (!this.#transmitting && this.#transmitQueue.length > 0) void this.#transmit(host);
  }

  /**
   * Takes every available transmit chain, in order, into the transmit queue.
   * A chain's shape is checked as it is popped (a zero-byte take: a
   * device-writable buffer is 5.3.6.1/2), so a refused chain is reported
   * and returned at once, and a strict log throws here, to the caller.
   *
   * @returns How many chains were queued for streaming.
   */
  #takeTransmitChains(host: DeviceHost, queue: DeviceQueue): number {
    let refused = false;
    let queued = 0;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      this.#transmitChains++;
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
        this.#rejectedChains++;
        queue.push(chain.head, 0);
        refused = true;
        continue;
      }
      this.#transmitQueue.push({
        chain,
        queue,
        generation: this.#generation,
        epoch: this.#queueEpoch[VIRTIO_CONSOLE_TRANSMITQ],
      });
      queued++;
    }
    if (refused) host.usedBuffers(VIRTIO_CONSOLE_TRANSMITQ);
    return queued;
  }

  /**
   * Streams the queued transmit chains to the backend one after another,
   * each a chunk at a time, returning each (len 0: the device wrote nothing
   * into it) once the backend has taken all of it. A reset stops a chain
   * where it is: nothing more is read from guest memory and it is not
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
  async #transmit(host: DeviceHost): Promise<void> {
    this.#transmitting = true;
    const cursor: TransmitCursor = { segment: 0, offset: 0 };
    try {
      host.queue(VIRTIO_CONSOLE_TRANSMITQ)?.disableNotifications();
      for (let idle = 0;;) {
        for (let work = this.#transmitQueue.shift(); work; work = this.#transmitQueue.shift()) {
          const { chain, queue } = work;
          cursor.segment = 0;
          cursor.offset = 0;
          let stale = false;
          for (;;) {
            if (this.#isStale(host, work)) {
              stale = true;
              break;
            }
            const n = this.parts.takeTransmitChain(
              host.memory,
              chain,
              cursor,
              this.#chunk,
              this.#reporter!,
              queue.streams.readChain,
            );
            if (n < 0) {
              this.#rejectedChains++;
              break;
            }
            if (n === 0) break;
            this.#bytesOut += n;
            await this.#output(this.#chunk.subarray(0, n));
          }
          if (stale) {
            this.#staleCompletions++;
            continue;
          }
          queue.push(chain.head, 0);
          host.usedBuffers(VIRTIO_CONSOLE_TRANSMITQ);
        }
        const queue = host.queue(VIRTIO_CONSOLE_TRANSMITQ);
        if (!queue) break;
        if (this.#takeTransmitChains(host, queue) > 0) {
          idle = 0;
          continue;
        }
        if (!queue.enableNotifications() || ++idle > 1) break;
        queue.disableNotifications();
      }
    } catch (e) {
      this.#transmitQueue.length = 0;
      this.#failedOffStack(host, e, "transmit", "Transmit");
    } finally {
      this.#transmitting = false;
    }
  }

  #isStale(host: DeviceHost, work: TransmitWork): boolean {
    return work.generation !== this.#generation ||
      work.epoch !== this.#queueEpoch[VIRTIO_CONSOLE_TRANSMITQ] ||
      host.queue(VIRTIO_CONSOLE_TRANSMITQ) !== work.queue;
  }

  /** Queues a backend write after the ones before it; never rejects. */
  #output(bytes: Uint8Array): Promise<void> {
    const next = this.#outputTail.then(() => this.backend.write(bytes)).catch(() => {
      this.#backendErrors++;
    });
    this.#outputTail = next;
    return next;
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
