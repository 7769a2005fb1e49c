/**
 * `lab boot [--disk FILE] [--console-socket PATH] [--port NAME[=socket:PATH]]...`:
 * boots the lab machine and runs the guest shell on its virtio console,
 * attached to this terminal (raw mode) or to a Unix socket the device listens
 * on (like QEMU's `-chardev socket,server=on`). Each `--port` adds a named
 * console port (VIRTIO_CONSOLE_F_MULTIPORT, like QEMU's
 * `-device virtserialport,name=NAME`): a loopback that echoes what the guest
 * sends, or a Unix socket. With `--linux`, a real Linux kernel is the
 * guest instead (`cli/boot_linux.ts`).
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { createMachine } from "../machine.ts";
import {
  type ConsoleBackend,
  ConsoleBackendError,
  EchoConsoleBackend,
  TerminalConsoleBackend,
  UnixSocketConsoleBackend,
} from "../devices/console/backends.ts";
import { type ConsolePortOptions, MAX_CONSOLE_PORTS } from "../devices/console/device.ts";
import type { BlockBackend } from "../devices/blk/backends.ts";
import { runShell } from "../guest/shell.ts";
import { formatSize } from "../guest/shell.ts";
import { EXIT_FAILURE, UserError } from "./errors.ts";
import type { MachineParts } from "../machine.ts";
import { describeLearnerParts, learnerParts } from "./learner_parts.ts";
import { openImage } from "./disk_image.ts";

/** Registers `boot`. */
export function register(program: Command): void {
  program
    .command("boot")
    .description("boot the lab machine and talk to its guest shell over the virtio console")
    .option(
      "--disk <file>",
      "raw disk image to serve through virtio-blk (default: a built-in 4 MiB disk)",
    )
    .option("--read-only", "serve the disk image read-only (VIRTIO_BLK_F_RO)")
    .option(
      "--console-socket <path>",
      "attach the console to a Unix socket instead of this terminal",
    )
    .option(
      "--port <NAME[=socket:PATH]>",
      "add a named console port (VIRTIO_CONSOLE_F_MULTIPORT): a loopback echoing what the " +
        "guest sends, or =socket:PATH for a Unix socket; repeat for more ports",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      "--mine",
      "run your code: the transport parts of every lesson you passed replace the reference ones",
    )
    .option("--legacy", LEGACY_HELP)
    .option("--packed", "run every queue as a packed virtqueue (VIRTIO_F_RING_PACKED, §2.8)")
    .option(
      "--linux",
      "boot a real Linux kernel (Debian i386, in the v86 emulator) on the lab's virtio devices",
    )
    .option("--verbose", "with --linux: show the kernel's messages (its serial console) on stderr")
    .option("--cold", "with --linux: boot from the BIOS instead of resuming the saved guest state")
    .action(async (opts) => {
      if (opts.linux) {
        // Loaded only here: the emulator is a large module the lab machine never needs.
        const { bootLinux } = await import("./boot_linux.ts");
        await bootLinux({
          disk: opts.disk,
          readOnly: opts.readOnly ?? false,
          consoleSocket: opts.consoleSocket,
          mine: opts.mine ?? false,
          verbose: opts.verbose ?? false,
          cold: opts.cold ?? false,
        });
        return;
      }
      if (opts.verbose || opts.cold) throw new UserError("--verbose and --cold go with --linux");
      await boot({
        disk: opts.disk,
        readOnly: opts.readOnly ?? false,
        consoleSocket: opts.consoleSocket,
        ports: opts.port.map(parsePortSpec),
        mine: opts.mine ?? false,
        legacy: opts.legacy ?? false,
        packed: opts.packed ?? false,
      });
    });
}

/** Options for {@linkcode boot}. */
export interface BootOptions {
  /** Disk image path, or `undefined` for the built-in disk. */
  readonly disk?: string;
  /** Open the image read-only. */
  readonly readOnly?: boolean;
  /** Unix socket path for the console, or `undefined` for the terminal. */
  readonly consoleSocket?: string;
  /** More console ports, numbered 1, 2, ... in this order (default none). */
  readonly ports?: readonly PortSpec[];
  /** Use the learner's parts from every passed lesson. */
  readonly mine?: boolean;
  /** Run on the legacy virtio-mmio interface (Version 1 windows, §4.2.4). */
  readonly legacy?: boolean;
  /** Offer and accept `VIRTIO_F_RING_PACKED`: packed virtqueues (§2.8). */
  readonly packed?: boolean;
}

