/**
 * Console backends: the outside world a virtio console port talks to
 * (docs/ARCHITECTURE.md §1). The device model pulls input with
 * {@linkcode ConsoleBackend.read} only while the driver has receive buffers
 * posted, so a slow guest slows the producer down instead of filling memory
 * (backpressure), and pushes output with {@linkcode ConsoleBackend.write}.
 *
 * Three backends: {@linkcode MemoryConsoleBackend} for tests and notebooks,
 * {@linkcode TerminalConsoleBackend} for the process's own terminal, and
 * {@linkcode UnixSocketConsoleBackend}, a listening Unix socket like QEMU's
 * `-chardev socket,path=...,server=on`.
 *
 * @module
 */

/** A console size in character cells (§5.3.4 `cols` and `rows`). */
export interface ConsoleSize {
  /** Columns, 0 to 65535. */
  readonly cols: number;
  /** Rows, 0 to 65535. */
  readonly rows: number;
}

/** Called with the new size when the outside world's console is resized. */
export type ConsoleResizeListener = (size: ConsoleSize) => void;

/** The byte stream behind a console port. */
export interface ConsoleBackend {
  /**
   * Waits for the next chunk of input from the outside world.
   *
   * @returns A non-empty chunk, or `null` once input has ended (end of file,
   *   or the backend was closed). The device never calls it again while a
   *   call is pending.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Sends output to the outside world; resolves once the backend has taken
   * the bytes (written them, or dropped them where its documentation says so).
   *
   * @param bytes The bytes; the backend must not keep a reference after it resolves.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** The current size, or `null` when the backend has none (then VIRTIO_CONSOLE_F_SIZE is not offered). */
  size?(): ConsoleSize | null;
  /**
   * Subscribes to size changes.
   *
   * @returns A function that unsubscribes.
   */
  onResize?(listener: ConsoleResizeListener): () => void;
  /** Releases the backend: pending and later reads return `null`. Calling it twice does nothing. */
  close(): Promise<void>;
}

/** A backend was used after it was closed, or could not be set up. */
export class ConsoleBackendError extends Error {
  /** A short machine-readable reason, such as `"closed"`, `"exists-not-socket"` or `"address-in-use"`. */
  readonly code: string;
  /** The path involved, or `""`. */
  readonly path: string;

  /**
   * Records the reason and the path.
   *
   * @param code A short machine-readable reason.
   * @param message One sentence with the values that matter.
   * @param path The path involved, or `""`.
   */
  constructor(code: string, message: string, path = "") {
    super(message);
    this.name = "ConsoleBackendError";
    this.code = code;
    this.path = path;
  }
}

/** A chunk with a resolver, for readers waiting on input. */
type Waiter = (chunk: Uint8Array | null) => void;

function clampSize(size: ConsoleSize): ConsoleSize {
  const clamp = (n: number) => Math.max(0, Math.min(0xffff, Math.trunc(n)));
  return { cols: clamp(size.cols), rows: clamp(size.rows) };
}

/** Options for {@linkcode MemoryConsoleBackend}. */
export interface MemoryConsoleBackendOptions {
  /** A size to report (VIRTIO_CONSOLE_F_SIZE is then offered); omit for none. */
  readonly size?: ConsoleSize;
}

/**
 * A console backend in memory, for tests and notebooks: {@linkcode input}
 * queues bytes for the guest, {@linkcode output} collects what the guest
 * wrote, {@linkcode resize} simulates a terminal resize.
 *
 * @example
 * ```ts
 * import { MemoryConsoleBackend } from "./backends.ts";
 * const backend = new MemoryConsoleBackend({ size: { cols: 80, rows: 25 } });
 * backend.input("ls\n");
 * await backend.read(); // the bytes of "ls\n"
 * ```
 */
export class MemoryConsoleBackend implements ConsoleBackend {
  readonly #input: Uint8Array[] = [];
  readonly #readers: Waiter[] = [];
  readonly #output: Uint8Array[] = [];
  #outputLength = 0;
  readonly #outputWaiters: { bytes: number; resolve: () => void }[] = [];
  readonly #resizeListeners = new Set<ConsoleResizeListener>();
  #size: ConsoleSize | null;
  #inputEnded = false;
  #closed = false;

