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
import { hexDump } from "../memory/guest_memory.ts";
import { formatViolation } from "../conformance/log.ts";
import type { LabMachine } from "../machine.ts";
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
}

/** How the shell ended. */
export type ShellExit = "exit" | "eof";

/** Most sectors `disk read` dumps at once. */
export const MAX_DUMP_SECTORS = 64;

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
  const commands = shellCommands(machine);
  await out(banner(machine, options.diskLabel, options.partsNote));
  await out(prompt);
  const tty = new LineDiscipline();
  const reader = console.input.getReader();
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
    }
  } finally {
    reader.releaseLock();
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

function banner(machine: LabMachine, diskLabel?: string, partsNote?: string): string {
  const lines = [
    "",
    "virtio-lab guest: booted on a virtio-mmio machine",
    "",
  ];
  for (const d of machine.devices()) {
    const what = d.deviceId === 2 && diskLabel ? `${d.type} (${diskLabel})` : d.type;
    const note = d.deviceId === 3 ? " <- this console" : "";
    lines.push(
      `  ${d.node.padEnd(22)} irq ${String(d.irq).padEnd(3)} ${what.padEnd(30)} ${d.state}${note}`,
    );
  }
  if (partsNote) lines.push("", ...partsNote.split("\n"));
  lines.push("", "Type 'help' for commands, 'exit' to power off.", "");
  return lines.join("\n");
}

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [], compact: true } });
}

/** The shell's commands, by name. */
function shellCommands(machine: LabMachine): Map<string, Command> {
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
          [...commandsHelp()].map(([usage, help]) => `  ${usage.padEnd(26)} ${help}`).join("\n"),
        ),
    }],
    ["devices", {
      usage: "devices",
      help: "virtio-mmio windows, device ids, negotiated features, queues",
      run: () => {
        const t = table(["window", "irq", "device", "driver", "status", "queues"]);
        const features: string[] = [];
        for (const d of machine.devices()) {
          t.push([
            d.node,
            String(d.irq),
            d.deviceId ? `${d.deviceId} ${d.type}` : "0 (empty slot)",
            d.driver || "-",
            d.status || d.state,
            d.queues.map((q) => `${q.index}:${q.size}`).join(" ") || "-",
          ]);
          if (d.features.length) features.push(`  ${d.node}: ${d.features.join(" ")}`);
        }
        return Promise.resolve(`${t.toString()}\nnegotiated features:\n${features.join("\n")}`);
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
    ["stats", {
      usage: "stats",
      help: "requests, bytes, notifications and interrupts per queue",
      run: () => {
        const t = table([
          "device",
          "queue",
          "requests",
          "bytes in",
          "bytes out",
          "notifications",
          "interrupts",
        ]);
        for (const r of machine.traffic()) {
          t.push([
            r.node,
            `${r.queue} ${r.role}`,
            String(r.requests),
            String(r.bytesRead),
            String(r.bytesWritten),
            String(r.notifications),
            String(r.interrupts),
          ]);
        }
        return Promise.resolve(
          `${t.toString()}\n(bytes in: read by the device from the driver's buffers; ` +
            "bytes out: written by the device into them)",
        );
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
