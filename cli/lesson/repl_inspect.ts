/**
 * How values look in `lab repl`: byte arrays as hex dumps, the machine's
 * devices with their windows and interrupt lines in hex, a summary of which
 * parts the machine runs (reference or the learner's), and numbers in hex on
 * request. Everything here returns text; the REPL shows it through
 * `Symbol.for("Deno.customInspect")`, so a value typed at the prompt prints
 * as the text and nothing else (no trailing `undefined`).
 *
 * @module
 */

import { hexAddress, hexDump } from "../../memory/guest_memory.ts";
import { type MachineParts, type PartInfo, PARTS, replacedParts } from "../../parts.ts";
import type { LabMachine, MachineDevice } from "../../machine.ts";
import type { VirtioDriver } from "../../virtio/driver.ts";
import { formatStatus } from "../../virtio/status.ts";

const INSPECT = Symbol.for("Deno.customInspect");

/** Bytes of a byte array the REPL shows before saying how many more there are. */
export const REPL_DUMP_BYTES = 256;

/**
 * A byte array as the REPL shows it: its type and length, then a hex dump
 * (`hexdump -C` style) of at most {@linkcode REPL_DUMP_BYTES} bytes.
 *
 * @param bytes The bytes (any `Uint8Array`, including a view into guest RAM).
 * @param max Bytes to dump at most.
 * @returns Lines joined with `\n`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./repl_inspect.ts";
 * const text = formatBytes(new TextEncoder().encode("virt"));
 * assert.match(text, /^Uint8Array\(4\)\n00000000  76 69 72 74 +\|virt\|\n00000004$/);
 * assert.match(formatBytes(new Uint8Array(512)), /\n\.\.\. 256 more bytes/);
 * ```
 */
export function formatBytes(bytes: Uint8Array, max: number = REPL_DUMP_BYTES): string {
  const head = `${bytes.constructor.name}(${bytes.length})`;
  if (bytes.length === 0) return `${head} []`;
  const shown = bytes.subarray(0, Math.min(bytes.length, max));
  const more = bytes.length - shown.length;
  return `${head}\n${hexDump(shown)}` +
    (more > 0 ? `\n... ${more} more bytes (.subarray(${max}) shows the rest)` : "");
}

/**
 * Makes every `Uint8Array` in this process print as {@linkcode formatBytes}
 * does (a non-enumerable method on `Uint8Array.prototype`; only the REPL
 * calls this).
 *
 * @returns A function that puts the default display back.
 */
export function showByteArraysAsHexDumps(): () => void {
  const previous = Object.getOwnPropertyDescriptor(Uint8Array.prototype, INSPECT);
  Object.defineProperty(Uint8Array.prototype, INSPECT, {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function (this: Uint8Array): string {
      return formatBytes(this);
    },
  });
  return () => {
    if (previous) Object.defineProperty(Uint8Array.prototype, INSPECT, previous);
    else delete (Uint8Array.prototype as unknown as Record<symbol, unknown>)[INSPECT];
  };
}

/**
 * A number as hex, the way registers and addresses are written: `0x` and
 * `width` digits at least (bigints too, e.g. feature words).
 *
 * @param value A non-negative integer.
 * @param width Minimum digits (default 8, a 32-bit register).
 * @throws {RangeError} If `value` is negative or not an integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hex } from "./repl_inspect.ts";
 * assert.equal(hex(0x74726976), "0x74726976");
 * assert.equal(hex(0x1e000, 5), "0x1e000");
 * assert.equal(hex(1n << 32n, 16), "0x0000000100000000");
 * ```
 */
export function hex(value: number | bigint, width = 8): string {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new RangeError(`hex() needs an integer, got ${value}`);
  }
  if (value < 0) throw new RangeError(`hex() needs a non-negative integer, got ${value}`);
  return `0x${value.toString(16).padStart(width, "0")}`;
}

/**
 * One machine device as the REPL shows it: window and interrupt line in hex,
 * the device status, the driver and its queues, and where the registers are.
 *
 * @param name What the REPL calls it, e.g. `"machine.blk"`.
 * @param device The device.
 */