  /**
   * Creates a backend with no input queued and no output collected.
   *
   * @param options An optional size to report.
   */
  constructor(options: MemoryConsoleBackendOptions = {}) {
    this.#size = options.size ? clampSize(options.size) : null;
  }

  /**
   * Queues input for the guest.
   *
   * @param data Bytes, or text encoded as UTF-8. Empty input is ignored.
   * @throws {ConsoleBackendError} After {@linkcode endInput} or {@linkcode close}.
   */
  input(data: Uint8Array | string): void {
    if (this.#inputEnded || this.#closed) {
      throw new ConsoleBackendError("closed", "Console input has ended; no more input is accepted");
    }
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data.slice();
    if (bytes.length === 0) return;
    const reader = this.#readers.shift();
    if (reader) reader(bytes);
    else this.#input.push(bytes);
  }

  /** Ends the input: once the queued input is read, {@linkcode read} returns `null`. */
  endInput(): void {
    this.#inputEnded = true;
    if (this.#input.length === 0) this.#wakeReaders();
  }

  /** Bytes of input queued and not yet read by the device. */
  get pendingInput(): number {
    return this.#input.reduce((n, c) => n + c.length, 0);
  }

  /** Whether the device is waiting in {@linkcode read} right now. */
  get readPending(): boolean {
    return this.#readers.length > 0;
  }

  /** Takes the next input chunk, waiting for one; `null` after {@linkcode endInput} or {@linkcode close}. */
  read(): Promise<Uint8Array | null> {
    const chunk = this.#input.shift();
    if (chunk) return Promise.resolve(chunk);
    if (this.#inputEnded || this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#readers.push(resolve));
  }

  /**
   * Collects output.
   *
   * @throws {ConsoleBackendError} After {@linkcode close}.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ConsoleBackendError("closed", "Console backend is closed"));
    }
    if (bytes.length > 0) {
      this.#output.push(bytes.slice());
      this.#outputLength += bytes.length;
      for (let i = this.#outputWaiters.length - 1; i >= 0; i--) {
        if (this.#outputLength >= this.#outputWaiters[i].bytes) {
          this.#outputWaiters[i].resolve();
          this.#outputWaiters.splice(i, 1);
        }
      }
    }
    return Promise.resolve();
  }

  /** Everything written so far, as one array. */
  get output(): Uint8Array {
    const all = new Uint8Array(this.#outputLength);
    let at = 0;
    for (const chunk of this.#output) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  }

  /** Everything written so far, decoded as UTF-8. */
  get outputText(): string {
    return new TextDecoder().decode(this.output);
  }

  /** Forgets the collected output. */
  clearOutput(): void {
    this.#output.length = 0;
    this.#outputLength = 0;
  }

  /**
   * Resolves once at least `bytes` bytes of output have been collected.
   *
   * @param bytes Total output length to wait for, in bytes.
   */
  waitForOutput(bytes: number): Promise<void> {
    if (this.#outputLength >= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#outputWaiters.push({ bytes, resolve }));
  }

  /** The size set at construction or by {@linkcode resize}, or `null`. */
  size(): ConsoleSize | null {
    return this.#size;
  }

  /**
   * Changes the size and tells the listeners (the device raises a
   * configuration change notification, §5.3.6).
   *
   * @param cols Columns (clamped to 0..65535).
   * @param rows Rows (clamped to 0..65535).
   */
  resize(cols: number, rows: number): void {
    this.#size = clampSize({ cols, rows });
    for (const listener of this.#resizeListeners) listener(this.#size);
  }

  /** Subscribes to {@linkcode resize}. */
  onResize(listener: ConsoleResizeListener): () => void {
    this.#resizeListeners.add(listener);
    return () => this.#resizeListeners.delete(listener);
  }

  /** Ends input and refuses further output. */
  close(): Promise<void> {
    this.#closed = true;
    this.#input.length = 0;
    this.#wakeReaders();
    return Promise.resolve();
  }

  #wakeReaders(): void {
    for (const reader of this.#readers.splice(0)) reader(null);
  }
}

/**
 * A loopback port: every byte the guest writes comes back as input, like a
 * serial line with its transmit and receive pins joined. The simplest peer
 * to talk to on a second console port. Output waits while earlier echoed
 * input has not been read, up to `limit` bytes, so a guest that never reads
 * feels backpressure instead of filling the host's memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EchoConsoleBackend } from "./backends.ts";
 * const echo = new EchoConsoleBackend();
 * await echo.write(new TextEncoder().encode("ping"));
 * assert.equal(new TextDecoder().decode((await echo.read())!), "ping");
 * ```
 */
export class EchoConsoleBackend implements ConsoleBackend {
  readonly #memory = new MemoryConsoleBackend();
  readonly #limit: number;
  readonly #drained: (() => void)[] = [];
  #closed = false;

  /**
   * Creates an empty loopback.
   *
   * @param limit Bytes echoed and not yet read before {@linkcode write} waits (default 65536).
   */
  constructor(limit = 65536) {
    this.#limit = limit;
  }

  /** Bytes echoed and not yet read back. */
  get pendingInput(): number {
    return this.#memory.pendingInput;
  }

  /** The next echoed chunk; `null` after {@linkcode close}. */
  async read(): Promise<Uint8Array | null> {
    const chunk = await this.#memory.read();
    if (this.#memory.pendingInput < this.#limit) {
      for (const resolve of this.#drained.splice(0)) resolve();
    }
    return chunk;
  }

  /**
   * Echoes the bytes back as input.
   *
   * @throws {ConsoleBackendError} After {@linkcode close}.
   */
  async write(bytes: Uint8Array): Promise<void> {
    while (!this.#closed && this.#memory.pendingInput >= this.#limit) {
      await new Promise<void>((resolve) => this.#drained.push(resolve));
    }
    if (this.#closed) throw new ConsoleBackendError("closed", "Console backend is closed");
    this.#memory.input(bytes);
  }

  /** Ends input; writes fail from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const resolve of this.#drained.splice(0)) resolve();
    await this.#memory.close();
  }
}

// ------------------------------------------------------------- terminal

/** Options for {@linkcode TerminalConsoleBackend}. */
export interface TerminalConsoleBackendOptions {
  /**
   * Put stdin in raw mode when it is a terminal (default `true`): keys go to
   * the guest as typed, Ctrl-C included, with no local echo or line editing.
   */
  readonly raw?: boolean;
  /** Bytes per read from stdin (default 4096). */
  readonly readSize?: number;
}

/** Signals after which the terminal is restored and the process exits with 128 + number. */
const EXIT_SIGNALS: readonly { readonly signal: Deno.Signal; readonly code: number }[] = [
  { signal: "SIGINT", code: 130 },
  { signal: "SIGTERM", code: 143 },
  { signal: "SIGHUP", code: 129 },
];

/**
 * The process's own terminal: input from stdin, output to stdout.
 *
 * When stdin is a terminal and `raw` is on, stdin is put in raw mode
 * (`Deno.stdin.setRaw(true)`) so the guest sees every key. The previous mode
 * is always restored: by {@linkcode close}, on the `unload` event (normal
 * exit and `Deno.exit`), and on SIGINT, SIGTERM and SIGHUP, after which the
 * process exits with status 128 + the signal number (130, 143, 129) because
 * listening for a signal replaces its default action. In raw mode Ctrl-C is
 * a byte for the guest, not a signal.
 *
 * When stdout is a terminal, {@linkcode size} reports `Deno.consoleSize()`
 * and SIGWINCH resizes are passed on.
 */
export class TerminalConsoleBackend implements ConsoleBackend {
  /** Whether raw mode was switched on (and must be restored). */
  readonly raw: boolean;
  readonly #readSize: number;
  readonly #stdoutIsTerminal: boolean;
  readonly #resizeListeners = new Set<ConsoleResizeListener>();
  readonly #signalHandlers: { signal: Deno.Signal; handler: () => void }[] = [];
  #winch: (() => void) | null = null;
  #unload: (() => void) | null = null;
  #restored = false;
  #closed = false;

  /**
   * Sets up raw mode and signal handling as described above.
   *
   * @param options Raw mode and read size.
   */
  constructor(options: TerminalConsoleBackendOptions = {}) {
    this.#readSize = options.readSize ?? 4096;
    const wantRaw = options.raw ?? true;
    this.raw = wantRaw && Deno.stdin.isTerminal();
    this.#stdoutIsTerminal = Deno.stdout.isTerminal();
    if (this.raw) {
      Deno.stdin.setRaw(true);
      this.#unload = () => this.#restore();
      globalThis.addEventListener("unload", this.#unload);
      for (const { signal, code } of EXIT_SIGNALS) {
        const handler = () => {
          this.#restore();
          Deno.exit(code);
        };
        try {
          Deno.addSignalListener(signal, handler);
          this.#signalHandlers.push({ signal, handler });
        } catch {
          // Not every platform supports every signal (Windows has no SIGTERM listener).
        }
      }
    }
    if (this.#stdoutIsTerminal) {
      this.#winch = () => {
        const size = this.size();
        if (size) { for (const listener of this.#resizeListeners) listener(size); }
      };
      try {
        Deno.addSignalListener("SIGWINCH", this.#winch);
      } catch {
        this.#winch = null;
      }
    }
  }

  /** Reads what the user typed; `null` at end of input or after {@linkcode close}. */
  async read(): Promise<Uint8Array | null> {
    while (!this.#closed) {
      const buffer = new Uint8Array(this.#readSize);
      const n = await Deno.stdin.read(buffer);
      if (n === null) return null;
      if (this.#closed) return null;
      if (n > 0) return buffer.subarray(0, n);
    }
    return null;
  }

  /** Writes to stdout, all of it. */
  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
  }

  /** The terminal size when stdout is a terminal, else `null`. */
  size(): ConsoleSize | null {
    if (!this.#stdoutIsTerminal) return null;
    try {
      const { columns, rows } = Deno.consoleSize();
      return clampSize({ cols: columns, rows });
    } catch {
      return null;
    }
  }

  /** Subscribes to SIGWINCH resizes. */
  onResize(listener: ConsoleResizeListener): () => void {
    this.#resizeListeners.add(listener);
    return () => this.#resizeListeners.delete(listener);
  }

  /** Restores the terminal mode and removes the signal and unload listeners. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#restore();
    for (const { signal, handler } of this.#signalHandlers.splice(0)) {
      Deno.removeSignalListener(signal, handler);
    }
    if (this.#winch) {
      Deno.removeSignalListener("SIGWINCH", this.#winch);
      this.#winch = null;
    }
    if (this.#unload) {
      globalThis.removeEventListener("unload", this.#unload);
      this.#unload = null;
    }
    this.#resizeListeners.clear();
    return Promise.resolve();
  }

  #restore(): void {
    if (!this.raw || this.#restored) return;
    this.#restored = true;
    try {
      Deno.stdin.setRaw(false);
    } catch {
      // stdin may already be closed at exit; nothing left to restore.
    }
  }
}

// ----------------------------------------------------------- unix socket

/**
 * A console on a listening Unix socket, like QEMU's
 * `-chardev socket,path=...,server=on,wait=off`: connect with
 * `socat - UNIX-CONNECT:path` or `Deno.connect({ transport: "unix", path })`.
 *
 * One client at a time: a second client waits in the listen backlog until
 * the first disconnects, then replaces it. Output written while no client is
 * connected is dropped (counted in {@linkcode droppedBytes}), as a serial
 * line with nobody listening drops it. Input waits for a client. The socket
 * file is created by {@linkcode UnixSocketConsoleBackend.listen} and removed
 * by {@linkcode close}.
 *
 * Permissions: read and write for the path, and (Deno 2) net for
 * `unix:<path>`, e.g. `--allow-read --allow-write --allow-net`.
 */
export class UnixSocketConsoleBackend implements ConsoleBackend {
  /** The socket path. */
  readonly path: string;
  readonly #listener: Deno.UnixListener;
  #client: Deno.UnixConn | null = null;
  #clientGone: (() => void) | null = null;
  #clientWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #connections = 0;
  #dropped = 0;
  #closed = false;
  readonly #acceptLoop: Promise<void>;
  readonly #readSize: number;

  private constructor(path: string, listener: Deno.UnixListener, readSize: number) {
    this.path = path;
    this.#listener = listener;
    this.#readSize = readSize;
    this.#acceptLoop = this.#accept();
  }

  /**
   * Listens on `path`. A stale socket file left by a process that died is
   * replaced; anything else at the path is left alone.
   *
   * @param path Where to create the socket.
   * @param options `readSize`: bytes per read from the client (default 4096).
   * @returns The listening backend.
   * @throws {ConsoleBackendError} `"exists-not-socket"` if a file that is not
   *   a socket is at `path` (it is never overwritten); `"address-in-use"` if
   *   another process is listening on it.
   */
  static async listen(
    path: string,
    options: { readonly readSize?: number } = {},
  ): Promise<UnixSocketConsoleBackend> {
    let existing: Deno.FileInfo | null = null;
    try {
      existing = await Deno.lstat(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (existing) {
      if (!existing.isSocket) {
        throw new ConsoleBackendError(
          "exists-not-socket",
          `Cannot listen on ${path}: a file that is not a socket is there, and it is left untouched`,
          path,
        );
      }
      let live = false;
      try {
        const probe = await Deno.connect({ transport: "unix", path });
        probe.close();
        live = true;
      } catch {
        // Connection refused: a stale socket nobody listens on.
      }
      if (live) {
        throw new ConsoleBackendError(
          "address-in-use",
          `Cannot listen on ${path}: another process is listening there`,
          path,
        );
      }
      await Deno.remove(path);
    }
    const listener = Deno.listen({ transport: "unix", path });
    return new UnixSocketConsoleBackend(path, listener, options.readSize ?? 4096);
  }

  /** Whether a client is connected now. */
  get connected(): boolean {
    return this.#client !== null;
  }

  /** Clients accepted so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Output bytes dropped because no client was connected. */
  get droppedBytes(): number {
    return this.#dropped;
  }

  /** Resolves when a client is connected (at once if one is); rejects once closed. */
  waitForClient(): Promise<void> {
    if (this.#client) return Promise.resolve();
    if (this.#closed) {
      return Promise.reject(
        new ConsoleBackendError("closed", "Console socket is closed", this.path),
      );
    }
    return new Promise((resolve, reject) => this.#clientWaiters.push({ resolve, reject }));
  }

  /** Reads from the connected client, waiting for one; `null` only after {@linkcode close}. */
  async read(): Promise<Uint8Array | null> {
    while (!this.#closed) {
      const client = this.#client;
      if (!client) {
        try {
          await this.waitForClient();
        } catch {
          return null;
        }
        continue;
      }
      const buffer = new Uint8Array(this.#readSize);
      let n: number | null;
      try {
        n = await client.read(buffer);
      } catch {
        n = null;
      }
      if (n === null) {
        this.#dropClient(client);
        continue;
      }
      if (n > 0) return buffer.subarray(0, n);
    }
    return null;
  }

  /** Writes to the connected client; without one the bytes are dropped. */
  async write(bytes: Uint8Array): Promise<void> {
    const client = this.#client;
    if (!client || this.#closed) {
      this.#dropped += bytes.length;
      return;
    }
    let done = 0;
    try {
      while (done < bytes.length) done += await client.write(bytes.subarray(done));
    } catch {
      this.#dropped += bytes.length - done;
      this.#dropClient(client);
    }
  }

  /** Closes the client and the listener and removes the socket file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    if (client) this.#dropClient(client);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#acceptLoop;
    for (const waiter of this.#clientWaiters.splice(0)) {
      waiter.reject(new ConsoleBackendError("closed", "Console socket is closed", this.path));
    }
    try {
      const info = await Deno.lstat(this.path);
      if (info.isSocket) await Deno.remove(this.path);
    } catch {
      // Deno removes the socket file itself when the listener closes.
    }
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      this.#client = conn;
      this.#connections++;
      const gone = new Promise<void>((resolve) => (this.#clientGone = resolve));
      for (const waiter of this.#clientWaiters.splice(0)) waiter.resolve();
      await gone;
    }
  }

  #dropClient(client: Deno.UnixConn): void {
    if (this.#client !== client) return;
    this.#client = null;
    try {
      client.close();
    } catch {
      // Already closed by a failed read or write.
    }
    const gone = this.#clientGone;
    this.#clientGone = null;
    gone?.();
  }
}
