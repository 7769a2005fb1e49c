/**
 * The virtio console driver (virtio v1.2 §5.3), port 0 only, in the manner of
 * Linux's `drivers/char/virtio_console.c`: receive buffers kept posted and
 * surfaced as a `ReadableStream`, output copied into guest buffers and posted
 * on the transmitq, emergency write through `emerg_wr`, and the console size
 * from configuration space.
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
import { type ConsoleDriverParts, REFERENCE_CONSOLE_DRIVER_PARTS } from "./parts.ts";
import {
  VIRTIO_CONSOLE_CONFIG_EMERG_WR,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_RECEIVEQ,
  VIRTIO_CONSOLE_TRANSMITQ,
} from "./constants.ts";

/** Options for {@linkcode VirtioConsoleDriver}. */
export interface VirtioConsoleDriverOptions {
  /** Receive buffers kept posted on the receiveq (default 16). */
  readonly receiveBuffers?: number;
  /** Size of each receive buffer, in bytes (default 4096). */
  readonly receiveBufferSize?: number;
  /** Largest transmit chain, in bytes: bigger writes are split (default 4096). */
  readonly transmitChunkSize?: number;
  /** Transmit chains in flight at once (default 16). */
  readonly maxTransmitInFlight?: number;
  /**
   * Bytes the readable stream buffers before the driver stops re-posting
   * receive buffers, which stops the device reading its backend (default 65536).
   */
  readonly readableHighWaterMark?: number;
  /** Replacements for some of the driver-side parts (default: the reference ones). */
  readonly parts?: Partial<ConsoleDriverParts>;
}

/** The console driver cannot do what was asked. */
export class ConsoleDriverError extends Error {
  /** `"not-bound"`, `"closed"`, `"removed"`, `"not-negotiated"`, `"queue-broken"`, `"needs-reset"` or `"reset"`. */
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

/**
 * Drives a virtio console's port 0.
 *
 * Negotiates VIRTIO_F_VERSION_1, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC,
 * VIRTIO_CONSOLE_F_SIZE and VIRTIO_CONSOLE_F_EMERG_WRITE when offered, never
 * VIRTIO_CONSOLE_F_MULTIPORT. Receive buffers are device-writable only
 * (5.3.6.1/1), transmit buffers device-readable only (5.3.6.1/2). Receive
 * buffers posted during probe are announced only after DRIVER_OK (3.1.1/6);
 * a used `len` is never trusted past the buffer posted, and nothing past it
 * is read (2.7.8.3/1).
 *
 * Every step goes through {@linkcode parts} (`postReceiveBuffers`,
 * `receivedBytes`, `transmitChunks`, `postTransmitBuffer`, `readConsoleSize`).
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
    VIRTIO_CONSOLE_F_EMERG_WRITE,
  );
  /**
   * Bytes received from the device, in order. Backpressure reaches the
   * device: while the stream holds `readableHighWaterMark` bytes unread, no
   * receive buffer is re-posted.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /** The steps this driver runs: the reference parts, with any replacements given. */
  readonly parts: ConsoleDriverParts;