export function formatMachineDevice<D extends VirtioDriver>(
  name: string,
  device: MachineDevice<D>,
): string {
  const w = device.window;
  const status = device.transport.inspect().status;
  const lines = [
    `${name}: ${w.name} window [${hexAddress(w.base)}, ${
      hexAddress(w.base + w.size)
    }) irq ${w.irq}`,
    `  status    0x${status.toString(16).padStart(2, "0")} ${formatStatus(status)}`,
    device.driver
      ? `  driver    ${device.driver.name}`
      : `  driver    none${device.error ? ` (${device.error})` : ""}`,
    `  registers ${name}.transport.inspect()   device model ${name}.device`,
  ];
  return lines.join("\n");
}

/**
 * Gives the machine's two devices their REPL display
 * ({@linkcode formatMachineDevice}), as non-enumerable methods.
 *
 * @param machine The REPL's machine.
 * @param name What the REPL calls the machine (default `"machine"`).
 */
export function describeMachineDevices(machine: LabMachine, name = "machine"): void {
  for (const key of ["blk", "console"] as const) {
    const device = machine[key] as MachineDevice<VirtioDriver>;
    if (Object.isFrozen(device)) continue;
    Object.defineProperty(device, INSPECT, {
      configurable: true,
      value: () => formatMachineDevice(`${name}.${key}`, device),
    });
  }
}

/** The registry grouped as `layer.side` → its parts, in registry order. */
function groups(): Map<string, PartInfo[]> {
  const out = new Map<string, PartInfo[]>();
  for (const p of PARTS) {
    const group = `${p.layer}.${p.side}`;
    out.set(group, [...(out.get(group) ?? []), p]);
  }
  return out;
}

/**
 * A readable summary of the parts a machine runs: for each layer and side,
 * how many parts it has and which are replaced, then which exports of the
 * learner's exercise are parts (what `lab boot --mine` would swap in).
 *
 * @param parts The machine's replacements (`machine.parts`).
 * @param exerciseExports Names the learner's exercise exports.
 * @returns Lines joined with `\n`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatParts } from "./repl_inspect.ts";
 * const text = formatParts({}, ["probeWindow", "helper"]);
 * assert.match(text, /^transport\.driver +\d+ parts, all reference$/m);
 * assert.match(text, /^ {2}probeWindow → transport\.driver\.probeWindow$/m);
 * ```
 */
export function formatParts(parts: MachineParts, exerciseExports: readonly string[]): string {
  const replaced = new Set<string>(replacedParts(parts));
  const lines = [
    `Parts of this machine: ${PARTS.length}, ${
      replaced.size === 0 ? "all the reference implementation" : `${replaced.size} replaced`
    }`,
  ];
  const width = Math.max(...[...groups().keys()].map((g) => g.length));
  for (const [group, list] of groups()) {
    const mine = list.filter((p) => replaced.has(p.key));
    lines.push(
      `${group.padEnd(width)}  ${String(list.length).padStart(2)} parts, ` +
        (mine.length === 0 ? "all reference" : `replaced: ${mine.map((p) => p.name).join(", ")}`),
    );
  }
  const names = new Set(exerciseExports);
  const yours = PARTS.filter((p) => names.has(p.name));
  if (yours.length === 0) lines.push("Yours in ex: no part yet");
  else {
    lines.push("Yours in ex (lab boot --mine runs the machine on them):");
    for (const p of yours) lines.push(`  ${p.name} → ${p.key}`);
  }
  return lines.join("\n");
}

/**
 * Wraps text so that the REPL prints it as is when it is the value of an
 * expression (for `lab.hint()`, `lab.help()`, `lab.parts()`).
 *
 * @param text What to show.
 * @returns An object whose display is `text` and whose `toString()` is `text`.
 */
export function shown(text: string): { readonly text: string } {
  const value = { text, toString: () => text };
  Object.defineProperty(value, INSPECT, { value: () => text });
  Object.defineProperty(value, "toString", { enumerable: false });
  return value;
}
