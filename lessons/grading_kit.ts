/**
 * Shared tools of the lesson graders (this file is not a lesson): register
 * windows that record a driver's accesses or answer from a script, learner
 * parts guarded so that their errors reach the learner when they run inside
 * the lab machine, and the "your code runs the real machine" check.
 *
 * Graders import it by relative path (`../grading_kit.ts`); it is course
 * code, so it may use everything the library offers.
 *
 * @module
 */

import { fail, isNotWrittenYet } from "../course/grader.ts";
import { findRegister, hex3 } from "../transport/mmio_registers.ts";
import type { AccessWidth } from "../virtio/device.ts";
import type { MmioRegion, RegisterWindow } from "../transport/types.ts";
import type { ConformanceLog, Violation } from "../conformance/log.ts";
import { createMachine, EMPTY_WINDOW, type LabMachine, type MachineOptions } from "../machine.ts";

/** One register access a driver made through a window. */
export interface Access {
  /** Read or write. */
  readonly kind: "read" | "write";
  /** Offset from the window base, in bytes. */
  readonly offset: number;
  /** Width in bytes. */
  readonly width: AccessWidth;
  /** The value read or written (unsigned); 0 for a read that threw. */
  readonly value: number;
  /** The access threw (a strict log refused it). */
  readonly threw?: boolean;
}

/** Default number of accesses a window allows before it calls the driver stuck. */
export const ACCESS_BUDGET = 100_000;

/** Thrown by a window whose access budget ran out: the driver is looping. */
export class RunawayDriverError extends Error {
  /**
   * @param budget The number of accesses allowed.
   * @param last The last access made.
   */
  constructor(budget: number, last: Access | undefined) {
    super(
      `Your code made more than ${budget.toLocaleString("en")} register accesses` +
        (last ? ` (the last: ${describeAccess(last)})` : "") +
        ": it looks like a loop that never ends",
    );
    this.name = "RunawayDriverError";
  }
}

/** The register at an offset, by name, as the spec's table names it (`Status (0x070)`). */
export function registerAt(offset: number): string {
  if (offset >= 0x100) return `configuration space (${hex3(offset)})`;
  const aligned = offset - (offset % 4);
  const reg = findRegister(aligned, 2) ?? findRegister(aligned, 1);
  if (!reg) return `offset ${hex3(offset)} (no register)`;
  return aligned === offset
    ? `${reg.name} (${hex3(offset)})`
    : `${hex3(offset)} (inside ${reg.name})`;
}

/** `0x0000000b` */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}

/** Such as `"32-bit read of Status (0x070) -> 0x0000000b"`. */
export function describeAccess(a: Access): string {
  const result = a.threw ? "(refused: it threw)" : `-> ${hex32(a.value)}`;
  return a.kind === "read"
    ? `${a.width * 8}-bit read of ${registerAt(a.offset)} ${result}`
    : `${a.width * 8}-bit write of ${hex32(a.value)} to ${registerAt(a.offset)}${
      a.threw ? " (refused: it threw)" : ""
    }`;
}

/** A numbered list of accesses on one line, shortened after `limit`. */
export function describeAccesses(accesses: readonly Access[], limit = 10): string {
  if (accesses.length === 0) return "no register accesses";
  const shown = accesses.slice(0, limit).map((a, i) => `${i + 1}. ${describeAccess(a)}`);
  if (accesses.length > limit) shown.push(`... ${accesses.length - limit} more`);
  return shown.join("; ");
}

/**
 * Wraps a window so that every access is recorded, and stops a driver that
 * makes more than `budget` accesses (a polling loop that never ends).
 *
 * @param inner The window to wrap.
 * @param budget How many accesses to allow.
 */
export function recordingWindow(
  inner: RegisterWindow,
  budget: number = ACCESS_BUDGET,
): { window: RegisterWindow; accesses: Access[] } {
  const accesses: Access[] = [];
  const note = (kind: Access["kind"], offset: number, width: AccessWidth, value: number) => {
    if (accesses.length >= budget) throw new RunawayDriverError(budget, accesses.at(-1));
    const entry = { kind, offset, width, value: value >>> 0, threw: true };
    accesses.push(entry);
    return entry;
  };
  const read = (width: AccessWidth, fn: (o: number) => number) => (offset: number) => {
    const entry = note("read", offset, width, 0);
    const value = fn(offset);
    entry.value = value >>> 0;
    entry.threw = false;
    return value;
  };
  const write = (width: AccessWidth, fn: (o: number, v: number) => void) =>
  (
    offset: number,
    value: number,
  ) => {
    const entry = note("write", offset, width, value);
    fn(offset, value);
    entry.threw = false;
  };
  const window: RegisterWindow = {
    base: inner.base,
    size: inner.size,
    read32: read(4, (o) => inner.read32(o)),
    read16: read(2, (o) => inner.read16(o)),
    read8: read(1, (o) => inner.read8(o)),
    write32: write(4, (o, v) => inner.write32(o, v)),
    write16: write(2, (o, v) => inner.write16(o, v)),
    write8: write(1, (o, v) => inner.write8(o, v)),
  };
  return { window, accesses };
}