  readonly #receiveBuffers: number;
  readonly #receiveBufferSize: number;
  readonly #transmitChunkSize: number;
  readonly #maxTransmitInFlight: number;
  #ctx: VirtioDriverContext | null = null;
  #rxq: DriverQueue<number> | null = null;
  #txq: DriverQueue<TransmitJob> | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Every receive buffer allocated, by address. */
  readonly #rxAll: number[] = [];
  /** Receive buffers reaped and not re-posted because the stream is full. */
  readonly #rxParked: number[] = [];
  /** Receive buffers reaped and to be re-posted at the end of this reap. */
  readonly #rxRepost: number[] = [];
  readonly #txPending: TransmitJob[] = [];
  readonly #txInFlight = new Set<TransmitJob>();
  readonly #writes = new Set<Promise<void>>();
  readonly #resizeListeners = new Set<ConsoleResizeListener>();
  #size: ConsoleSize | null = null;
  #live = false;
  #closed = false;
  #streamDone = false;
  /** Why writes fail until the device is recovered (DEVICE_NEEDS_RESET), or `null`. */
  #failure: ConsoleDriverError | null = null;
  #bytesReceived = 0;
  #bytesSent = 0;

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
    const highWaterMark = options.readableHighWaterMark ?? 65536;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#repostParked(),
        cancel: () => {
          this.#streamDone = true;
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  /** The negotiated console size, updated on configuration changes; `null` without VIRTIO_CONSOLE_F_SIZE. */
  get size(): ConsoleSize | null {
    return this.#size;
  }

  /** Whether VIRTIO_CONSOLE_F_EMERG_WRITE was negotiated. */
  get canEmergencyWrite(): boolean {
    return this.#ctx !== null && hasFeature(this.#ctx.features, VIRTIO_CONSOLE_F_EMERG_WRITE);
  }

  /** Bytes received and bytes sent so far. */
  get stats(): { readonly bytesReceived: number; readonly bytesSent: number } {
    return { bytesReceived: this.#bytesReceived, bytesSent: this.#bytesSent };
  }

  /**
   * Sets up both queues, reads the size and posts the receive buffers
   * (published, not notified: notifications wait for DRIVER_OK, 3.1.1/6).
   *
   * @throws {GuestOutOfMemoryError} If the buffers do not fit in guest memory.
   */
  probe(ctx: VirtioDriverContext): void {
    this.#ctx = ctx;
    this.#rxq = ctx.setupQueue<number>(VIRTIO_CONSOLE_RECEIVEQ, {
      onUsed: () => this.#reapReceive(),
    });
    this.#txq = ctx.setupQueue<TransmitJob>(VIRTIO_CONSOLE_TRANSMITQ, {
      onUsed: () => this.#reapTransmit(),
    });
    if (hasFeature(ctx.features, VIRTIO_CONSOLE_F_SIZE)) {
      this.#size = this.parts.readConsoleSize(ctx);
    }
    const count = Math.min(this.#receiveBuffers, this.#rxq.size);
    for (let i = 0; i < count; i++) {
      this.#rxAll.push(ctx.allocator.alloc(this.#receiveBufferSize, 16));
    }
    // The queue exists, DRIVER_OK is not set yet: posted and published, not
    // notified (3.1.1/6); ready() tells the device.
    if (this.parts.postReceiveBuffers(this.#rxq, this.#rxAll, this.#receiveBufferSize, false)) {
      ctx.notify(VIRTIO_CONSOLE_RECEIVEQ);
    }
  }

  /** DRIVER_OK is set: tell the device about the receive buffers and start sending. */
  ready(): void {
    this.#live = true;
    this.#ctx!.notify(VIRTIO_CONSOLE_RECEIVEQ);
    this.#pumpTransmit();
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
      this.#failTransmit(this.#failure);
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

  /** Iterates over received chunks (locks {@linkcode readable}). */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.readable[Symbol.asyncIterator]();
  }

  /**
   * Sends bytes to the console: copies them into guest buffers of at most
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
    if (this.#closed) {
      return Promise.reject(
        new ConsoleDriverError("closed", "Console driver is closed; write refused"),
      );
    }
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#ctx) {
      return Promise.reject(
        new ConsoleDriverError("not-bound", "Console driver is not bound to a device"),
      );
    }
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return Promise.resolve();
    const chunks = this.parts.transmitChunks(bytes, this.#transmitChunkSize).map((chunk) =>
      new Promise<void>((resolve, reject) => {
        this.#txPending.push({ bytes: chunk, addr: -1, resolve, reject });
      })
    );
    const done = Promise.all(chunks).then(() => {
      this.#bytesSent += bytes.length;
    });
    this.#writes.add(done);
    const forget = () => this.#writes.delete(done);
    done.then(forget, forget);
    this.#pumpTransmit();
    return done;
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
   * flight, then ends {@linkcode readable}. Receive buffers stay with the
   * device until the driver core unbinds it ({@linkcode remove}).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#writes]);
    this.#endStream();
  }

  /**
   * The driver core is unbinding the device and resets it right after: fail
   * pending writes, end {@linkcode readable}, and free every guest buffer.
   */
  remove(): void {
    this.#closed = true;
    this.#live = false;
    const error = new ConsoleDriverError("removed", "Console device was removed");
    this.#failTransmit(error);
    this.#endStream();
    this.#releaseBuffers();
  }

  /**
   * The driver core has reset the device to recover it and will probe this
   * driver again: writes in flight or waiting fail now (`"needs-reset"` when
   * the device asked for the reset, else `"reset"`: the device dropped them,
   * and some of their bytes may have reached the terminal); receive buffers
   * are freed. {@linkcode readable} stays open, and writes made from now on
   * wait for the new bring-up.
   */
  resetPrepare(): void {
    this.#live = false;
    this.#failTransmit(
      this.#failure ??
        new ConsoleDriverError(
          "reset",
          "Console device was reset to recover; the write was not completed",
        ),
    );
    this.#releaseBuffers();
    this.#failure = null;
  }

  /** Takes back both queues' chains and frees the receive buffers (the device was reset). */
  #releaseBuffers(): void {
    const allocator = this.#ctx?.allocator;
    for (const queue of [this.#rxq, this.#txq]) detach(queue);
    if (allocator) { for (const addr of this.#rxAll.splice(0)) allocator.free(addr); }
    this.#rxParked.length = 0;
    this.#rxq = null;
    this.#txq = null;
  }

  // ------------------------------------------------------------ receive

  #reapReceive(): void {
    const rxq = this.#rxq;
    const ctx = this.#ctx;
    if (!rxq || !ctx) return;
    const repost = this.#rxRepost;
    rxq.drainUsed((used) => {
      const addr = used.token;
      if (used.len > 0 && !this.#streamDone) {
        const bytes = this.parts.receivedBytes(
          ctx.memory,
          addr,
          this.#receiveBufferSize,
          used.len,
          ctx.reporter,
        );
        this.#bytesReceived += bytes.length;
        if (bytes.length > 0) this.#controller.enqueue(bytes);
      }
      if (this.#wantsMore()) repost.push(addr);
      else this.#rxParked.push(addr);
    });
    if (rxq.broken) {
      repost.length = 0;
      this.#controller.error(
        new ConsoleDriverError("queue-broken", `Receive queue broken: ${rxq.broken.message}`),
      );
      this.#streamDone = true;
      return;
    }
    // Refill at once, so input never waits for buffers the driver holds
    // (a device with input pending resumes on this notification).
    this.#post(repost);
  }

  #wantsMore(): boolean {
    return !this.#closed && !this.#streamDone && (this.#controller.desiredSize ?? 0) > 0;
  }

  #repostParked(): void {
    if (!this.#rxq || this.#rxParked.length === 0 || this.#closed) return;
    this.#post(this.#rxParked);
  }

  /** Posts receive buffers (the list is emptied) and notifies if the device is live. */
  #post(buffers: number[]): void {
    const rxq = this.#rxq;
    if (!rxq || buffers.length === 0) return;
    const notify = this.parts.postReceiveBuffers(rxq, buffers, this.#receiveBufferSize, this.#live);
    buffers.length = 0;
    if (notify) this.#ctx!.notify(VIRTIO_CONSOLE_RECEIVEQ);
  }

  #endStream(): void {
    if (this.#streamDone) return;
    this.#streamDone = true;
    try {
      this.#controller.close();
    } catch {
      // Already closed or errored.
    }
  }

  // ------------------------------------------------------------ transmit

  #pumpTransmit(): void {
    const txq = this.#txq;
    const ctx = this.#ctx;
    if (!txq || !ctx || !this.#live) return;
    const allocator: GuestAllocator = ctx.allocator;
    let added = false;
    while (this.#txPending.length > 0 && this.#txInFlight.size < this.#maxTransmitInFlight) {
      const job = this.#txPending[0];
      let addr: number;
      try {
        addr = allocator.alloc(job.bytes.length, 16);
      } catch (e) {
        if (e instanceof GuestOutOfMemoryError && this.#txInFlight.size > 0) break;
        this.#txPending.shift();
        job.reject(e as Error);
        continue;
      }
      ctx.memory.write(addr, job.bytes);
      try {
        this.parts.postTransmitBuffer(txq, addr, job.bytes.length, job);
      } catch (e) {
        allocator.free(addr);
        if (e instanceof VirtqueueFullError && this.#txInFlight.size > 0) break;
        this.#txPending.shift();
        job.reject(e as Error);
        continue;
      }
      job.addr = addr;
      this.#txPending.shift();
      this.#txInFlight.add(job);
      added = true;
    }
    if (added) this.#kick(txq, VIRTIO_CONSOLE_TRANSMITQ);
  }

  #reapTransmit(): void {
    const txq = this.#txq;
    const ctx = this.#ctx;
    if (!txq || !ctx) return;
    txq.drainUsed((used) => {
      const job = used.token;
      // A write failed already (DEVICE_NEEDS_RESET, a broken queue) had its
      // buffer freed and its promise rejected then; a completion the device
      // wrote before it broke changes nothing.
      if (job.addr < 0) return;
      this.#txInFlight.delete(job);
      ctx.allocator.free(job.addr);
      job.addr = -1;
      job.resolve();
    });
    if (txq.broken) {
      this.#failTransmit(
        new ConsoleDriverError("queue-broken", `Transmit queue broken: ${txq.broken.message}`),
      );
      return;
    }
    this.#pumpTransmit();
  }

  #failTransmit(error: ConsoleDriverError): void {
    const allocator = this.#ctx?.allocator;
    for (const job of this.#txInFlight) {
      if (allocator && job.addr >= 0) allocator.free(job.addr);
      job.addr = -1;
      job.reject(error);
    }
    this.#txInFlight.clear();
    for (const job of this.#txPending.splice(0)) job.reject(error);
  }

  // -------------------------------------------------------------- misc

  #kick(queue: DriverQueue<unknown>, index: number): void {
    if (queue.kickPrepare() && this.#live) this.#ctx!.notify(index);
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
