/**
 * The small guest program `lab boot` runs: a line-oriented shell on the
 * virtio console. Everything it reads arrives through the console's receiveq
 * and everything it prints leaves through its transmitq; its disk commands go
 * through the virtio-blk driver. It is guest code: it only uses what a guest
 * kernel's drivers expose, plus the machine's counters for `stats`.
 *
 * @module
 */

import Table from "cli-table3";
import { wrapProse } from "../format/wrap.ts";
import { hexDump } from "../memory/guest_memory.ts";
import { formatViolation } from "../conformance/log.ts";
import {
  formatStatus,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
} from "../virtio/status.ts";
import type { LabMachine } from "../machine.ts";
import type { VirtioConsolePort } from "../devices/console/driver.ts";
import { LineDiscipline, type LineEvent, toTerminal } from "./line_discipline.ts";

/** The console as the shell uses it. */
export interface ShellConsole {
  /** Bytes typed by the person at the other end. */
  readonly input: ReadableStream<Uint8Array>;
  /** Sends text to the person (already in terminal form: CR LF line ends). */
  write(text: string): Promise<void>;
}

/** Options for {@linkcode runShell}. */
export interface ShellOptions {
  /** Describes the disk in the banner, e.g. `"disk.img (64 MiB)"`. */
  readonly diskLabel?: string;
  /** The prompt (default `"guest$ "`). */
  readonly prompt?: string;
  /** Says whose code runs the transport, e.g. `"your code: probeWindow (lesson 1)"`. */
  readonly partsNote?: string;
  /**
   * Called each time the shell has handled a chunk of input to the end (every
   * command in it run and answered), with the bytes handled so far: a caller
   * that knows how much input there is can tell when the shell has done it all.
   */
  readonly onConsumed?: (bytes: number) => void;
}

/** How the shell ended. */
export type ShellExit = "exit" | "eof";

/** Most sectors `disk read` dumps at once. */
export const MAX_DUMP_SECTORS = 64;

/** Bytes a console port's inbox keeps for `port recv`; past them the shell stops reading the port. */
export const PORT_INBOX_BYTES = 65536;

/** How long `port recv` waits for bytes when none have arrived, in milliseconds (default). */
export const PORT_RECV_WAIT_MS = 500;

interface Command {
  readonly usage: string;
  readonly help: string;
  run(args: string[]): Promise<string | ShellExit>;
}

/**
 * Runs the shell until `exit`, Ctrl-D or the end of input.
 *
 * @param machine The booted machine (its block driver serves the disk commands).
 * @param console Where the shell reads and writes.
 * @param options Banner details and prompt.
 * @returns How it ended.
 */
export async function runShell(
  machine: LabMachine,
  console: ShellConsole,
  options: ShellOptions = {},
): Promise<ShellExit> {
  const prompt = options.prompt ?? "guest$ ";
  const out = (text: string) => console.write(toTerminal(text));
  const ports = new PortInboxes(machine);
  const commands = shellCommands(machine, ports);
  await out(banner(machine, options.diskLabel, options.partsNote, consoleWidth(machine)));
  await out(prompt);
  // Up and Down recall earlier lines; Tab completes command names ("di" → "disk ").
  const tty = new LineDiscipline({
    prompt,
    complete: (line) => [...commands.keys()].filter((name) => name.startsWith(line)),
  });
  const reader = console.input.getReader();
  let consumed = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return "eof";
      const { events, echo } = tty.feed(value);
      if (echo) await console.write(echo);
      for (const event of events) {
        const ended = await handle(event, commands, out);
        if (ended) return ended;
        await out(prompt);
      }
      consumed += value.length;
      options.onConsumed?.(consumed);
    }
  } finally {
    reader.releaseLock();
    ports.close();
  }
}