/** One `--port` option: a port's name and what is behind it. */
export interface PortSpec {
  /** The name the device sends in PORT_NAME. */
  readonly name: string;
  /** A Unix socket path the port listens on, or `null` for a loopback (echo). */
  readonly socket: string | null;
}

/**
 * Parses a `--port` value: `NAME` or `NAME=echo` (a loopback) or
 * `NAME=socket:PATH`.
 *
 * @param spec The option's value.
 * @throws {UserError} If the name is empty, has spaces or control
 *   characters, or the backend is neither `echo` nor `socket:PATH`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePortSpec } from "./boot.ts";
 * assert.deepEqual(parsePortSpec("org.lab.log=socket:/tmp/log.sock"), { name: "org.lab.log", socket: "/tmp/log.sock" });
 * assert.deepEqual(parsePortSpec("org.lab.echo"), { name: "org.lab.echo", socket: null });
 * ```
 */
export function parsePortSpec(spec: string): PortSpec {
  const at = spec.indexOf("=");
  const name = at < 0 ? spec : spec.slice(0, at);
  const backend = at < 0 ? "echo" : spec.slice(at + 1);
  // deno-lint-ignore no-control-regex
  if (name === "" || /[\s\x00-\x1f\x7f]/.test(name)) {
    throw new UserError(
      `--port ${
        JSON.stringify(spec)
      }: the port name must be non-empty, without spaces or control characters`,
    );
  }
  if (new TextEncoder().encode(name).length > 255) {
    throw new UserError(`--port ${JSON.stringify(spec)}: the port name is longer than 255 bytes`);
  }
  if (backend === "echo") return { name, socket: null };
  if (backend.startsWith("socket:") && backend.length > "socket:".length) {
    return { name, socket: backend.slice("socket:".length) };
  }
  throw new UserError(
    `--port ${JSON.stringify(spec)}: after '=' comes 'echo' or 'socket:PATH', not ${
      JSON.stringify(backend)
    }`,
  );
}

/** Help for `--legacy`, shared by `lab boot` and `lab disk`. */
export const LEGACY_HELP =
  "legacy virtio-mmio: Version 1 windows (GuestPageSize, QueuePFN, 32 feature bits, no FEATURES_OK)";

/**
 * Boots the machine, runs the guest shell until `exit` (or end of input), and
 * powers off.
 *
 * @param options Disk and console choices.
 * @throws {UserError} For a bad image path or socket path.
 */
export async function boot(options: BootOptions): Promise<void> {
  let parts: MachineParts | undefined;
  let featureMask: bigint | undefined;
  let partsNote = "";
  if (options.mine) {
    const mine = await learnerParts();
    if (mine.used.length === 0) {
      throw new UserError(
        "no lesson passes yet, so there is none of your code to run: deno task lab check 1",
      );
    }
    parts = mine.parts;
    featureMask = mine.featureMask;
    partsNote = describeLearnerParts(mine).join("\n");
  }
  let disk: BlockBackend | undefined;
  let diskLabel = "built-in, 4 MiB in memory";
  if (options.disk !== undefined) {
    const image = await openImage(options.disk, { readOnly: options.readOnly ?? false });
    disk = image;
    diskLabel = `${options.disk}, ${formatSize(image.size)}${image.readOnly ? ", read-only" : ""}`;
  }
  let backend: ConsoleBackend;
  let consolePorts: ConsolePortOptions[];
  try {
    consolePorts = await portBackends(options.ports ?? []);
  } catch (error) {
    await disk?.close();
    throw error;
  }
  try {
    backend = await consoleBackend(options.consoleSocket);
  } catch (error) {
    await disk?.close();
    for (const port of consolePorts) await port.backend.close();
    throw error;
  }
  const input = watchInput(backend);
  const machine = await createMachine({
    disk,
    console: input.backend,
    consolePorts,
    parts,
    featureMask,
    legacy: options.legacy ?? false,
    packed: options.packed,
  });
  const driver = machine.console.driver;
  if (!driver) {
    await machine.close();
    const broken = machine.log.entries[0];
    throw new UserError(
      `the virtio console did not come up: ${machine.console.error || "no driver bound"}` +
        (broken ? `; first rule broken: §${broken.id} ${broken.message}` : ""),
      EXIT_FAILURE,
    );
  }
  let consumed = 0;
  const shell = runShell(machine, {
    input: driver.readable,
    write: (text) => driver.write(text),
  }, { diskLabel, partsNote, onConsumed: (bytes) => (consumed = bytes) });
  // Without a socket, the end of stdin (a pipe running dry) powers off once
  // the shell has handled every byte (a virtio console cannot signal end of
  // file); an `exit` among them ends the shell first.
  const ended = input.ended.then(async () => {
    while (consumed < input.bytes) await delay(10);
    return "eof" as const;
  });
  const how = await Promise.race([shell, ended]);
  await driver.write(`\r\n${how === "exit" ? "Powering off." : "Input ended: powering off."}\r\n`)
    .catch(() => {});
  await machine.close();
}