/**
 * A driver's view of a register file with no bus in between.
 *
 * @param region The register file (a device transport, an empty slot, a script).
 * @param base The base address the window reports.
 */
export function windowOf(region: MmioRegion, base = 0): RegisterWindow {
  return {
    base,
    size: region.size,
    read32: (o) => region.read(o, 4),
    read16: (o) => region.read(o, 2),
    read8: (o) => region.read(o, 1),
    write32: (o, v) => region.write(o, 4, v >>> 0),
    write16: (o, v) => region.write(o, 2, v & 0xffff),
    write8: (o, v) => region.write(o, 1, v & 0xff),
  };
}

/**
 * A register file answering from functions: the fake devices of the graders.
 *
 * @param read Answers a read (any width).
 * @param write Takes a write (any width); ignored when absent.
 */
export function scriptedRegion(
  read: (offset: number, width: AccessWidth) => number,
  write: (offset: number, width: AccessWidth, value: number) => void = () => {},
): MmioRegion {
  return { size: 0x200, read, write };
}

// ---------------------------------------------------------------------------
// The learner's parts inside the lab machine

/** The learner's parts, wrapped so their own errors are not lost inside the machine. */
export interface GuardedParts<T> {
  /** The wrapped parts, to pass to `createMachine`. */
  readonly parts: T;
  /** Throws the first error the learner's code threw (a `todo()`, a `TypeError`...), if any. */
  rethrow(): void;
}

/**
 * Wraps learner functions for use inside the lab machine. The machine records
 * a failing bring-up as a device error instead of throwing, so a stub's
 * `todo()` or a `TypeError` would otherwise only show up as "the device did
 * not come up". Conformance errors (strict logs) are left to the log.
 * Windows passed as the first argument get an access budget, so a loop that
 * never ends fails the check instead of the whole run.
 *
 * @param parts Functions by name.
 */
export function guardParts<T extends object>(parts: T): GuardedParts<T> {
  let first: { error: unknown } | null = null;
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(parts)) {
    if (typeof fn !== "function") continue;
    wrapped[name] = (...args: unknown[]) => {
      if (isWindow(args[0])) args[0] = recordingWindow(args[0]).window;
      try {
        return fn(...args);
      } catch (error) {
        const name = error instanceof Error ? error.name : "";
        if (first === null && name !== "ConformanceError") first = { error };
        throw error;
      }
    };
  }
  return {
    parts: wrapped as T,
    rethrow() {
      if (first) throw first.error;
    },
  };
}

function isWindow(value: unknown): value is RegisterWindow {
  return typeof value === "object" && value !== null &&
    typeof (value as RegisterWindow).read32 === "function";
}

/** One line for a violation: `§4.2.2.2/2 (driver) at virtio-blk@0x1e000: 16-bit read ...`. */
export function describeViolation(v: Violation): string {
  const message = v.message.length > 240 ? `${v.message.slice(0, 237)}...` : v.message;
  return `§${v.id} (broken by the ${v.role}) at ${v.source || "the machine"}: ${message}`;
}

/**
 * Fails when the log recorded anything, citing the first violation's rule.
 *
 * @param log The conformance log.
 * @param during What was being done, e.g. `"the bring-up of the lab machine"`.
 * @param expected What the spec requires, in words.
 */
export function failOnViolations(log: ConformanceLog, during: string, expected: string): void {
  const first = log.entries[0];
  if (!first) return;
  fail({
    observed: `during ${during}, the conformance log recorded ${log.entries.length} ` +
      `violation(s); the first: ${describeViolation(first)}`,
    expected,
    requirement: first.id,
  });
}

/** What {@linkcode bootWithLearnerParts} takes. */
export interface LearnerMachineOptions extends Omit<MachineOptions, "parts"> {
  /** The learner's device-side parts. */
  readonly device?: Record<string, unknown>;
  /** The learner's driver-side parts. */
  readonly driver?: Record<string, unknown>;
}