async function handle(
  event: LineEvent,
  commands: Map<string, Command>,
  out: (text: string) => Promise<void>,
): Promise<ShellExit | null> {
  if (event.kind === "eof") {
    await out("exit\n");
    return "eof";
  }
  if (event.kind === "interrupt") return null;
  const words = event.text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return null;
  const [first, ...rest] = words;
  // Two-word commands ("disk info") first, then one-word ones.
  const two = rest.length > 0 ? commands.get(`${first} ${rest[0]}`) : undefined;
  const command = two ?? commands.get(first);
  const args = two ? rest.slice(1) : rest;
  if (!command) {
    await out(`${words.join(" ")}: unknown command (try 'help')\n`);
    return null;
  }
  try {
    const result = await command.run(args);
    if (result === "exit" || result === "eof") return result;
    if (result) await out(result.endsWith("\n") ? result : `${result}\n`);
  } catch (error) {
    await out(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  return null;
}

function banner(
  machine: LabMachine,
  diskLabel: string | undefined,
  partsNote: string | undefined,
  width: number,
): string {
  const devices = machine.devices();
  const legacy = devices.some((d) => d.version === 1);
  const lines = [
    "",
    `virtio-lab guest: booted on a ${legacy ? "legacy (Version 1) " : ""}virtio-mmio machine`,
    "",
  ];
  // One line per window: the node, its interrupt, the driver's state, and what is there
  // (last, so a long disk label wraps instead of running past the edge).
  const rows = devices.map((d) => {
    const what = d.deviceId === 2 && diskLabel
      ? `${d.type} (${diskLabel})`
      : d.deviceId === 3
      ? `${d.type} (this console)`
      : d.type;
    return [d.node, `irq ${d.irq}`, d.state, what];
  });
  const table = columns([], rows, width - 2).split("\n").map((line) => `  ${line}`);
  lines.push(...table);
  const consolePorts = machine.console.driver?.multiport ? machine.console.driver.ports : [];
  if (consolePorts.length > 1) {
    lines.push(
      "",
      ...wrapProse(
        `  console ports: ${
          consolePorts.map((p) => `${p.id} ${p.id === 0 ? "this console" : p.name ?? "(unnamed)"}`)
            .join(", ")
        } ('ports', 'port send', 'port recv')`,
        4,
        width,
      ).split("\n"),
    );
  }
  if (partsNote) lines.push("", ...partsNote.split("\n"));
  lines.push("", "Type 'help' for commands, 'exit' to power off.", "");
  return lines.join("\n");
}

/** cli-table3 characters for a table without rules: columns two spaces apart. */
const NO_BORDERS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/**
 * A table with a header line and columns two spaces apart (like `ps` or
 * `lsblk`), fitted to `width` columns: every column is as wide as its widest
 * cell, except the last, which takes what is left and wraps at spaces (never
 * narrower than its longest word).
 *
 * @param head Column titles (none: no header line).
 * @param rows Cells, one array per row.
 * @param width The console's width in columns.
 * @param align `"right"` for the columns holding numbers (by index).
 * @returns Lines joined with `\n`, no trailing spaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { columns } from "./shell.ts";
 * assert.equal(
 *   columns(["queue", "size"], [["0 requestq", "256"]], 80),
 *   "queue       size\n0 requestq  256",
 * );
 * ```
 */
export function columns(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  width: number,
  align: Readonly<Record<number, "left" | "right">> = {},
): string {
  const all = head.length > 0 ? [head, ...rows] : rows;
  const count = Math.max(head.length, ...rows.map((r) => r.length));
  const natural = Array.from(
    { length: count },
    (_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)),
  );
  const longestWord = Math.max(
    ...all.flatMap((r) => (r[count - 1] ?? "").split(" ").map((w) => w.length)),
  );
  const fixed = natural.slice(0, -1).reduce((a, w) => a + w + 2, 0);
  const last = Math.max(longestWord, Math.min(natural.at(-1)!, width - fixed));
  const table = new Table({
    head: [...head],
    chars: NO_BORDERS,
    colWidths: [...natural.slice(0, -1), last],
    colAligns: natural.map((_, i) => align[i] ?? "left"),
    wordWrap: true,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
  });
  table.push(...rows.map((r) => [...r]));
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}

/** The steps of the initialization sequence (§3.1.1) in the order a driver sets them. */
const INIT_STEPS: readonly [number, string][] = [
  [VIRTIO_CONFIG_S_ACKNOWLEDGE, "ACKNOWLEDGE"],
  [VIRTIO_CONFIG_S_DRIVER, "DRIVER"],
  [VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK"],
  [VIRTIO_CONFIG_S_DRIVER_OK, "DRIVER_OK"],
];

/**
 * A status byte in a few words: its value and the last step of the
 * initialization sequence (§3.1.1) it reached, as `"0x0f DRIVER_OK"`, plus
 * `DEVICE_NEEDS_RESET` or `FAILED` when set. A byte whose steps were not set
 * in order (FEATURES_OK without DRIVER, say) names every bit instead, so a
 * wrong bring-up stands out.
 *
 * @param status The 8-bit device status.
 * @returns The words, separated by spaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shortStatus } from "./shell.ts";
 * assert.equal(shortStatus(0x0f), "0x0f DRIVER_OK");
 * assert.equal(shortStatus(0x4f), "0x4f DRIVER_OK DEVICE_NEEDS_RESET");
 * assert.equal(shortStatus(0x09), "0x09 ACKNOWLEDGE FEATURES_OK");
 * assert.equal(shortStatus(0), "0x00 (reset)");
 * ```
 */
export function shortStatus(status: number): string {
  const hex = `0x${status.toString(16).padStart(2, "0")}`;
  if (status === 0) return `${hex} (reset)`;
  const steps = status & ~(VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED);
  let reached = "";
  let mask = 0;
  for (const [bit, name] of INIT_STEPS) {
    if ((steps & bit) === 0) break;
    mask |= bit;
    reached = name;
  }
  if (mask !== steps) return `${hex} ${formatStatus(status).split("|").join(" ")}`;
  const words = reached ? [hex, reached] : [hex];
  if (status & VIRTIO_CONFIG_S_NEEDS_RESET) words.push("DEVICE_NEEDS_RESET");
  if (status & VIRTIO_CONFIG_S_FAILED) words.push("FAILED");
  return words.join(" ");
}

/** The console's width in columns: its config space's (VIRTIO_CONSOLE_F_SIZE), else 80. */
function consoleWidth(machine: LabMachine): number {
  return Math.max(40, machine.console.driver?.size?.cols ?? 80);
}

/** The shell's commands, by name. */
function shellCommands(machine: LabMachine, ports: PortInboxes): Map<string, Command> {
  const blk = () => {
    const driver = machine.blk.driver;
    if (!driver) {
      throw new Error(`no virtio-blk driver is bound (${machine.blk.error || "probe failed"})`);
    }
    return driver;
  };
  const list: [string, Command][] = [
    ["help", {
      usage: "help",
      help: "list the commands",
      run: () =>
        Promise.resolve(
          [...commandsHelp()].map(([usage, help]) =>
            wrapProse(`  ${usage.padEnd(26)} ${help}`, 29, consoleWidth(machine))
          ).join("\n"),
        ),
    }],
    ["devices", {
      usage: "devices",
      help: "virtio-mmio windows, device ids, negotiated features, queues",
      run: () => {
        const width = consoleWidth(machine);
        const rows: string[][] = [];
        const features: string[] = [];
        for (const d of machine.devices()) {
          const status = /^0x[0-9a-f]+/i.exec(d.status)?.[0];
          rows.push([
            `0x${d.base.toString(16)}`,
            String(d.irq),
            d.version === 1 ? "1 (legacy)" : d.version ? String(d.version) : "-",
            d.deviceId ? `${d.deviceId} ${d.type}` : "0 (empty slot)",
            d.driver || "-",
            status ? shortStatus(Number(status)) : d.state,
            d.queues.map((q) => `${q.index}:${q.size}`).join(" ") || "-",
          ]);
          if (d.features.length) {
            features.push(wrapProse(`  ${d.node}: ${d.features.join(" ")}`, 4, width));
          }
        }
        const head = ["window", "irq", "ver", "device", "driver", "status", "queues"];
        let table = columns(head, rows, width);
        // On a console too narrow for every column, the driver's name goes first: the status
        // still says how far its bring-up got.
        if (table.split("\n").some((line) => line.length > width)) {
          const driver = head.indexOf("driver");
          const without = (r: readonly string[]) => r.filter((_, i) => i !== driver);
          table = columns(without(head), rows.map(without), width);
        }
        return Promise.resolve(
          `${table}\n(queues: index:size in descriptors)\nnegotiated features:\n${
            features.join("\n")
          }`,
        );
      },
    }],
    ["disk info", {
      usage: "disk info",
      help: "capacity, block size, limits, read-only, device id",
      run: async () => {
        const d = blk();
        const id = await d.getId().catch((e) => `(${e instanceof Error ? e.message : e})`);
        const bytes = d.capacity * 512n;
        return [
          `capacity:   ${d.capacity} sectors of 512 bytes (${bytes} bytes, ${formatSize(bytes)})`,
          `block size: ${d.blockSize} bytes`,
          `read-only:  ${d.readOnly ? "yes (VIRTIO_BLK_F_RO)" : "no"}`,
          `flush:      ${d.canFlush ? "yes (VIRTIO_BLK_F_FLUSH)" : "no"}`,
          `seg_max:    ${d.segMax} segments per request`,
          `size_max:   ${d.sizeMax} bytes per segment`,
          `discard:    ${discardLimits(d.discardConfig.discard, "VIRTIO_BLK_F_DISCARD")}`,
          `zeroes:     ${discardLimits(d.discardConfig.writeZeroes, "VIRTIO_BLK_F_WRITE_ZEROES")}`,
          `id:         ${id}`,
        ].join("\n");
      },
    }],
    ["disk read", {
      usage: "disk read SECTOR [COUNT]",
      help: `hex dump of COUNT sectors (default 1, at most ${MAX_DUMP_SECTORS})`,
      run: async (args) => {
        const d = blk();
        if (args.length < 1 || args.length > 2) throw new Error("usage: disk read SECTOR [COUNT]");
        const sector = parseSector(args[0]);
        const count = args[1] === undefined ? 1 : parseCount(args[1]);
        if (sector + BigInt(count) > d.capacity) {
          throw new Error(
            `sectors ${sector}..${
              sector + BigInt(count) - 1n
            } are past the end (capacity ${d.capacity})`,
          );
        }
        const data = await d.read(sector, count);
        return hexDump(data, Number(sector) * 512);
      },
    }],
    ["disk discard", {
      usage: "disk discard SECTOR N",
      help: "discard N sectors (VIRTIO_BLK_T_DISCARD); they read back as zeroes here",
      run: async (args) => {
        const d = blk();
        if (args.length !== 2) throw new Error("usage: disk discard SECTOR N");
        const [sector, count] = rangeArgs(d.capacity, args[0], args[1]);
        const sent = d.stats.requests;
        await d.discard({ sector, count });
        return `discarded ${count} sector(s) at sector ${sector} in ${d.stats.requests - sent} ` +
          "request(s)";
      },
    }],
    ["disk zero", {
      usage: "disk zero SECTOR N [unmap]",
      help: "zero N sectors (VIRTIO_BLK_T_WRITE_ZEROES); unmap lets the device deallocate them",
      run: async (args) => {
        const d = blk();
        if (args.length < 2 || args.length > 3 || (args.length === 3 && args[2] !== "unmap")) {
          throw new Error("usage: disk zero SECTOR N [unmap]");
        }
        const [sector, count] = rangeArgs(d.capacity, args[0], args[1]);
        const sent = d.stats.requests;
        await d.writeZeroes({ sector, count }, { unmap: args[2] === "unmap" });
        return `zeroed ${count} sector(s) at sector ${sector} in ${d.stats.requests - sent} ` +
          "request(s)";
      },
    }],
    ["console", {
      usage: "console",
      help: "this console: size (VIRTIO_CONSOLE_F_SIZE, updated on resize), bytes in and out",
      run: () => {
        const driver = machine.console.driver;
        if (!driver) return Promise.resolve("no virtio-console driver is bound");
        const size = driver.size;
        const { bytesReceived, bytesSent } = driver.stats;
        return Promise.resolve([
          `size:      ${
            size
              ? `${size.cols} columns x ${size.rows} rows (config space; a resize raises a config change interrupt)`
              : "unknown (VIRTIO_CONSOLE_F_SIZE not negotiated: not a terminal)"
          }`,
          `emergency: ${
            driver.canEmergencyWrite ? "emerg_wr available (VIRTIO_CONSOLE_F_EMERG_WRITE)" : "no"
          }`,
          `received:  ${bytesReceived} bytes through receiveq`,
          `sent:      ${bytesSent} bytes through transmitq`,
        ].join("\n"));
      },
    }],
    ["ports", {
      usage: "ports",
      help: "console ports (VIRTIO_CONSOLE_F_MULTIPORT): names, open state, bytes",
      run: () => {
        const driver = machine.console.driver;
        if (!driver) return Promise.resolve("no virtio-console driver is bound");
        const rows = driver.ports.map((p) => [
          String(p.id),
          p.name ?? "-",
          p.console ? "yes" : "no",
          p.hostOpen ? "open" : "closed",
          p.guestOpen ? "open" : "closed",
          String(p.stats.bytesReceived),
          String(p.stats.bytesSent),
        ]);
        const t = columns(
          ["port", "name", "console", "host", "guest", "received", "sent"],
          rows,
          consoleWidth(machine),
          { 5: "right", 6: "right" },
        );
        const how = driver.multiport
          ? `VIRTIO_CONSOLE_F_MULTIPORT negotiated: max_nr_ports ${driver.maxNrPorts}, ` +
            "ports announced on the control receiveq"
          : "VIRTIO_CONSOLE_F_MULTIPORT not negotiated: port 0 alone " +
            "(boot with --port NAME to add ports)";
        return Promise.resolve(`${t}\n${wrapProse(how, 2, consoleWidth(machine))}`);
      },
    }],
    ["port send", {
      usage: "port send PORT TEXT...",
      help: "open PORT (a name or number) and send TEXT and a newline to it",
      run: async (args) => {
        if (args.length < 2) throw new Error("usage: port send PORT TEXT...");
        const port = await ports.open(args[0]);
        const bytes = new TextEncoder().encode(`${args.slice(1).join(" ")}\n`);
        await port.write(bytes);
        return `sent ${bytes.length} bytes to ${portLabel(port)}`;
      },
    }],
    ["port recv", {
      usage: "port recv PORT [MS]",
      help:
        `what PORT received since the last recv (waits MS ms, default ${PORT_RECV_WAIT_MS}, for some)`,
      run: async (args) => {
        if (args.length < 1 || args.length > 2) throw new Error("usage: port recv PORT [MS]");
        const wait = args[1] === undefined ? PORT_RECV_WAIT_MS : parseMs(args[1]);
        const port = await ports.open(args[0]);
        const bytes = await ports.take(port, wait);
        if (bytes.length === 0) return `nothing from ${portLabel(port)} in ${wait} ms`;
        const body = new TextDecoder().decode(bytes);
        return `${bytes.length} bytes from ${portLabel(port)}:\n${
          body.endsWith("\n") ? body : `${body}\n`
        }`;
      },
    }],
    ["stats", {
      usage: "stats",
      help: "requests, bytes, notifications and interrupts per queue",
      run: () => {
        const rows = machine.traffic().map((r) => [
          `0x${(machine.devices().find((d) => d.node === r.node)?.base ?? 0).toString(16)}`,
          `${r.queue} ${r.role}`,
          String(r.requests),
          String(r.bytesRead),
          String(r.bytesWritten),
          String(r.notifications),
          String(r.interrupts),
        ]);
        const width = consoleWidth(machine);
        const numbers = { 2: "right", 3: "right", 4: "right", 5: "right", 6: "right" } as const;
        const long = ["window", "queue", "requests", "bytes in", "bytes out", "notifications"];
        let table = columns([...long, "interrupts"], rows, width, numbers);
        let legend = "(bytes in: read by the device from the driver's buffers; bytes out: " +
          "written by the device into them)";
        // A narrow console gets short titles, explained underneath.
        if (table.split("\n").some((line) => line.length > width)) {
          table = columns(
            ["window", "queue", "reqs", "in", "out", "notif", "irqs"],
            rows,
            width,
            numbers,
          );
          legend = "(reqs: requests; in: bytes the device read from the driver's buffers; out: " +
            "bytes it wrote into them; notif: driver notifications; irqs: interrupts)";
        }
        return Promise.resolve(`${table}\n${wrapProse(legend, 1, width)}`);
      },
    }],
    ["log", {
      usage: "log",
      help: "the conformance log: virtio rules either side broke",
      run: () =>
        Promise.resolve(
          machine.log.entries.length === 0
            ? "no violations: both sides followed the spec so far"
            : machine.log.entries.map(formatViolation).join("\n"),
        ),
    }],
    ["dt", {
      usage: "dt",
      help: "the device tree of the virtio-mmio windows (§4.2.1)",
      run: () => Promise.resolve(machine.dts()),
    }],
    ["exit", {
      usage: "exit",
      help: "power off the machine",
      run: () => Promise.resolve("exit"),
    }],
  ];
  const commands = new Map(list);
  function* commandsHelp(): Generator<[string, string]> {
    for (const [, c] of commands) yield [c.usage, c.help];
  }
  return commands;
}

/** `port N (name)` for messages. */
function portLabel(port: VirtioConsolePort): string {
  return `port ${port.id}${port.name ? ` (${port.name})` : ""}`;
}

function parseMs(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > 60_000) {
    throw new Error(`MS must be 0 to 60000, not '${text}'`);
  }
  return Number(text);
}

/**
 * The shell's side of the other console ports, like a program that opens
 * `/dev/vport0p1` and reads it: the first `port` command on a port opens it
 * (PORT_OPEN 1, so the device starts sending) and starts a reader that keeps
 * up to {@linkcode PORT_INBOX_BYTES} for `port recv`.
 */
class PortInboxes {
  readonly #inboxes = new Map<VirtioConsolePort["readable"], Uint8Array[]>();
  readonly #arrived = new Map<VirtioConsolePort["readable"], () => void>();
  readonly #readers = new Set<ReadableStreamDefaultReader<Uint8Array>>();
  #closed = false;

  constructor(readonly machine: LabMachine) {}

  /** Finds a port by name or number and opens it, once. */
  async open(which: string): Promise<VirtioConsolePort> {
    const driver = this.machine.console.driver;
    if (!driver) throw new Error("no virtio-console driver is bound");
    const port = /^[0-9]+$/.test(which) ? driver.port(Number(which)) : driver.port(which);
    if (!port) {
      const known = driver.ports.map((p) => p.name ?? String(p.id)).join(", ");
      throw new Error(`no console port '${which}' (ports: ${known || "none"})`);
    }
    if (port.id === 0) throw new Error("port 0 is this console: type at it instead");
    if (this.#closed) throw new Error("the shell is shutting down");
    if (!this.#inboxes.has(port.readable)) {
      this.#inboxes.set(port.readable, []);
      if (!port.guestOpen) await port.setOpen(true);
      void this.#pump(port);
    }
    return port;
  }

  /** The bytes received since the last take, waiting up to `ms` for the first. */
  async take(port: VirtioConsolePort, ms: number): Promise<Uint8Array> {
    const inbox = this.#inboxes.get(port.readable)!;
    if (inbox.length === 0 && ms > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#arrived.set(port.readable, resolve);
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.#arrived.delete(port.readable);
    }
    const chunks = inbox.splice(0);
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** The shell ends: stops reading every port (their streams end). */
  close(): void {
    this.#closed = true;
    for (const reader of this.#readers) reader.cancel().catch(() => {});
    this.#readers.clear();
  }

  async #pump(port: VirtioConsolePort): Promise<void> {
    const inbox = this.#inboxes.get(port.readable)!;
    const reader = port.readable.getReader();
    this.#readers.add(reader);
    try {
      for (;;) {
        // A full inbox stops reading: the port's stream fills, the driver
        // stops re-posting receive buffers, and the device stops reading
        // its backend.
        while (inbox.reduce((n, c) => n + c.length, 0) >= PORT_INBOX_BYTES) {
          if (this.#closed) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const { value, done } = await reader.read();
        if (done) return;
        inbox.push(value);
        this.#arrived.get(port.readable)?.();
      }
    } catch {
      // The port's queue broke or the machine went away; recv shows what came.
    } finally {
      this.#readers.delete(reader);
      reader.releaseLock();
    }
  }
}

function parseSector(text: string): bigint {
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) throw new Error(`'${text}' is not a sector number`);
  return BigInt(text);
}

/** A discard or zero range from the command line, checked against the capacity. */
function rangeArgs(capacity: bigint, first: string, many: string): [number, number] {
  const sector = parseSector(first);
  if (!/^[0-9]+$/.test(many) || BigInt(many) < 1n) {
    throw new Error(`N must be a positive number of sectors, not '${many}'`);
  }
  const count = BigInt(many);
  if (sector + count > capacity) {
    throw new Error(
      `sectors ${sector}..${sector + count - 1n} are past the end (capacity ${capacity})`,
    );
  }
  return [Number(sector), Number(count)];
}

/** The limits of a discard or write zeroes command, in one line. */
function discardLimits(
  limits:
    | { maxSectors: number; maxSegments: number; alignment?: number; mayUnmap?: boolean }
    | null,
  feature: string,
): string {
  if (limits === null) return `no (${feature} not negotiated)`;
  return `up to ${limits.maxSegments} segment(s), ${limits.maxSectors} sectors per request` +
    (limits.alignment !== undefined ? `, cut on ${limits.alignment} sector(s)` : "") +
    (limits.mayUnmap !== undefined ? (limits.mayUnmap ? ", may unmap" : ", writes zeroes") : "");
}

function parseCount(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > MAX_DUMP_SECTORS) {
    throw new Error(`COUNT must be 1 to ${MAX_DUMP_SECTORS}, not '${text}'`);
  }
  return Number(text);
}

/**
 * A size in bytes with a binary unit, such as `"64 MiB"` or `"1.5 KiB"`.
 *
 * @param bytes A byte count.
 */
export function formatSize(bytes: bigint | number): string {
  let value = Number(bytes);
  for (const unit of ["bytes", "KiB", "MiB", "GiB", "TiB"]) {
    if (value < 1024 || unit === "TiB") {
      return unit === "bytes"
        ? `${value} bytes`
        : `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
    value /= 1024;
  }
  return `${bytes} bytes`;
}