/**
 * The backends of the `--port` ports: loopbacks, or Unix sockets listening
 * without waiting for a client (output with nobody connected is dropped,
 * input waits for one).
 */
async function portBackends(specs: readonly PortSpec[]): Promise<ConsolePortOptions[]> {
  if (specs.length + 1 > MAX_CONSOLE_PORTS) {
    throw new UserError(`at most ${MAX_CONSOLE_PORTS - 1} --port options, not ${specs.length}`);
  }
  const seen = new Set<string>();
  const ports: ConsolePortOptions[] = [];
  try {
    for (const spec of specs) {
      if (seen.has(spec.name)) throw new UserError(`--port ${spec.name} is given twice`);
      seen.add(spec.name);
      if (spec.socket === null) {
        ports.push({ name: spec.name, backend: new EchoConsoleBackend() });
        continue;
      }
      ports.push({
        name: spec.name,
        backend: await listenSocket(spec.socket, `port ${spec.name}`),
      });
      console.error(
        `lab: port ${spec.name} (port ${ports.length}) on ${spec.socket}, e.g.: ` +
          `socat - UNIX-CONNECT:${spec.socket}`,
      );
    }
  } catch (error) {
    for (const port of ports) await port.backend.close();
    throw error;
  }
  return ports;
}

/**
 * The console backend `boot` attaches: this terminal, or a Unix socket it
 * listens on and waits for a client.
 *
 * @param socketPath The socket, or `undefined` for the terminal.
 * @throws {UserError} If the socket cannot be created.
 */
export async function consoleBackend(socketPath: string | undefined): Promise<ConsoleBackend> {
  if (socketPath === undefined) return new TerminalConsoleBackend();
  const socket = await listenSocket(socketPath, "console");
  console.error(`lab: console on ${socketPath}; waiting for a client, e.g.:`);
  console.error(`  socat -,rawer UNIX-CONNECT:${socketPath}`);
  await socket.waitForClient();
  console.error("lab: client connected, booting");
  return socket;
}

/** Listens on a Unix socket, with the reasons it cannot as one-line user errors. */
async function listenSocket(socketPath: string, what: string): Promise<UnixSocketConsoleBackend> {
  try {
    return await UnixSocketConsoleBackend.listen(socketPath);
  } catch (error) {
    if (error instanceof ConsoleBackendError) throw new UserError(error.message);
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `cannot create ${what} socket ${socketPath}: its directory does not exist`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`cannot create ${what} socket ${socketPath}: permission denied`);
    }
    throw error;
  }
}

/** Wraps a backend to learn when its input ends and how many bytes it gave. */
function watchInput(inner: ConsoleBackend): {
  backend: ConsoleBackend;
  ended: Promise<void>;
  readonly bytes: number;
} {
  let bytes = 0;
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  const backend: ConsoleBackend = {
    read: async () => {
      const chunk = await inner.read();
      if (chunk === null) resolveEnded();
      else bytes += chunk.length;
      return chunk;
    },
    write: (b) => inner.write(b),
    size: inner.size ? () => inner.size!() : undefined,
    onResize: inner.onResize ? (listener) => inner.onResize!(listener) : undefined,
    close: () => inner.close(),
  };
  return {
    backend,
    ended,
    get bytes() {
      return bytes;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