/**
 * Builds the lab machine with the learner's parts in place of the reference
 * ones. If the learner's code threw while the machine came up (a stub's
 * `todo()`, a `TypeError`), the machine is closed and that error is thrown,
 * so the grader explains it. With `strict`, the log throws during the
 * bring-up only; afterwards it records (check it with `failOnViolations`).
 *
 * @param options Machine options plus the learner's device and driver parts.
 * @returns The running machine: close it when done.
 */
export async function bootWithLearnerParts(options: LearnerMachineOptions): Promise<LabMachine> {
  const { device, driver, ...rest } = options;
  const d = guardParts(device ?? {});
  const r = guardParts(driver ?? {});
  const machine = await createMachine({
    ...rest,
    parts: { transport: { device: d.parts, driver: r.parts } },
  });
  // Strictness is for the bring-up: from here on the grader inspects the
  // machine (which may probe a window again), and reads the log for anything
  // broken later instead of letting it throw out of the middle of a check.
  machine.log.strict = false;
  try {
    d.rethrow();
    r.rethrow();
  } catch (error) {
    await machine.close();
    throw error;
  }
  return machine;
}

/**
 * Runs `fn` on a machine and closes the machine afterwards, whatever happens.
 *
 * @param machine The machine.
 * @param fn What to do with it.
 */
export async function withMachine<T>(
  machine: LabMachine,
  fn: (m: LabMachine) => Promise<T> | T,
): Promise<T> {
  try {
    return await fn(machine);
  } finally {
    await machine.close();
  }
}

/** The start of sector 2 of the built-in disk. */
export const GREETING = "Hello from sector 2!";

/**
 * Checks that a machine came up like the reference one: both devices live
 * with a driver bound, the empty slot skipped, and sector 2 of the disk
 * readable through the whole stack (driver, virtqueue, MMIO, device, backend).
 *
 * @param machine The machine.
 * @param expected What the spec requires, for the failure message.
 * @returns The text read from sector 2.
 */
export async function expectMachineRuns(machine: LabMachine, expected: string): Promise<string> {
  for (const d of machine.devices()) {
    const isEmptySlot = d.base === EMPTY_WINDOW.base;
    if (isEmptySlot ? d.state === "empty" : d.state === "live") continue;
    const at = `0x${d.base.toString(16)}`;
    const violation = machine.log.entries.find((v) => v.source.includes(at));
    fail({
      observed:
        `the guest found ${d.node} ${
          d.type === "rejected" ? "rejected" : `${d.type}, ${d.state}`
        }` + (d.error ? ` (${d.error})` : "") +
        (d.status ? `; its status reads ${d.status}` : "") +
        (violation ? `; the first rule broken there: ${describeViolation(violation)}` : ""),
      expected: isEmptySlot
        ? `${expected}; the empty slot at ${at} is skipped silently`
        : `${expected}; ${d.node} is brought up and its driver bound (state "live")`,
      requirement: violation?.id,
    });
  }
  const blk = machine.blk.driver;
  if (!blk) {
    fail({
      observed: `the virtio-blk driver is not bound: ${machine.blk.error || "no reason given"}`,
      expected,
    });
  }
  const bytes = await blk.read(2, 1);
  const text = new TextDecoder().decode(bytes).replace(/\0+$/, "");
  if (!text.startsWith(GREETING)) {
    fail({
      observed: `sector 2 of the built-in disk read as ${JSON.stringify(text.slice(0, 60))}`,
      expected: `${expected}; sector 2 starts with ${JSON.stringify(GREETING)}`,
    });
  }
  return text;
}

/**
 * Calls `fn` and, when it throws a conformance error from a strict log,
 * turns it into a failure citing the violated rule; other errors pass through.
 *
 * @param fn The code to run (usually the learner's, on a strict window).
 * @param doing What the code was doing, e.g. `"beginInitialization(window)"`.
 * @param expected What the spec requires, in words.
 * @param note An extra line for some violations (e.g. the real bug behind them).
 */
export async function citingViolations<T>(
  fn: () => T | Promise<T>,
  doing: string,
  expected: string,
  note?: (violation: Violation) => string | undefined,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isNotWrittenYet(error)) throw error;
    const violation = (error as { violation?: Violation }).violation;
    if (error instanceof Error && error.name === "ConformanceError" && violation) {
      fail({
        observed: `during ${doing}, the device reported ${describeViolation(violation)}`,
        expected,
        requirement: violation.id,
        note: note?.(violation),
      });
    }
    throw error;
  }
}
